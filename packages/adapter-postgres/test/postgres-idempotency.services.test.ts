import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createRecordingChannel, withIdempotency, type ActionCommand, type IdempotencyStore } from '@crm-automation/core';
import { expectReleaseFreesOnlyItsOwn } from '@crm-automation/testing';
import { createPostgresIdempotencyStore, type PostgresIdempotencyStore } from '../src/index.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;
const schema = uniqueSchema('crm_idem');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stores over the file's schema, sharing a hand-moved clock (one per simulated process). */
function stores(count: number, clock: { now: number }, options: { ttlMs?: number } = {}): PostgresIdempotencyStore[] {
  return Array.from({ length: count }, () => createPostgresIdempotencyStore({ pool, schema, now: () => clock.now, ...options }));
}

const key = () => `trg_${randomUUID()}:0`;

function command(triggerId: string): ActionCommand {
  return {
    type: 'sms',
    params: { recipient: '+15557654321', message: 'Your technician is on the way.' },
    metadata: { source: 'automation-engine', ruleId: 'rule_1', triggerId, accountId: 'acc_1', actionIndex: 0, idempotencyKey: `${triggerId}:0` },
  };
}

/** Sends like the engine would: retries transient failures (a key in flight elsewhere included) until done. */
async function sendUntilDone(send: () => Promise<unknown>): Promise<unknown> {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      return await send();
    } catch (error) {
      if ((error as { retryable?: unknown }).retryable !== true) throw error;
      await sleep(5 + Math.random() * 15);
    }
  }
  throw new Error('never completed');
}

describe.skipIf(!url)('postgres idempotency store', () => {
  beforeAll(async () => {
    pool = testPool(url as string, 12);
    // Concurrent start-up, as several senders would.
    const reports = await Promise.all(stores(3, { now: 0 }).map((s) => s.ensureSchema()));
    expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, 1]);
  });
  afterAll(async () => {
    await dropSchema(pool, schema);
    await pool?.end();
  });

  it('reserves a key once, reports it in flight, then done with the stored result', async () => {
    const clock = { now: 1_000_000 };
    const [store] = stores(1, clock) as [PostgresIdempotencyStore];
    const k = key();
    expect(await store.acquire(k, 60_000)).toEqual({ state: 'acquired' });
    expect(await store.acquire(k, 60_000)).toEqual({ state: 'in-flight' });
    await store.complete(k, { id: 'SM123', nested: { ok: true, list: [1, null, 'ü'] } }, 3_600_000);
    expect(await store.acquire(k, 60_000)).toEqual({ state: 'done', result: { id: 'SM123', nested: { ok: true, list: [1, null, 'ü'] } } });
    const { rows } = await pool.query(`SELECT state, holder, expires_at FROM "${schema}".idempotency_keys WHERE key = $1`, [k]);
    expect(rows).toEqual([{ state: 'done', holder: null, expires_at: new Date(1_000_000 + 3_600_000) }]);
    const empty = key();
    await store.complete(empty, undefined, 1_000);
    expect(await store.acquire(empty, 60_000)).toEqual({ state: 'done', result: null });
  });

  it('lets a key be taken again after release, after the lock lapses, and after the result expires', async () => {
    const clock = { now: 5_000_000 };
    const [store] = stores(1, clock) as [PostgresIdempotencyStore];
    const k = key();
    await store.acquire(k, 10_000);
    await store.release(k);
    expect(await store.acquire(k, 10_000)).toEqual({ state: 'acquired' });
    clock.now += 9_999;
    expect(await store.acquire(k, 10_000)).toEqual({ state: 'in-flight' });
    clock.now += 1;
    expect(await store.acquire(k, 10_000)).toEqual({ state: 'acquired' });
    await store.complete(k, 'sent', 20_000);
    await store.release(k); // a done key is never released
    clock.now += 19_999;
    expect(await store.acquire(k, 10_000)).toEqual({ state: 'done', result: 'sent' });
    clock.now += 1;
    expect(await store.acquire(k, 10_000)).toEqual({ state: 'acquired' });
  });

  it('release frees only its own reservation: never a completed key, never another holder’s', async () => {
    const clock = { now: 7_000_000 };
    const [a, b] = stores(2, clock) as [PostgresIdempotencyStore, PostgresIdempotencyStore];
    await expectReleaseFreesOnlyItsOwn(a, b, key(), key(), async (stale) => {
      clock.now += 50; // a's 50 ms lock lapses by the stores' clock
      return b.acquire(stale, 30_000);
    });
  });

  it('gives a fresh key, and an expired key, to exactly one of many concurrent senders', async () => {
    const clock = { now: 9_000_000 };
    const many = stores(8, clock);
    const k = key();
    const fresh = await Promise.all(many.flatMap((s) => [s.acquire(k, 10_000), s.acquire(k, 10_000)]));
    expect(fresh.filter((r) => r.state === 'acquired')).toHaveLength(1);
    expect(fresh.filter((r) => r.state === 'in-flight')).toHaveLength(15);
    clock.now += 10_000;
    const expired = await Promise.all(many.flatMap((s) => [s.acquire(k, 10_000), s.acquire(k, 10_000)]));
    expect(expired.filter((r) => r.state === 'acquired')).toHaveLength(1);
    expect(expired.filter((r) => r.state === 'in-flight')).toHaveLength(15);
  });

  it('the ttlMs option overrides the period withIdempotency passes; purgeExpired deletes what has lapsed', async () => {
    const clock = { now: 20_000_000 };
    const [store] = stores(1, clock, { ttlMs: 5_000 }) as [PostgresIdempotencyStore];
    const k = key();
    await store.acquire(k, 1_000);
    await store.complete(k, 'r', 7 * 86_400_000);
    const { rows } = await pool.query(`SELECT expires_at FROM "${schema}".idempotency_keys WHERE key = $1`, [k]);
    expect(rows[0].expires_at).toEqual(new Date(20_005_000));
    clock.now = 20_005_000;
    expect(await store.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect((await pool.query(`SELECT 1 FROM "${schema}".idempotency_keys WHERE key = $1`, [k])).rowCount).toBe(0);
  });

  it('keeps every key apart, also keys with U+0000 or a percent sign', async () => {
    const [store] = stores(1, { now: 30_000_000 }) as [PostgresIdempotencyStore];
    const base = key();
    const keys = [`${base}a\u0000b`, `${base}a%00b`, `${base}a%2500b`, `${base}a%b`];
    for (const k of keys) expect(await store.acquire(k, 10_000)).toEqual({ state: 'acquired' });
    for (const [i, k] of keys.entries()) await store.complete(k, i, 10_000);
    for (const [i, k] of keys.entries()) expect(await store.acquire(k, 10_000)).toEqual({ state: 'done', result: i });
  });

  it('does not end a pool it was handed; ends the one it opened from a connection string', async () => {
    const handed = testPool(url as string, 1);
    await createPostgresIdempotencyStore({ pool: handed, schema }).close();
    expect((await handed.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await handed.end();
    const owned = createPostgresIdempotencyStore({ connectionString: url as string, schema });
    expect(await owned.acquire(key(), 1_000)).toEqual({ state: 'acquired' });
    await owned.close();
    expect(owned.pool.ended).toBe(true);
  });

  describe('several workers sending one command at once', () => {
    /** A provider that takes a while, so that concurrent senders really overlap. */
    const slowProvider = () => createRecordingChannel({ respond: async (_command, call) => (await sleep(20), { id: `SM${call}` }) });
    const workers = (provider: ReturnType<typeof slowProvider>, count: number): Array<ReturnType<typeof withIdempotency>> =>
      Array.from({ length: count }, () => withIdempotency(provider, createPostgresIdempotencyStore({ pool, schema }) as IdempotencyStore));

    it('reaches the provider exactly once, and every worker gets the same result', async () => {
      const provider = slowProvider();
      const cmd = command(`trg_${randomUUID()}`);
      // Each of 6 workers fires the command three times concurrently: 18 racing sends.
      const results = await Promise.all(workers(provider, 6).flatMap((w) => [0, 1, 2].map(() => sendUntilDone(() => w.send(cmd)))));
      expect(provider.sent).toHaveLength(1);
      expect(new Set(results.map((r) => (r as { id: string }).id))).toEqual(new Set(['SM1']));
    });

    it('after a transient provider failure the key is released and the command is sent once', async () => {
      const provider = slowProvider();
      provider.failNext(Object.assign(new Error('provider unavailable'), { retryable: true }));
      const cmd = command(`trg_${randomUUID()}`);
      await Promise.all(workers(provider, 4).map((w) => sendUntilDone(() => w.send(cmd))));
      expect(provider.calls.length).toBeGreaterThanOrEqual(2);
      expect(provider.sent).toHaveLength(1);
    });

    it('many distinct commands across workers: each reaches the provider once', async () => {
      const provider = slowProvider();
      const ws = workers(provider, 4);
      const commands = Array.from({ length: 25 }, () => command(`trg_${randomUUID()}`));
      await Promise.all(commands.flatMap((cmd) => ws.map((w) => sendUntilDone(() => w.send(cmd)))));
      expect(provider.sent).toHaveLength(25);
      expect(new Set(provider.sent.map((c) => c.metadata.triggerId)).size).toBe(25);
    });
  });
});
