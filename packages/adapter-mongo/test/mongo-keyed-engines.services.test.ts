import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createRecordingChannel, type AutomationEngine, type ManualClock, type RecordingChannel, type RuleInput } from '@crm-automation/core';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { ACCOUNT, EVENT, technicianRule } from './fixtures.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoTestFile } from './mongo-test-file.js';

// Issue 16's acceptance on this store through the engine: concurrent ingests of one entity's events on
// 4 engines (each with its own MongoClient) leave one pending run, which sends once; a later cancelling
// event on another engine stops it.

const mongo = mongoTestFile();

const T0 = new Date('2030-01-01T08:00:00.000Z');

interface Worker {
  engine: AutomationEngine;
  store: MongoStore;
  clock: ManualClock;
  sms: RecordingChannel;
}

function workers(count: number): Worker[] {
  const dbName = uniqueDbName('crm_keyed_engines');
  return Array.from({ length: count }, (_, i) => {
    const store = createMongoStore({ uri: mongo.uri(), dbName });
    const clock = createManualClock(T0);
    const sms = createRecordingChannel({ name: `sms-${i}` });
    const email = createRecordingChannel({ name: `email-${i}` });
    const engine = createAutomationEngine({ store, clock, channels: { sms, email }, instanceId: `engine-${i}` });
    mongo.onRelease(async () => {
      if (i === 0) await store.db.dropDatabase();
      await store.close();
    });
    return { engine, store, clock, sms };
  });
}

/** The field-service rule: SMS the technician 5 minutes after a job is Done, once per burst, unless re-opened. */
const jobDoneRule = (): RuleInput =>
  technicianRule({
    trigger: { eventName: EVENT, key: '$.job.id' },
    delay: { value: 5, unit: 'minutes' },
    concurrency: { mode: 'supersede', maxWait: { value: 10, unit: 'minutes' } },
    cancelOn: [{ eventName: 'job.reopened' }],
    actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} is done.' } }],
  });

const done = (eventId: string, secondsAfterT0: number) => ({
  id: eventId,
  name: EVENT,
  accountId: ACCOUNT,
  timestamp: new Date(T0.getTime() + secondsAfterT0 * 1_000),
  payload: { job: { id: 'job_7', number: `J-${eventId}`, status: 'Done' } },
});

describe('mongo store under several engines: keyed rules', () => {
  it('8 concurrent ingests of one job on 4 engines leave one pending run (supersede), for the newest event, which sends once', async () => {
    const engines = workers(4);
    const [first] = engines as [Worker];
    await first.store.ensureIndexes();
    const rule = await first.engine.rules.create(ACCOUNT, jobDoneRule());
    const order = [5, 2, 7, 0, 3, 6, 1, 4];
    await Promise.all(order.map((i, n) => (engines[n % engines.length] as Worker).engine.ingest(done(`evt_${i}`, i))));

    const runs = (await first.store.listTriggers(ACCOUNT, { ruleId: rule.id, entityKey: 'job_7', limit: 100 })).items;
    expect(runs).toHaveLength(8);
    const pending = runs.filter((t) => t.status === 'pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]?.triggeringEvent.id).toBe('evt_7');
    expect(runs.filter((t) => t.status === 'cancelled').every((t) => t.executionHistory[0]?.outcome === 'superseded')).toBe(true);

    await first.clock.advance(10 * 60_000);
    const counts = await first.engine.runDue();
    expect(counts).toMatchObject({ claimed: 1, completed: 1 });
    expect(first.sms.sent.map((s) => s.params['message'])).toEqual(['Job J-evt_7 is done.']);
    for (const other of engines.slice(1)) expect(other.sms.sent).toEqual([]);
  });

  it('a re-opened job cancels the pending run from another engine, and an older, late cancel does not cancel a newer run', async () => {
    const engines = workers(2);
    const [a, b] = engines as [Worker, Worker];
    await a.store.ensureIndexes();
    const rule = await a.engine.rules.create(ACCOUNT, jobDoneRule());
    await a.engine.ingest(done('d_1', 0));
    await b.engine.ingest({ id: 'r_1', name: 'job.reopened', accountId: ACCOUNT, timestamp: new Date(T0.getTime() + 60_000), payload: { job: { id: 'job_7' } } });
    const [cancelled] = (await a.store.listTriggers(ACCOUNT, { ruleId: rule.id, entityKey: 'job_7' })).items;
    expect(cancelled).toMatchObject({ status: 'cancelled' });
    expect(cancelled?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'r_1', name: 'job.reopened' } });

    // Done again later; then a re-open stamped before it arrives late: the new run stays.
    await a.engine.ingest(done('d_2', 120));
    await b.engine.ingest({ id: 'r_0', name: 'job.reopened', accountId: ACCOUNT, timestamp: new Date(T0.getTime() + 90_000), payload: { job: { id: 'job_7' } } });
    const pending = (await a.store.listTriggers(ACCOUNT, { ruleId: rule.id, entityKey: 'job_7', status: 'pending' })).items;
    expect(pending.map((t) => t.triggeringEvent.id)).toEqual(['d_2']);
    await a.clock.advance(10 * 60_000);
    expect(await a.engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(a.sms.sent.map((s) => s.params['message'])).toEqual(['Job J-d_2 is done.']);
  });
});
