import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { createMongoIdempotencyStore, type MongoIdempotencyStore } from '../src/index.js';
import { serverRunsTtlMonitor } from '../src/ttl-monitor.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';

let client: MongoClient;
/** False on a server that accepts TTL indexes but never expires documents. */
let ttlMonitor: boolean | undefined;
const dbs: string[] = [];

beforeAll(async () => {
  client = await new MongoClient((await resolveMongoServer()).uri).connect();
  ttlMonitor = await serverRunsTtlMonitor(client.db('admin'));
});

afterAll(async () => {
  for (const name of dbs) await client.db(name).dropDatabase().catch(() => undefined);
  await client?.close();
});

/** Stores over one fresh database, sharing a hand-moved clock. */
function stores(count: number, clock: { now: number }): MongoIdempotencyStore[] {
  const dbName = uniqueDbName('crm_idem');
  dbs.push(dbName);
  return Array.from({ length: count }, () => createMongoIdempotencyStore({ client, dbName, now: () => clock.now }));
}

describe('mongo idempotency store', () => {
  it('reserves a key once, reports it in flight, then done with the stored result', async () => {
    const clock = { now: 1_000_000 };
    const [store] = stores(1, clock) as [MongoIdempotencyStore];
    expect(await store.acquire('t1:0', 60_000)).toEqual({ state: 'acquired' });
    expect(await store.acquire('t1:0', 60_000)).toEqual({ state: 'in-flight' });
    await store.complete('t1:0', { id: 'SM123', nested: { ok: true } }, 3_600_000);
    expect(await store.acquire('t1:0', 60_000)).toEqual({ state: 'done', result: { id: 'SM123', nested: { ok: true } } });
    const doc = await store.collection.findOne({ _id: 't1:0' });
    expect(doc).toMatchObject({ state: 'done', expiresAt: new Date(1_000_000 + 3_600_000) });
    expect(doc && 'lockUntil' in doc).toBe(false);
    await store.complete('t1:1', undefined, 1_000);
    expect(await store.acquire('t1:1', 60_000)).toEqual({ state: 'done', result: null });
  });

  it('lets a key be taken again after release, after the lock lapses, and after the result expires', async () => {
    const clock = { now: 5_000_000 };
    const [store] = stores(1, clock) as [MongoIdempotencyStore];
    await store.acquire('k', 10_000);
    await store.release('k');
    expect(await store.acquire('k', 10_000)).toEqual({ state: 'acquired' });
    clock.now += 9_999;
    expect(await store.acquire('k', 10_000)).toEqual({ state: 'in-flight' });
    clock.now += 1;
    expect(await store.acquire('k', 10_000)).toEqual({ state: 'acquired' });
    await store.complete('k', 'sent', 20_000);
    await store.release('k'); // a done key is not released
    clock.now += 19_999;
    expect(await store.acquire('k', 10_000)).toEqual({ state: 'done', result: 'sent' });
    clock.now += 1;
    expect(await store.acquire('k', 10_000)).toEqual({ state: 'acquired' });
  });

  it('gives a fresh key, and an expired key, to exactly one of many concurrent senders', async () => {
    const clock = { now: 9_000_000 };
    const many = stores(8, clock);
    const fresh = await Promise.all(many.flatMap((s) => [s.acquire('race', 10_000), s.acquire('race', 10_000)]));
    expect(fresh.filter((r) => r.state === 'acquired')).toHaveLength(1);
    clock.now += 10_000;
    const expired = await Promise.all(many.flatMap((s) => [s.acquire('race', 10_000), s.acquire('race', 10_000)]));
    expect(expired.filter((r) => r.state === 'acquired')).toHaveLength(1);
    expect(expired.filter((r) => r.state === 'in-flight')).toHaveLength(15);
    // The taker's reservation is a fresh one: a stale result does not survive the takeover.
    const doc = await many[0]?.collection.findOne({ _id: 'race' });
    expect(doc).toMatchObject({ state: 'in-flight', expiresAt: new Date(clock.now + 10_000) });
  });

  it('takes over an expired done entry once, dropping its old result', async () => {
    const clock = { now: 20_000_000 };
    const many = stores(6, clock);
    const [first] = many as [MongoIdempotencyStore];
    await first.complete('sent-long-ago', { id: 'old' }, 1_000);
    clock.now += 1_000;
    const results = await Promise.all(many.map((s) => s.acquire('sent-long-ago', 5_000)));
    expect(results.filter((r) => r.state === 'acquired')).toHaveLength(1);
    const doc = await first.collection.findOne({ _id: 'sent-long-ago' });
    expect(doc && 'result' in doc).toBe(false);
    await first.complete('sent-long-ago', { id: 'new' }, 60_000);
    expect(await first.acquire('sent-long-ago', 5_000)).toEqual({ state: 'done', result: { id: 'new' } });
  });

  it('releases only a reservation, never a key already sent', async () => {
    const clock = { now: 30_000_000 };
    const [store] = stores(1, clock) as [MongoIdempotencyStore];
    await store.acquire('r', 10_000);
    await store.release('r');
    expect(await store.collection.countDocuments({ _id: 'r' })).toBe(0);
    await store.complete('d', 'ok', 10_000);
    await store.release('d');
    expect(await store.acquire('d', 10_000)).toEqual({ state: 'done', result: 'ok' });
  });

  it('purges expired entries and uses a TTL index only where the server expires documents', async () => {
    const clock = { now: 1_000 };
    const [store] = stores(1, clock) as [MongoIdempotencyStore];
    await store.complete('a', 1, 1_000);
    await store.complete('b', 2, 5_000);
    clock.now = 2_000;
    expect(await store.purgeExpired()).toBe(1);
    expect((await store.ensureIndexes()).expiry).toBe(ttlMonitor === false ? 'periodic' : 'ttl');
    expect(await store.acquire('b', 1_000)).toEqual({ state: 'done', result: 2 });
  });
});
