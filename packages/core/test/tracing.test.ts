import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
  withTracing,
  type Span,
  type TraceCarrier,
  type Tracer,
} from '@crm-automation/core';
import { highValueJobPayload, highValueJobRule } from '@crm-automation/testing';

interface Recorded { name: string; traceId: string; spanId: string; parentId: string | undefined; kind: string; attributes: Record<string, unknown>; ended: boolean }

/** A tracer that records spans and propagates W3C traceparent headers, like OpenTelemetry would. */
function recordingTracer(): Tracer & { spans: Recorded[] } {
  const spans: Recorded[] = [];
  return {
    spans,
    startSpan(name, options = {}) {
      let traceId = randomBytes(16).toString('hex');
      let parentId: string | undefined;
      const parent = options.parent;
      if (parent && 'carrier' in parent) {
        const [, t, s] = ((parent as Span).carrier()['traceparent'] ?? '').split('-');
        if (t && s) { traceId = t; parentId = s; }
      } else if (parent) {
        const [, t, s] = ((parent as TraceCarrier)['traceparent'] ?? '').split('-');
        if (t && s) { traceId = t; parentId = s; }
      }
      const record: Recorded = { name, traceId, spanId: randomBytes(8).toString('hex'), parentId, kind: options.kind ?? 'internal', attributes: { ...options.attributes }, ended: false };
      spans.push(record);
      return {
        setAttributes: (a) => Object.assign(record.attributes, a),
        recordError: () => { record.attributes['error'] = true; },
        end: () => { record.ended = true; },
        carrier: () => ({ traceparent: `00-${record.traceId}-${record.spanId}-01` }),
      };
    },
  };
}

describe('tracing', () => {
  it('one trace from publish through intake, processing and every gateway call, parented in order', async () => {
    const tracer = recordingTracer();
    const clock = createManualClock(0);
    const email = createRecordingChannel();
    const webhook = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, tracer, channels: { email: withTracing(email, tracer, 'sendgrid'), webhook } });
    await engine.rules.create('acc_1', highValueJobRule);
    await engine.publish({ name: 'job.created', accountId: 'acc_1', payload: highValueJobPayload(2500, 'Commercial') });
    await engine.runDue();

    const byName = (n: string) => tracer.spans.filter((s) => s.name === n);
    const [publish] = byName('crm.event.publish');
    const [intake] = byName('crm.intake');
    const [process] = byName('crm.trigger.process');
    const sends = byName('crm.action.send');
    const [provider] = byName('crm.gateway.sendgrid');
    expect(new Set(tracer.spans.map((s) => s.traceId)).size).toBe(1);
    expect(intake?.parentId).toBe(publish?.spanId);
    expect(process?.parentId).toBe(intake?.spanId);
    expect(sends.map((s) => s.parentId)).toEqual([process?.spanId, process?.spanId]);
    expect(provider?.parentId).toBe(sends[0]?.spanId);
    expect(tracer.spans.every((s) => s.ended)).toBe(true);
    expect(process?.attributes).toMatchObject({ 'crm.status': 'completed', 'crm.account_id': 'acc_1' });
    // Gateways receive the context of their send span, to forward as HTTP headers.
    expect(webhook.sent[0]?.trace?.['traceparent']).toContain(sends[1]?.spanId);
  });

  it('costs nothing visible when off: no trace fields on triggers or commands', async () => {
    const clock = createManualClock(0);
    const email = createRecordingChannel();
    const webhook = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { email, webhook } });
    await engine.rules.create('acc_1', highValueJobRule);
    const [trigger] = await engine.ingest({ name: 'job.created', accountId: 'acc_1', payload: highValueJobPayload(2500, 'Commercial') });
    await engine.runDue();
    expect(trigger && 'trace' in trigger).toBe(false);
    expect('trace' in (email.sent[0] ?? {})).toBe(false);
  });
});
