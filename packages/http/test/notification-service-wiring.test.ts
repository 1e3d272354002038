import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import {
  createAutomationEngine,
  createManualClock,
  createMemoryIdempotencyStore,
  createMemoryStore,
  createRecordingChannel,
  GatewayError,
  type RecordingChannel,
} from '@crm-automation/core';
import { createHttpChannels } from '@crm-automation/channels';
import { describeChannelContract, doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { buildNotificationApp } from '@crm-automation/http';

const TOKEN = 'svc-token-0123456789abcdef';

/** A Notification Service listening on loopback, sending through recording channels. */
async function startNotificationService(): Promise<{ app: FastifyInstance; url: string; sms: RecordingChannel; email: RecordingChannel; webhook: RecordingChannel }> {
  const sms = createRecordingChannel({ respond: (_c, n) => ({ provider: 'twilio', id: `SM${n}` }) });
  const email = createRecordingChannel();
  const webhook = createRecordingChannel();
  const app = await buildNotificationApp({ channels: { sms, email, webhook }, idempotency: createMemoryIdempotencyStore(), auth: { tokens: [TOKEN] } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, sms, email, webhook };
}

// Every gateway passes the channel contract; here the whole path does: createHttpChannels → HTTP →
// Fastify routes → withIdempotency → a gateway, with failures classified back across the wire.
describeChannelContract('http channels → Notification Service (Fastify, over loopback)', async () => {
  const service = await startNotificationService();
  return {
    gateway: createHttpChannels({ baseUrl: service.url, token: TOKEN })['sms'] ?? service.sms,
    receiver: {
      deliveries: () => service.sms.sent.map((c) => ({ recipient: c.params['recipient'] as string, idempotencyKey: c.metadata.idempotencyKey })),
      failNextTransient: (seconds?: number) =>
        service.sms.failNext(new GatewayError('twilio answered 429', { provider: 'twilio', status: 429, retryable: true, ...(seconds === undefined ? {} : { retryAfterMs: seconds * 1000 }) })),
      failNextPermanent: () => service.sms.failNext(new GatewayError("twilio answered 400: Invalid 'To' Phone Number", { provider: 'twilio', status: 400, providerCode: 21211 })),
    },
    command: { type: 'sms', params: { recipient: '+15557654321', message: 'Your technician is on the way.' } },
    invalidParams: [{ recipient: '555-1234', message: 'x' }, { recipient: '+15557654321', message: '' }],
    close: () => service.app.close(),
  };
});

// The design doc's first rule, with a Trigger Service (an engine whose channels are HTTP) and a
// Notification Service (these routes) as separate parts talking over loopback.
describe('Trigger Service → Notification Service over HTTP', () => {
  let service: Awaited<ReturnType<typeof startNotificationService>>;
  beforeEach(async () => {
    service = await startNotificationService();
  });
  afterEach(() => service.app.close());

  const triggerService = () => {
    const clock = createManualClock('2025-07-06T21:42:00.000Z');
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: createHttpChannels({ baseUrl: service.url, token: TOKEN }) });
    return { clock, engine };
  };

  it('delivers the rendered command with its metadata once, and records the provider result', async () => {
    const { clock, engine } = triggerService();
    const rule = await engine.rules.create('acc_12345', technicianSmsRule);
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_12345', payload: doneJobPayload });
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });

    expect(service.sms.sent).toHaveLength(1);
    expect(service.sms.sent[0]?.params).toEqual({ recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' });
    const [delivery] = await engine.deliveries.ofTrigger('acc_12345', trigger?.id ?? '');
    // The ledger's id travels with the command, so the provider's receipts can name it.
    expect(service.sms.sent[0]?.metadata).toEqual({ source: 'automation-engine', ruleId: rule.id, triggerId: trigger?.id, accountId: 'acc_12345', actionIndex: 0, idempotencyKey: `${trigger?.id}:0`, deliveryId: delivery?.id });
    // The provider that took it is the service's (twilio), not the service itself.
    expect(delivery).toMatchObject({ state: 'accepted', provider: 'twilio', providerId: 'SM1' });
    const stored = await engine.triggers.get('acc_12345', trigger?.id ?? '');
    expect(stored?.status).toBe('completed');
    expect(stored?.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'sent', result: { provider: 'twilio', id: 'SM1' } });
  });

  it('a provider rate limit comes back as a retry no sooner than its Retry-After; the retry sends once', async () => {
    const { clock, engine } = triggerService();
    await engine.rules.create('acc_12345', technicianSmsRule);
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_12345', payload: doneJobPayload });
    await clock.advance(5 * 60_000);
    service.sms.failNext(new GatewayError('twilio answered 429', { provider: 'twilio', status: 429, providerCode: 20429, retryable: true, retryAfterMs: 120_000 }));
    expect(await engine.runDue()).toMatchObject({ claimed: 1 });
    const retrying = await engine.triggers.get('acc_12345', trigger?.id ?? '');
    expect(retrying?.status).toBe('retrying');
    expect((retrying?.evaluateAt.getTime() ?? 0) - clock.now().getTime()).toBeGreaterThanOrEqual(120_000);
    expect(retrying?.executionHistory.at(-1)?.actions?.[0]?.error).toMatchObject({ retryable: true, status: 503, retryAfterMs: 120_000 });

    await clock.advance(120_000);
    await engine.runDue();
    expect((await engine.triggers.get('acc_12345', trigger?.id ?? ''))?.status).toBe('completed');
    expect(service.sms.sent).toHaveLength(1);
  });

  it('an invalid number fails the trigger permanently with the provider code', async () => {
    const { clock, engine } = triggerService();
    await engine.rules.create('acc_12345', technicianSmsRule);
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_12345', payload: doneJobPayload });
    await clock.advance(5 * 60_000);
    service.sms.failNext(new GatewayError("twilio answered 400: Invalid 'To' Phone Number (code 21211)", { provider: 'twilio', status: 400, providerCode: 21211 }));
    await engine.runDue();
    const failed = await engine.triggers.get('acc_12345', trigger?.id ?? '');
    expect(failed?.status).toBe('failed');
    expect(failed?.executionHistory.at(-1)?.actions?.[0]?.error).toMatchObject({ retryable: false, status: 422, providerCode: 21211 });
  });
});
