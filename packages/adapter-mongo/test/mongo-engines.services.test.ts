import { describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { engineWorker, expectClockSkewTakeover, type EngineWorker, type EngineWorkerOptions } from '@crm-automation/testing';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoTestFile } from './mongo-test-file.js';

const mongo = mongoTestFile();

type Worker = EngineWorker<MongoStore>;

/** One engine with its own client, store instance and recording gateways, on a shared database. */
function worker(dbName: string, name: string, extra: EngineWorkerOptions = {}, smsRespond?: () => unknown): Worker {
  const store = createMongoStore({ uri: mongo.uri(), dbName });
  mongo.onRelease(() => store.close());
  return engineWorker(store, name, extra, smsRespond);
}

describe('mongo store under several engines', () => {
  it(`4 engines, ${Number(process.env['CRM_ENGINES_TEST_TRIGGERS'] ?? 5_000).toLocaleString('en-US')} due triggers: each completes once, each action is sent once, none is left processing`, async () => {
    const dbName = uniqueDbName('crm_engines');
    // The engine's defaults for batch and concurrency, a short poll and a lease that outlives any
    // batch: this test is about exclusivity under contention; lease expiry is tested on its own.
    const workers = Array.from({ length: 4 }, (_, i) => worker(dbName, `engine-${i}`, { pollIntervalMs: 200, leaseMs: 60_000, sendTimeoutMs: 10_000 }));
    const [first] = workers as [Worker];
    mongo.onRelease(async () => void (await first.store.db.dropDatabase()));
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
    let dropped = false;
    await expectClockSkewTakeover(async (name, extra, smsRespond) => {
      const w = worker(dbName, name, extra, smsRespond);
      if (!dropped) mongo.onRelease(async () => void (await w.store.db.dropDatabase()));
      dropped = true;
      return w;
    });
  });
});
