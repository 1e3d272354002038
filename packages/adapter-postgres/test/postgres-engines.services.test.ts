import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createAutomationEngine, createManualClock, createRecordingChannel, type AutomationEngine, type RecordingChannel } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
/** 5,000 by default (the figure); CRM_POSTGRES_ENGINES_TEST_TRIGGERS changes it. */
const TOTAL = Number(process.env['CRM_POSTGRES_ENGINES_TEST_TRIGGERS'] ?? 5_000);
let admin: pg.Pool;
const schemas: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

interface Worker {
  engine: AutomationEngine;
  store: PostgresStore;
  sms: RecordingChannel;
  email: RecordingChannel;
}

/** One engine with a pool, store and recording gateways of its own (as a separate process would have) on a shared schema. */
function worker(schema: string, name: string, extra: Partial<Parameters<typeof createAutomationEngine>[0]> = {}, smsRespond?: () => unknown): Worker {
  const store = createPostgresStore({ connectionString: url as string, schema });
  const sms = createRecordingChannel({ name: `${name}-sms`, ...(smsRespond ? { respond: smsRespond } : {}) });
  const email = createRecordingChannel({ name: `${name}-email` });
  const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: name, ...extra });
  cleanups.push(() => store.close());
  return { engine, store, sms, email };
}

const fresh = () => {
  const schema = uniqueSchema('crm_engines');
  schemas.push(schema);
  return schema;
};

describe.skipIf(!url)('postgres store under several engines', () => {
  beforeAll(() => {
    admin = testPool(url as string, 2);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    for (const schema of schemas) await dropSchema(admin, schema).catch(() => undefined);
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
    const t0 = Date.parse('2030-01-01T00:00:00.000Z');
    const clockA = createManualClock(t0);
    const clockB = createManualClock(t0 + 5_000); // B runs 5 s ahead of A
    let releaseA: (value: unknown) => void = () => {};
    const gateA = new Promise((resolve) => {
      releaseA = resolve;
    });
    const a = worker(schema, 'engine-a', { clock: clockA, leaseMs: 20_000, sendTimeoutMs: 10_000 }, () => gateA.then(() => ({ id: 'from-a' })));
    const b = worker(schema, 'engine-b', { clock: clockB, leaseMs: 20_000, sendTimeoutMs: 10_000 });
    await a.store.ensureSchema();
    const rule = await a.engine.rules.create(ACCOUNT, technicianRule({ actions: technicianRule().actions.slice(0, 1) }));
    const [inserted] = await a.store.insertTriggers([dueTrigger(rule, 'evt_skew', new Date(t0))], new Date(t0));
    const id = inserted?.trigger.id as string;

    const runA = a.engine.runDue();
    await waitFor('engine A to start sending', () => a.sms.calls.length === 1, 10_000, 10);
    // B's clock reads A's claim time + 5 s: the 20 s lease is still valid for it.
    expect((await b.engine.runDue()).claimed).toBe(0);
    await clockB.set(t0 + 19_999);
    expect((await b.engine.runDue()).claimed).toBe(0);
    // A stalls past its lease (by B's clock): B takes over and finishes the trigger. A's send is still
    // at the provider, which the recording gateway cannot deduplicate: B finds its intent in the
    // ledger and does not send again, marking it unknown.
    await clockB.set(t0 + 20_000);
    expect(await b.engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(b.sms.calls).toHaveLength(0);

    // B's outcome write is not awaited by its run: wait until its reconcile is in the ledger, so that
    // A's late outcome meets an `unknown` delivery (released earlier, A's `accepted` may win the race).
    await waitFor('B to record its reconcile', async () => (await b.store.deliveriesOfTrigger(ACCOUNT, id))[0]?.state === 'unknown', 10_000, 10);
    releaseA(undefined);
    expect(await runA).toMatchObject({ claimed: 1, completed: 0, leaseLost: 1 });
    expect(a.sms.calls).toHaveLength(1);
    const stored = await b.engine.triggers.get(ACCOUNT, id);
    expect(stored).toMatchObject({ status: 'completed', attempt: 2 });
    expect(stored?.executionHistory.map((h) => [h.outcome, h.by])).toEqual([['completed', 'engine-b']]);
    expect(stored?.executionHistory[0]?.actions?.map((x) => [x.status, x.error?.code])).toEqual([['unknown', 'CRM_ERR_DELIVERY_UNKNOWN']]);
    // One delivery, A's: B moved it to unknown, so A's late `accepted` (an engine outcome) does not apply.
    await a.engine.stop();
    const deliveries = await b.store.deliveriesOfTrigger(ACCOUNT, id);
    expect(deliveries.map((d) => [d.attempt, d.provider, d.state, d.events.map((e) => `${e.state}:${e.source}`).join()])).toEqual([[1, 'engine-a-sms', 'unknown', 'intent:engine,unknown:reconcile']]);
  });
});
