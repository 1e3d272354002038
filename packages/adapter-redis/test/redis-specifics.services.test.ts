import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createAutomationEngine, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createRedisContactCounter, createRedisSendThrottle } from '../src/index.js';
import { connect, dropPrefix, redisUrl, uniquePrefix } from './redis-server.js';

const url = redisUrl();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.skipIf(!url)('redis specifics', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(async () => {
    redis = connect(url as string);
    await redis.ping();
  });
  afterEach(async () => {
    await dropPrefix(redis, prefix);
  });
  afterAll(async () => {
    await redis?.quit();
  });
  const fresh = (what: string) => (prefix = uniquePrefix(what));

  it('keeps a cap bucket in one hash under the account’s tag, with the holders and the expiry, and a TTL of the time it has left by the request’s clock', async () => {
    const keyPrefix = fresh('layout');
    const counter = createRedisContactCounter(redis, { keyPrefix });
    // An engine clock years before the server's: the bucket must still live its day, not vanish at once.
    const now = new Date('2001-02-03T04:05:06.000Z');
    const bucket = { key: 'sms|+15550001111|day|2001-02-03', max: 2, expiresAt: new Date(now.getTime() + DAY) };
    const request = { accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', buckets: [bucket], now };
    expect(await counter.reserve({ ...request, holder: 'trig_1:0' })).toEqual({ ok: true });
    expect(await counter.reserve({ ...request, holder: 'trig_2:0' })).toEqual({ ok: true });
    expect(await counter.reserve({ ...request, holder: 'trig_3:0' })).toEqual({ ok: false, full: bucket.key });
    const key = `${keyPrefix}{acc_1}:cap:${bucket.key}`;
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([key]);
    expect(await redis.hgetall(key)).toEqual({ e: String(bucket.expiresAt.getTime()), 'h:trig_1:0': '1', 'h:trig_2:0': '1' });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(DAY);
    await counter.release({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', bucketKeys: [bucket.key], holder: 'trig_1:0' });
    expect(await redis.hgetall(key)).toEqual({ e: String(bucket.expiresAt.getTime()), 'h:trig_2:0': '1' });
  });

  it('keeps a throttle bucket in one hash with its tokens and last update, forgotten once it would be full again', async () => {
    const keyPrefix = fresh('throttle');
    const throttle = createRedisSendThrottle(redis, { keyPrefix });
    const now = new Date('2001-02-03T04:05:06.000Z');
    const take = () => throttle.take({ accountId: 'acc_1', channel: 'sms', now, perSecond: 0.5, burst: 3 });
    expect(await take()).toEqual({ ok: true });
    expect(await take()).toEqual({ ok: true });
    const key = `${keyPrefix}{acc_1}:throttle:sms`;
    expect(await redis.hgetall(key)).toEqual({ t: '1', a: String(now.getTime()) });
    // Two tokens short at half a token a second: full again in 4 s.
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(3_000);
    expect(ttl).toBeLessThanOrEqual(4_000);
    expect(await take()).toEqual({ ok: true });
    expect(await take()).toEqual({ ok: false, retryAtMs: now.getTime() + 2_000 });
    // A refusal writes nothing.
    expect(await redis.hgetall(key)).toEqual({ t: '0', a: String(now.getTime()) });
  });

  it('loads its scripts again after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const keyPrefix = fresh('flush');
    const counter = createRedisContactCounter(redis, { keyPrefix });
    const throttle = createRedisSendThrottle(redis, { keyPrefix });
    const now = new Date('2030-01-01T00:00:00.000Z');
    const bucket = { key: 'sms|+1|day|2030-01-01', max: 1, expiresAt: new Date(now.getTime() + DAY) };
    await redis.script('FLUSH');
    expect(await counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', buckets: [bucket], holder: 'h1', now })).toEqual({ ok: true });
    expect(await throttle.take({ accountId: 'a', channel: 'sms', now, perSecond: 1 })).toEqual({ ok: true });
    await redis.script('FLUSH');
    expect(await counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', buckets: [bucket], holder: 'h2', now })).toEqual({ ok: false, full: bucket.key });
    expect(await throttle.take({ accountId: 'a', channel: 'sms', now, perSecond: 1 })).toEqual({ ok: false, retryAtMs: now.getTime() + 1_000 });
  });

  it('throws what Redis answers (a key of another type) and leaves the other buckets untouched', async () => {
    const keyPrefix = fresh('wrongtype');
    const counter = createRedisContactCounter(redis, { keyPrefix });
    const now = new Date('2030-01-01T00:00:00.000Z');
    await redis.set(`${keyPrefix}{a}:cap:broken`, 'not a hash');
    const buckets = [
      { key: 'fine', max: 1, expiresAt: new Date(now.getTime() + DAY) },
      { key: 'broken', max: 1, expiresAt: new Date(now.getTime() + DAY) },
    ];
    await expect(counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', buckets, holder: 'h', now })).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.exists(`${keyPrefix}{a}:cap:fine`)).toBe(0);
  });

  it('an engine whose Redis counter is unreachable does not send, and retries with CRM_ERR_POLICY_UNAVAILABLE', async () => {
    const keyPrefix = fresh('engine-down');
    const gone = connect(url as string);
    await gone.ping();
    await gone.quit();
    const clock = createManualClock('2026-01-15T18:00:00Z');
    const sms = createRecordingChannel({ name: 'sms' });
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms }, contactCounter: createRedisContactCounter(gone, { keyPrefix }) });
    const rule: RuleInput = {
      name: 'Follow-up',
      trigger: { eventName: 'visit.completed' },
      conditions: { all: [] },
      actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Hi' } }],
    };
    try {
      await engine.rules.create('acc_1', rule);
      await engine.contactPolicy.set('acc_1', { channels: { sms: { caps: [{ max: 3, per: 'day' }] } } });
      await engine.ingest({ id: 'e1', name: 'visit.completed', accountId: 'acc_1', timestamp: clock.now().toISOString(), payload: { client: { phone: '+15550001111' } } });
      await engine.runDue();
      expect(sms.calls).toHaveLength(0);
      const [trigger] = (await engine.triggers.list('acc_1', { limit: 10 })).items;
      expect(trigger?.status).toBe('retrying');
      expect(JSON.stringify(trigger?.executionHistory)).toContain('CRM_ERR_POLICY_UNAVAILABLE');
    } finally {
      await engine.stop();
    }
  });
});
