import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { engineWorker, expectClockSkewTakeover, type EngineWorker, type EngineWorkerOptions } from '@crm-automation/testing';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { postgresUrl, testPool, testResources } from './postgres-server.js';

const url = postgresUrl();
/** 5,000 by default (the figure); CRM_POSTGRES_ENGINES_TEST_TRIGGERS changes it. */
const TOTAL = Number(process.env['CRM_POSTGRES_ENGINES_TEST_TRIGGERS'] ?? 5_000);
let admin: pg.Pool;
const resources = testResources();

type Worker = EngineWorker<PostgresStore>;

/** One engine with a pool, store and recording gateways of its own (as a separate process would have) on a shared schema. */
function worker(schema: string, name: string, extra: EngineWorkerOptions = {}, smsRespond?: () => unknown): Worker {
  const store = createPostgresStore({ connectionString: url as string, schema });
  resources.onRelease(() => store.close());
  return engineWorker(store, name, extra, smsRespond);
}

const fresh = () => resources.schema('crm_engines');

describe.skipIf(!url)('postgres store under several engines', () => {
  beforeAll(() => {
    admin = testPool(url as string, 2);
  });
  afterAll(async () => {
    await resources.release(admin);
    await admin?.end();
  });

  it(`4 engines, ${TOTAL.toLocaleString('en-US')} due triggers: each completes once, each action is sent once, none is left processing`, async () => {
    const schema = fresh();
    const workers = Array.from({ length: 4 }, (_, i) => worker(schema, `engine-${i}`, { pollIntervalMs: 200, batchSize: 200, concurrency: 16, leaseMs: 60_000, sendTimeoutMs: 10_000 }));
    const [first] = workers as [Worker];
    await first.store.ensureSchema();
    const rule = await first.engine.rules.create(ACCOUNT, technicianRule());
    const now = new Date();
    for (let offset = 0; offset < TOTAL; offset += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, TOTAL - offset) }, (_, i) => dueTrigger(rule, `evt_${offset + i}`, new Date(now.getTime() - 60_000 + offset + i)));
      const inserted = await first.store.insertTriggers(batch, now);
      expect(inserted.every((i) => i.created)).toBe(true);
    }

    let lost = 0;
    for (const w of workers) w.engine.on('trigger:finished', ({ saved }) => void (saved ? undefined : (lost += 1)));
    const started = Date.now();
    await Promise.all(workers.map((w) => w.engine.start()));
    try {
      await waitFor(
        'every trigger to complete',
        async () => (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".triggers WHERE status = 'completed'`)).rows[0].n === TOTAL,
        600_000,
        100,
      );
    } finally {
      await Promise.all(workers.map((w) => w.engine.stop()));
    }
    const drainMs = Date.now() - started;

    const { rows } = await admin.query<{ status: string; attempt: number; history: number; outcome: string; sent: number[] }>(
      `SELECT status, attempt, jsonb_array_length(execution_history) AS history, execution_history->0->>'outcome' AS outcome, sent_actions AS sent FROM "${schema}".triggers`,
    );
    expect(rows).toHaveLength(TOTAL);
    expect(rows.filter((r) => r.status !== 'completed')).toEqual([]);
    expect(rows.filter((r) => r.attempt !== 1)).toEqual([]);
    expect(rows.every((r) => r.history === 1 && r.outcome === 'completed')).toBe(true);
    expect(rows.every((r) => r.sent.join() === '0,1')).toBe(true);

    const sends = workers.flatMap((w) => [...w.sms.sent, ...w.email.sent]);
    expect(sends).toHaveLength(2 * TOTAL);
    expect(new Set(sends.map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`)).size).toBe(2 * TOTAL);
    expect(lost).toBe(0);
    // The delivery ledger the engines keep by default on this store: one record per action, each accepted.
    const ledger = await admin.query<{ n: number; actions: number; accepted: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (trigger_id, action_index))::int AS actions, count(*) FILTER (WHERE state = 'accepted')::int AS accepted FROM "${schema}".deliveries`,
    );
    expect(ledger.rows[0]).toEqual({ n: 2 * TOTAL, actions: 2 * TOTAL, accepted: 2 * TOTAL });
    // Several engines took part, so the claims really were contended.
    const perEngine = workers.map((w) => w.sms.sent.length);
    expect(perEngine.filter((n) => n > 0).length).toBeGreaterThan(1);
    console.info(`[4 engines x ${TOTAL.toLocaleString('en-US')} triggers] drained in ${drainMs} ms (${Math.round(TOTAL / (drainMs / 1000))} triggers/s, poll wake-ups included); sms sends per engine: ${perEngine.join(', ')}`);
  }, 900_000);

  it('tolerates clock skew: no second claim while the lease holds, takeover after it without a second send, the stale worker’s outcome refused', async () => {
    const schema = fresh();
    await expectClockSkewTakeover(async (name, extra, smsRespond) => {
      const w = worker(schema, name, extra, smsRespond);
      await w.store.ensureSchema();
      return w;
    });
  });
});
