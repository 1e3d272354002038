import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { createAutomationEngine, createManualClock, createRecordingChannel, type AutomationEngine, type RecordingChannel, type Rule } from '@crm-automation/core';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';

let uri: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  uri = (await resolveMongoServer()).uri;
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

interface Worker {
  engine: AutomationEngine;
  store: MongoStore;
  sms: RecordingChannel;
  email: RecordingChannel;
}

/** One engine with its own client, store instance and recording gateways, on a shared database. */
function worker(dbName: string, name: string, extra: Partial<Parameters<typeof createAutomationEngine>[0]> = {}, smsRespond?: () => unknown): Worker {
  const store = createMongoStore({ uri, dbName });
  const sms = createRecordingChannel({ name: `${name}-sms`, ...(smsRespond ? { respond: smsRespond } : {}) });
  const email = createRecordingChannel({ name: `${name}-email` });
  const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: name, ...extra });
  cleanups.push(() => store.close());
  return { engine, store, sms, email };
}

describe('mongo store under several engines', () => {
  it(`4 engines, ${Number(process.env['CRM_ENGINES_TEST_TRIGGERS'] ?? 5_000).toLocaleString('en-US')} due triggers: each completes once, each action is sent once, none is left processing`, async () => {
    const dbName = uniqueDbName('crm_engines');
    // The engine's defaults for batch and concurrency, a short poll and a lease that outlives any
    // batch: this test is about exclusivity under contention; lease expiry is tested on its own.
    const workers = Array.from({ length: 4 }, (_, i) => worker(dbName, `engine-${i}`, { pollIntervalMs: 200, leaseMs: 60_000, sendTimeoutMs: 10_000 }));
    const [first] = workers as [Worker];
    cleanups.push(async () => void (await first.store.db.dropDatabase()));
    await first.store.ensureIndexes();
    const rule = await first.engine.rules.create(ACCOUNT, technicianRule());
    const now = new Date();
    // 5,000 by default (the figure); CRM_ENGINES_TEST_TRIGGERS sets another count.
    const total = Number(process.env['CRM_ENGINES_TEST_TRIGGERS'] ?? 5_000);
    for (let offset = 0; offset < total; offset += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, total - offset) }, (_, i) => dueTrigger(rule, `evt_${offset + i}`, new Date(now.getTime() - 60_000 + offset + i)));
      const inserted = await first.store.insertTriggers(batch, now);
      expect(inserted.every((i) => i.created)).toBe(true);
    }

    let lost = 0;
    for (const w of workers) w.engine.on('trigger:finished', ({ saved }) => void (saved ? undefined : (lost += 1)));
    await Promise.all(workers.map((w) => w.engine.start()));
    try {
      const started = Date.now();
      await waitFor(
        'every trigger to complete',
        async () => {
          const done = await first.store.collections.triggers.countDocuments({ status: 'completed' });
          if (process.env['CRM_TEST_PROGRESS']) console.info(`[4 engines] ${done}/${total} completed after ${Date.now() - started} ms`);
          return done === total;
        },
        600_000,
        500,
      );
      console.info(`[4 engines] ${total} triggers completed in ${Date.now() - started} ms`);
    } finally {
      await Promise.all(workers.map((w) => w.engine.stop()));
    }

    const triggers = first.store.collections.triggers;
    expect(await triggers.countDocuments({ status: { $ne: 'completed' } })).toBe(0);
    expect(await triggers.countDocuments({ attempt: { $ne: 1 } })).toBe(0);
    const docs = await triggers.find({}, { projection: { executionHistory: 1, sentActions: 1 } }).toArray();
    expect(docs).toHaveLength(total);
    expect(docs.every((d) => d.executionHistory.length === 1 && d.executionHistory[0]?.outcome === 'completed')).toBe(true);
    expect(docs.every((d) => [...d.sentActions].sort().join() === '0,1')).toBe(true);

    const sends = workers.flatMap((w) => [...w.sms.sent, ...w.email.sent]);
    expect(sends).toHaveLength(2 * total);
    const keys = new Set(sends.map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`));
    expect(keys.size).toBe(2 * total);
    expect(lost).toBe(0);
    // Several engines took part, so claims really were contended (with a small count one engine may
    // find nothing left to claim).
    const perEngine = workers.map((w) => w.sms.sent.length);
    expect(perEngine.filter((n) => n > 0).length).toBeGreaterThan(1);
    console.info(`[4 engines x ${total} triggers] sms sends per engine: ${perEngine.join(', ')}`);
  }, 900_000);

  it('tolerates clock skew: no second claim while the lease holds, takeover after it without a second send, the stale worker’s outcome refused', async () => {
    const dbName = uniqueDbName('crm_skew');
    const t0 = Date.parse('2030-01-01T00:00:00.000Z');
    const clockA = createManualClock(t0);
    const clockB = createManualClock(t0 + 5_000); // B runs 5 s ahead of A
    let releaseA: (value: unknown) => void = () => {};
    const gateA = new Promise((resolve) => {
      releaseA = resolve;
    });
    const a = worker(dbName, 'engine-a', { clock: clockA, leaseMs: 20_000, sendTimeoutMs: 10_000 }, () => gateA.then(() => ({ id: 'from-a' })));
    const b = worker(dbName, 'engine-b', { clock: clockB, leaseMs: 20_000, sendTimeoutMs: 10_000 });
    cleanups.push(async () => void (await a.store.db.dropDatabase()));
    const rule: Rule = await a.engine.rules.create(ACCOUNT, technicianRule({ actions: technicianRule().actions.slice(0, 1) }));
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
    const countsB = await b.engine.runDue();
    expect(countsB).toMatchObject({ claimed: 1, completed: 1 });
    expect(b.sms.calls).toHaveLength(0);

    // B's outcome write is not awaited by its run: wait until its reconcile is in the ledger, so that
    // A's late outcome meets an `unknown` delivery (released earlier, A's `accepted` may win the race).
    await waitFor('B to record its reconcile', async () => (await b.store.deliveriesOfTrigger(ACCOUNT, id))[0]?.state === 'unknown', 10_000, 10);
    releaseA(undefined);
    const countsA = await runA;
    expect(countsA).toMatchObject({ claimed: 1, completed: 0, leaseLost: 1 });
    expect(a.sms.calls).toHaveLength(1);
    const stored = await b.engine.triggers.get(ACCOUNT, id);
    expect(stored).toMatchObject({ status: 'completed', attempt: 2 });
    expect(stored?.executionHistory.map((h) => [h.outcome, h.by])).toEqual([['completed', 'engine-b']]);
    expect(stored?.executionHistory[0]?.actions?.map((x) => [x.status, x.error?.code])).toEqual([['unknown', 'CRM_ERR_DELIVERY_UNKNOWN']]);
    // One delivery, A's: B's reconcile moved it to unknown, so A's late `accepted` (an engine outcome) does not apply.
    const deliveries = await b.store.deliveriesOfTrigger(ACCOUNT, id);
    expect(deliveries.map((d) => [d.attempt, d.provider, d.state, d.events.map((e) => `${e.state}:${e.source}`).join()])).toEqual([[1, 'engine-a-sms', 'unknown', 'intent:engine,unknown:reconcile']]);
  });
});
