import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFailoverGateway, createTwilioSms } from '@crm-automation/channels';
import type { ActionCommand, ChannelGateway } from '@crm-automation/core';
import { commandOf } from './support/commands.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from './support/fake-twilio.js';
import { failure } from './support/webhook-command.js';

const sms = (metadata: Partial<ActionCommand['metadata']> = {}) => {
  const command = commandOf('sms', { recipient: '+15557654321', message: 'Job J-5541 is done.' });
  return { ...command, metadata: { ...command.metadata, ...metadata } };
};

describe('createFailoverGateway in front of two Twilio accounts', () => {
  let main: FakeTwilio;
  let backup: FakeTwilio;
  beforeEach(async () => {
    [main, backup] = await Promise.all([startFakeTwilio(), startFakeTwilio()]);
  });
  afterEach(async () => {
    expect([...main.violations, ...backup.violations]).toEqual([]);
    await Promise.all([main.close(), backup.close()]);
  });
  const twilio = (fake: FakeTwilio, name: string, timeoutMs = 5_000) =>
    createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: fake.url, name, timeoutMs });
  const failover = (options: Parameters<typeof createFailoverGateway>[1] = {}, timeoutMs?: number) =>
    createFailoverGateway([twilio(main, 'twilio', timeoutMs), twilio(backup, 'twilio-backup', timeoutMs)], options);

  it('is named after its providers and sends through the first while it takes messages', async () => {
    const gateway = failover();
    expect(gateway.name).toBe('failover(twilio,twilio-backup)');
    // Its providers, for receipts; no window, so an undelivered receipt resends nothing.
    expect(gateway.failover).toEqual({ providers: ['twilio', 'twilio-backup'] });
    expect(gateway.dedupes).not.toBe(true);
    expect(await gateway.send(sms())).toMatchObject({ provider: 'twilio', id: main.messages[0]?.sid });
    expect(backup.messages).toHaveLength(0);
  });

  it('a permanent refusal by the first sends through the second, once', async () => {
    main.failNext({ kind: 'invalid-number' });
    const result = await failover().send(sms());
    expect(result).toMatchObject({ provider: 'twilio-backup', id: backup.messages[0]?.sid });
    expect(main.messages).toHaveLength(0);
    expect(backup.messages).toHaveLength(1);
  });

  it('when every provider refuses, the last refusal is thrown', async () => {
    main.failNext({ kind: 'invalid-number' });
    backup.failNext({ kind: 'invalid-number' });
    expect(await failure(failover().send(sms()))).toMatchObject({ retryable: false, provider: 'twilio-backup', providerCode: 21211 });
  });

  it('never fails over on a transient error: the engine retries the send later', async () => {
    main.failNext({ kind: 'unavailable' });
    expect(await failure(failover().send(sms()))).toMatchObject({ retryable: true, status: 503, provider: 'twilio' });
    expect(backup.requests).toHaveLength(0);
  });

  it('never fails over on a timeout after the request was written: the first may have sent it', async () => {
    main.failNext({ kind: 'hang' });
    expect(await failure(failover({}, 300).send(sms()))).toMatchObject({ ambiguous: true, provider: 'twilio' });
    expect(main.messages).toHaveLength(1);
    expect(backup.requests).toHaveLength(0);
  });

  it("does not start the next provider once the engine's signal is aborted", async () => {
    main.failNext({ kind: 'invalid-number' });
    const controller = new AbortController();
    const gateway = createFailoverGateway([
      { name: 'first', send: async () => {
        controller.abort(new Error('engine gave up'));
        throw Object.assign(new Error('refused'), { retryable: false });
      } },
      twilio(backup, 'twilio-backup'),
    ]);
    expect(await failure(gateway.send(sms(), { signal: controller.signal }))).toMatchObject({ message: 'refused' });
    expect(backup.requests).toHaveLength(0);
  });

  it("with on: 'undelivered', declares failover and skips the providers the engine excludes", async () => {
    const gateway = failover({ on: ['refused', 'undelivered'], within: 600_000 });
    expect(gateway.failover).toEqual({ providers: ['twilio', 'twilio-backup'], undeliveredWithinMs: 600_000 });
    expect(await gateway.send(sms({ excludeProviders: ['twilio'] }))).toMatchObject({ provider: 'twilio-backup' });
    expect(main.requests).toHaveLength(0);
    expect(await failure(gateway.send(sms({ excludeProviders: ['twilio', 'twilio-backup'] })))).toMatchObject({ retryable: false, providerCode: 'providers_exhausted' });
    // Without 'undelivered', exclusions are not this gateway's business.
    await failover().send(sms({ excludeProviders: ['twilio'] }));
    expect(main.messages).toHaveLength(1);
  });

  it('names the provider that took the message even when the gateway returns no object', async () => {
    const plain: ChannelGateway = { name: 'plain', send: async () => 'ok' };
    const refusing: ChannelGateway = { name: 'refusing', send: async () => Promise.reject(Object.assign(new Error('no'), { retryable: false })) };
    expect(await createFailoverGateway([refusing, plain]).send(sms())).toEqual({ provider: 'plain', id: null, result: 'ok' });
  });

  it('declares dedupes only when every provider dedupes', () => {
    const dedupes: ChannelGateway = { name: 'a', dedupes: true, send: async () => null };
    expect(createFailoverGateway([dedupes, { ...dedupes, name: 'b' }]).dedupes).toBe(true);
    expect(createFailoverGateway([dedupes, { name: 'c', send: async () => null }]).dedupes).not.toBe(true);
  });

  it('refuses a configuration it could not honour', () => {
    const a: ChannelGateway = { name: 'a', send: async () => null };
    expect(() => createFailoverGateway([a])).toThrow(/at least two/);
    expect(() => createFailoverGateway([a, { ...a }])).toThrow(/two gateways are named "a"/);
    expect(() => createFailoverGateway([a, { send: async () => null }])).toThrow(/no name/);
    expect(() => createFailoverGateway([a, { ...a, name: 'b' }], { on: 'undelivered' })).toThrow(/needs within/);
    expect(() => createFailoverGateway([a, { ...a, name: 'b' }], { within: 1_000 })).toThrow(/within applies/);
    expect(() => createFailoverGateway([a, { ...a, name: 'b' }], { on: ['bounced' as 'refused'] })).toThrow(/on must be/);
    expect(() => createFailoverGateway([a, { ...a, name: 'b' }], { whithin: 5 } as never)).toThrow(/within/);
  });
});
