import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisIdempotencyStore, createTwilioSms, withIdempotency } from '@crm-automation/channels';
import type { ActionCommand } from '@crm-automation/core';
import { expectReleaseFreesOnlyItsOwn, sendUntilDone as sendSettled } from '@crm-automation/testing';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from './support/fake-twilio.js';

const REDIS_URL = process.env['REDIS_URL'];

function command(triggerId: string): ActionCommand {
  return {
    type: 'sms',
    params: { recipient: '+15557654321', message: 'Your technician is on the way.' },
    metadata: { source: 'automation-engine', ruleId: 'rule_1', triggerId, accountId: 'acc_1', actionIndex: 0, idempotencyKey: `${triggerId}:0` },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createRedisIdempotencyStore against a real Redis', () => {
  const clients: Redis[] = [];
  // A prefix of our own, so parallel suites sharing the server never see our keys.
  const prefix = `crm:test:${randomUUID()}:`;
  const client = () => {
    const c = new Redis(REDIS_URL as string, { maxRetriesPerRequest: 2 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    if (!REDIS_URL) throw new Error('REDIS_URL is not set: start Redis with `scripts/services.sh up redis` (npm run test:services does it)');
    await client().ping();
  });
  afterAll(async () => {
    const keys = await clients[0]?.keys(`${prefix}*`);
    if (keys?.length) await clients[0]?.del(...keys);
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('acquire is exclusive, complete keeps the result with its TTL, and a done key replays', async () => {
    const store = createRedisIdempotencyStore({ client: client(), keyPrefix: prefix });
    const key = `k-${randomUUID()}`;
    expect(await store.acquire(key, 30_000)).toEqual({ state: 'acquired' });
    expect(await store.acquire(key, 30_000)).toEqual({ state: 'in-flight' });
    await store.complete(key, { provider: 'twilio', id: 'SM1' }, 60_000);
    expect(await store.acquire(key, 30_000)).toEqual({ state: 'done', result: { provider: 'twilio', id: 'SM1' } });
    const ttl = await clients[0]?.pttl(prefix + key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('the ttlMs option overrides the TTL withIdempotency passes', async () => {
    const store = createRedisIdempotencyStore({ client: client(), keyPrefix: prefix, ttlMs: 5_000 });
    const key = `k-${randomUUID()}`;
    await store.acquire(key, 1_000);
    await store.complete(key, 'r', 7 * 86_400_000);
    expect(await clients[0]?.pttl(prefix + key)).toBeLessThanOrEqual(5_000);
  });

  it('release frees an in-flight key, but never a completed key or another holder’s reservation', async () => {
    const a = createRedisIdempotencyStore({ client: client(), keyPrefix: prefix });
    const b = createRedisIdempotencyStore({ client: client(), keyPrefix: prefix });
    // A reservation whose holder died expires on the server; b polls until it may take the key over.
    await expectReleaseFreesOnlyItsOwn(a, b, `k-${randomUUID()}`, `k-${randomUUID()}`, async (stale) => {
      let taken = await b.acquire(stale, 30_000);
      for (let i = 0; i < 100 && taken.state !== 'acquired'; i++) {
        await sleep(20);
        taken = await b.acquire(stale, 30_000);
      }
      return taken;
    });
  });

  it('does not close a client it was handed; closes the one it opened from a url', async () => {
    const handed = client();
    await createRedisIdempotencyStore({ client: handed, keyPrefix: prefix }).close?.();
    expect(await handed.ping()).toBe('PONG');
    const owned = createRedisIdempotencyStore({ url: REDIS_URL as string, keyPrefix: prefix });
    expect(await owned.acquire(`k-${randomUUID()}`, 1_000)).toEqual({ state: 'acquired' });
    await owned.close?.();
  });

  describe('several workers sending one command at once', () => {
    let twilio: FakeTwilio;
    beforeAll(async () => {
      twilio = await startFakeTwilio();
    });
    afterAll(() => twilio.close());
    afterEach(() => {
      twilio.messages.length = 0;
    });

    /** Sends like the engine would: retry transient failures (in-flight included) until it resolves. */
    const sendUntilDone = (send: () => Promise<unknown>) => sendSettled(send, { attempts: 200, minDelayMs: 10, jitterMs: 20 });

    it('reaches the provider exactly once, and every worker gets the same result', async () => {
      const provider = createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url });
      const workers = Array.from({ length: 6 }, () => withIdempotency(provider, createRedisIdempotencyStore({ client: client(), keyPrefix: prefix })));
      const cmd = command(`trg_${randomUUID()}`);
      // Each worker fires the command three times concurrently: 18 racing sends.
      const results = await Promise.all(workers.flatMap((w) => [0, 1, 2].map(() => sendUntilDone(() => w.send(cmd)))));
      expect(twilio.messages).toHaveLength(1);
      expect(twilio.violations).toEqual([]);
      const sid = twilio.messages[0]?.sid;
      expect(new Set(results.map((r) => (r as { id: string }).id))).toEqual(new Set([sid]));
    });

    it('after a transient provider failure the key is released and the command is sent once', async () => {
      const provider = createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url });
      twilio.failNext({ kind: 'unavailable' });
      const workers = Array.from({ length: 4 }, () => withIdempotency(provider, createRedisIdempotencyStore({ client: client(), keyPrefix: prefix })));
      const cmd = command(`trg_${randomUUID()}`);
      await Promise.all(workers.map((w) => sendUntilDone(() => w.send(cmd))));
      expect(twilio.messages).toHaveLength(1);
    });

    it('many distinct commands across workers: each reaches the provider once', async () => {
      const provider = createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url });
      const workers = Array.from({ length: 4 }, () => withIdempotency(provider, createRedisIdempotencyStore({ client: client(), keyPrefix: prefix })));
      const commands = Array.from({ length: 25 }, () => command(`trg_${randomUUID()}`));
      await Promise.all(commands.flatMap((cmd) => workers.map((w) => sendUntilDone(() => w.send(cmd)))));
      expect(twilio.messages).toHaveLength(25);
    });
  });
});
