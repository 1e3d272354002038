import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createMemoryIdempotencyStore, createRecordingChannel, type IdempotencyStore, type RecordingChannel } from '@crm-automation/core';
import { buildNotificationApp, canonicalJson, storedIdempotencyKey } from '@crm-automation/http';

const TOKEN = 'svc-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const metadata = (extra: Record<string, unknown> = {}) => ({ source: 'automation-engine', ruleId: 'rule_1', triggerId: 'trg_1', accountId: 'acc_A', ...extra });
const SMS = { recipient: '+15557654321', message: 'Job J-5541 is done.' };
const EMAIL = { recipient: 'manager@crm.example', subject: 'Job J-5541', body: 'It is done.' };

/** A memory store that also records every key it is asked about. */
function recordingStore(): IdempotencyStore & { keys: string[] } {
  const inner = createMemoryIdempotencyStore();
  const keys: string[] = [];
  return {
    keys,
    acquire: (key, lockMs) => {
      keys.push(key);
      return inner.acquire(key, lockMs);
    },
    complete: (key, result, ttlMs) => inner.complete(key, result, ttlMs),
    release: (key) => inner.release(key),
  };
}

describe('Notification Service idempotency keys', () => {
  let app: FastifyInstance;
  let sms: RecordingChannel;
  let email: RecordingChannel;
  let webhook: RecordingChannel;
  let push: RecordingChannel;
  let store: ReturnType<typeof recordingStore>;

  beforeEach(async () => {
    sms = createRecordingChannel({ respond: (_c, n) => ({ id: `sms-${n}` }) });
    email = createRecordingChannel({ respond: (_c, n) => ({ id: `email-${n}` }) });
    webhook = createRecordingChannel({ respond: (_c, n) => ({ id: `hook-${n}` }) });
    push = createRecordingChannel({ respond: (_c, n) => ({ id: `push-${n}` }) });
    store = recordingStore();
    app = await buildNotificationApp({ channels: { sms, email, webhook, push }, idempotency: store, auth: { tokens: [TOKEN] } });
  });
  afterEach(() => app.close());

  const post = (type: string, body: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/api/v1/${type}`, headers: { ...auth, ...headers }, payload: JSON.stringify(body) });
  const sends = () => sms.calls.length + email.calls.length + webhook.calls.length + push.calls.length;

  it('a failover send (providers to skip) is a send of its own, replayed as such; the delivery id travels to the gateway', async () => {
    const base = metadata({ actionIndex: 0, deliveryId: 'dlv_1' });
    const first = await post('sms', { ...SMS, metadata: base });
    expect([first.statusCode, first.json().replayed]).toEqual([200, false]);
    expect(sms.sent[0]?.metadata).toMatchObject({ deliveryId: 'dlv_1', idempotencyKey: 'trg_1:0' });
    expect(sms.sent[0]?.metadata.excludeProviders).toBeUndefined();
    expect((await post('sms', { ...SMS, metadata: base })).json().replayed).toBe(true);

    // Undelivered by the first provider: the same key without it must reach a gateway again, once.
    const failover = await post('sms', { ...SMS, metadata: { ...base, deliveryId: 'dlv_2', excludeProviders: ['twilio'] } });
    expect([failover.statusCode, failover.json().replayed, failover.json().idempotencyKey]).toEqual([200, false, 'trg_1:0']);
    expect(sms.sent[1]?.metadata).toMatchObject({ deliveryId: 'dlv_2', excludeProviders: ['twilio'] });
    // The same set of providers in another order, or repeated, is the same failover send.
    expect((await post('sms', { ...SMS, metadata: { ...base, excludeProviders: ['twilio', 'twilio'] } })).json().replayed).toBe(true);
    expect((await post('sms', { ...SMS, metadata: { ...base, excludeProviders: ['vonage', 'twilio'] } })).json().replayed).toBe(false);
    expect((await post('sms', { ...SMS, metadata: { ...base, excludeProviders: ['twilio', 'vonage'] } })).json().replayed).toBe(true);
    expect(sms.calls).toHaveLength(3);
    // An empty list is no failover.
    expect((await post('sms', { ...SMS, metadata: { ...base, excludeProviders: [] } })).json().replayed).toBe(true);
    const bad = await post('sms', { ...SMS, metadata: { ...base, excludeProviders: [''] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toMatch(/^metadata\.excludeProviders/);
  });

  it('the SMS and the email of one trigger, without actionIndex, are both sent; a replay of each is one', async () => {
    const first = [await post('sms', { ...SMS, metadata: metadata() }), await post('email', { ...EMAIL, metadata: metadata() })];
    expect(first.map((r) => [r.statusCode, r.json().replayed])).toEqual([[200, false], [200, false]]);
    expect([sms.calls.length, email.calls.length]).toEqual([1, 1]);
    const again = [await post('sms', { ...SMS, metadata: metadata() }), await post('email', { ...EMAIL, metadata: metadata() })];
    expect(again.map((r) => [r.statusCode, r.json().replayed])).toEqual([[200, true], [200, true]]);
    expect(again.map((r) => r.json().idempotencyKey)).toEqual(first.map((r) => r.json().idempotencyKey));
    // The gateways' results name no provider: the service names its gateway, so callers count the real one.
    expect(again.map((r) => r.json().result)).toEqual([{ provider: 'recording', id: 'sms-1' }, { provider: 'recording', id: 'email-1' }]);
    expect([sms.calls.length, email.calls.length]).toEqual([1, 1]);
  });

  it('with actionIndex, each action of a trigger is one send, on any channel', async () => {
    for (let round = 0; round < 2; round++) {
      await post('sms', { ...SMS, metadata: metadata({ actionIndex: 0 }) });
      await post('email', { ...EMAIL, metadata: metadata({ actionIndex: 1 }) });
      await post('email', { ...EMAIL, recipient: 'other@crm.example', metadata: metadata({ actionIndex: 2 }) });
    }
    expect([sms.calls.length, email.calls.length]).toEqual([1, 2]);
    expect(store.keys).toContain('acc_A:sms:trg_1:0');
    expect(store.keys).toContain('acc_A:email:trg_1:1');
  });

  // The same trigger id and action index on two channels: the engine never does this, but a caller
  // could, and one channel must not swallow the other's send.
  it('one actionIndex on two channels is two sends (the key is namespaced by channel)', async () => {
    await post('sms', { ...SMS, metadata: metadata({ actionIndex: 0 }) });
    const res = await post('email', { ...EMAIL, metadata: metadata({ actionIndex: 0 }) });
    expect(res.json()).toMatchObject({ replayed: false, idempotencyKey: 'trg_1:0' });
    expect([sms.calls.length, email.calls.length]).toEqual([1, 1]);
  });

  it.each([
    ['metadata.idempotencyKey', (key: string) => [{ ...SMS, metadata: metadata({ idempotencyKey: key }) }, {}] as const],
    ['the Idempotency-Key header', (key: string) => [{ ...SMS, metadata: metadata() }, { 'idempotency-key': key }] as const],
  ])('the same explicit key (%s) in two accounts is two sends, and answers with the key sent', async (_how, request) => {
    const [bodyA, headersA] = request('shared-key-1');
    const a = await post('sms', bodyA, headersA);
    const [bodyB, headersB] = request('shared-key-1');
    const b = await post('sms', { ...bodyB, metadata: { ...bodyB.metadata, accountId: 'acc_B' } }, headersB);
    expect([a.json().replayed, b.json().replayed]).toEqual([false, false]);
    expect([a.json().idempotencyKey, b.json().idempotencyKey]).toEqual(['shared-key-1', 'shared-key-1']);
    expect(sms.calls).toHaveLength(2);
    expect(sms.calls.map((c) => c.metadata.idempotencyKey)).toEqual(['shared-key-1', 'shared-key-1']);
    const replay = await post('sms', { ...bodyB, metadata: { ...bodyB.metadata, accountId: 'acc_B' } }, headersB);
    expect(replay.json().replayed).toBe(true);
    expect(sms.calls).toHaveLength(2);
  });

  it('an explicit key is namespaced by channel too', async () => {
    await post('sms', { ...SMS, metadata: metadata({ idempotencyKey: 'k' }) });
    await post('email', { ...EMAIL, metadata: metadata({ idempotencyKey: 'k' }) });
    expect([sms.calls.length, email.calls.length]).toEqual([1, 1]);
  });

  it('the derived key of one trigger in two accounts is two sends', async () => {
    await post('sms', { ...SMS, metadata: metadata() });
    await post('sms', { ...SMS, metadata: metadata({ accountId: 'acc_B' }) });
    expect(sms.calls).toHaveLength(2);
  });

  it('an account id with a colon cannot reach another account\'s namespace', async () => {
    // Unencoded, "a:sms" + email + key would be stored as "a:sms:email:k"... as would account "a",
    // channel "sms", key "email:k".
    await post('email', { ...EMAIL, metadata: metadata({ accountId: 'a:sms', idempotencyKey: 'k' }) });
    await post('sms', { ...SMS, metadata: metadata({ accountId: 'a', idempotencyKey: 'email:k' }) });
    expect([sms.calls.length, email.calls.length]).toEqual([1, 1]);
    expect(storedIdempotencyKey('a:sms', 'email', 'k')).not.toBe(storedIdempotencyKey('a', 'sms', 'email:k'));
  });

  it('two webhooks of one trigger with different payloads, without actionIndex, are two sends', async () => {
    const hook = (payload: unknown) => ({ url: 'https://hooks.crm.example/x', payload, metadata: metadata() });
    const answers = [await post('webhook', hook({ jobId: 'a' })), await post('webhook', hook({ jobId: 'b' })), await post('webhook', hook({ jobId: 'a' }))];
    expect(answers.map((r) => r.json().replayed)).toEqual([false, false, true]);
    expect(webhook.calls).toHaveLength(2);
    expect(new Set(answers.map((r) => r.json().idempotencyKey)).size).toBe(2);
  });

  it('a replay with the same params written in another key order is still one send', async () => {
    await post('webhook', { url: 'https://hooks.crm.example/x', payload: { a: 1, b: { c: [1, { d: 2, e: 3 }] } }, metadata: metadata() });
    const replay = await post('webhook', { metadata: metadata(), payload: { b: { c: [1, { e: 3, d: 2 }] }, a: 1 }, url: 'https://hooks.crm.example/x' });
    expect(replay.json().replayed).toBe(true);
    expect(webhook.calls).toHaveLength(1);
  });

  it('params that differ anywhere (generated variants) are different sends', async () => {
    const variants: unknown[] = [{}, [], null, 0, '', 'x', [1, 2], [2, 1], { a: null }, { a: 0 }, { a: '0' }, { a: [0] }, { a: { b: 1 } }, { a: { b: '1' } }, { 'a.b': 1 }, { a: 1, b: 2 }];
    for (const payload of variants) await post('push', { payload, metadata: metadata() });
    expect(push.calls).toHaveLength(variants.length);
    for (const payload of variants) await post('push', { payload, metadata: metadata() });
    expect(push.calls).toHaveLength(variants.length);
    expect(sends()).toBe(variants.length);
  });

  it('canonical JSON sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }, 3] })).toBe('{"a":[{"c":2,"d":1},3],"b":1}');
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
  });
});
