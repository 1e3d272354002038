import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createMemoryIdempotencyStore, createRecordingChannel, withTracing, type ActionCommand, type StartSpanOptions, type Tracer } from '@crm-automation/core';
import { buildNotificationApp } from '@crm-automation/http';

const TOKEN = 'svc-token-0123456789abcdef';
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const body = {
  recipient: '+15557654321',
  message: 'hi',
  metadata: { source: 'automation-engine', ruleId: 'rule_1', triggerId: 'trg_1', accountId: 'acc_1' },
};

/** A tracer that records what each span was parented on. */
function recordingTracer(): Tracer & { started: Array<{ name: string; options: StartSpanOptions | undefined }> } {
  const started: Array<{ name: string; options: StartSpanOptions | undefined }> = [];
  return {
    started,
    startSpan(name, options) {
      started.push({ name, options });
      return { setAttributes() {}, recordError() {}, end() {}, carrier: () => ({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01' }) };
    },
  };
}

describe('Notification Service routes: trace context', () => {
  let app: FastifyInstance | undefined;
  afterEach(() => app?.close());

  const post = (headers: Record<string, string>) =>
    (app as FastifyInstance).inject({ method: 'POST', url: '/api/v1/sms', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers }, payload: JSON.stringify(body) });

  it('hands the gateway the traceparent / tracestate the request carried', async () => {
    const sms = createRecordingChannel();
    app = await buildNotificationApp({ channels: { sms }, idempotency: createMemoryIdempotencyStore(), auth: { tokens: [TOKEN] } });
    expect((await post({ traceparent, tracestate: 'crm=1' })).statusCode).toBe(200);
    expect((sms.sent[0] as ActionCommand).trace).toEqual({ traceparent, tracestate: 'crm=1' });
  });

  it('adds no trace to a command whose request carried none, or an oversized one', async () => {
    const sms = createRecordingChannel();
    app = await buildNotificationApp({ channels: { sms }, idempotency: createMemoryIdempotencyStore(), auth: { tokens: [TOKEN] } });
    await post({});
    await post({ traceparent: 'x'.repeat(500), 'idempotency-key': 'other' });
    expect(sms.sent).toHaveLength(2);
    for (const command of sms.sent as ActionCommand[]) expect('trace' in command).toBe(false);
  });

  it('lets a gateway wrapped with withTracing parent its span on the caller', async () => {
    const tracer = recordingTracer();
    const sms = createRecordingChannel();
    app = await buildNotificationApp({ channels: { sms: withTracing(sms, tracer, 'twilio') }, idempotency: createMemoryIdempotencyStore(), auth: { tokens: [TOKEN] } });
    await post({ traceparent });
    expect(tracer.started.map((s) => [s.name, s.options?.parent, s.options?.kind])).toEqual([['crm.gateway.twilio', { traceparent }, 'client']]);
  });
});
