import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createAutomationEngine, createManualClock, createRecordingChannel, type AutomationEngine, type ManualClock, type RecordingChannel } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { ACCOUNT, EVENT, technicianRule } from './fixtures.js';
import { postgresUrl, testPool, testResources } from './postgres-server.js';

// Issue 16 end to end on PostgreSQL: engines of their own (a pool and store each, as separate
// processes) ingest events for one job; the store's pending slot and cancelTriggers decide what is sent.

const url = postgresUrl();
let admin: pg.Pool;
const resources = testResources();
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const MINUTE = 60_000;

interface Engine {
  engine: AutomationEngine;
  store: PostgresStore;
  sms: RecordingChannel;
}

function engineOn(schema: string, name: string, clock: ManualClock): Engine {
  const store = createPostgresStore({ connectionString: url as string, schema, poolConfig: { max: 3 } });
  const sms = createRecordingChannel({ name: `${name}-sms` });
  const email = createRecordingChannel({ name: `${name}-email` });
  const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: name, clock });
  resources.onRelease(() => store.close());
  return { engine, store, sms };
}

const jobEvent = (id: string, ms: number, status: string, name = EVENT) => ({
  id,
  name,
  accountId: ACCOUNT,
  timestamp: new Date(T0 + ms),
  payload: { job: { id: 'job-7', number: 7, status, assignedTechnician: { name: 'Jane', phone: '+15557654321' }, client: { name: 'John' } } },
});

describe.skipIf(!url)('postgres store: keyed rules under several engines (issue 16)', () => {
  beforeAll(() => {
    admin = testPool(url as string, 2);
  });
  afterAll(async () => {
    await resources.release(admin);
    await admin?.end();
  });

  it('three quick status changes to Done, ingested on 4 engines at once, send one SMS (supersede); a re-opened job sends none (cancelOn)', async () => {
    const schema = resources.schema('crm_entity_engines');
    const clock = createManualClock(T0 + 10 * MINUTE);
    const engines = Array.from({ length: 4 }, (_, i) => engineOn(schema, `engine-${i}`, clock));
    const [first] = engines as [Engine];
    await first.store.ensureSchema();
    const rule = await first.engine.rules.create(
      ACCOUNT,
      technicianRule({
        trigger: { eventName: EVENT, key: '$.job.id' },
        delay: { value: 5, unit: 'minutes' },
        actions: technicianRule().actions.slice(0, 1),
        concurrency: { mode: 'supersede', maxWait: { value: 10, unit: 'minutes' } },
        cancelOn: [{ eventName: 'job.reopened' }],
      }),
    );

    // Three Done events for job-7, 20 s apart, each ingested by another engine, all at once.
    const events = [0, 1, 2].map((i) => jobEvent(`done-${i}`, 10 * MINUTE + i * 20_000, 'Done'));
    await Promise.all(events.map((event, i) => engines[i]?.engine.ingest(event)));
    const listed = await first.engine.triggers.list(ACCOUNT, { entityKey: 'job-7', ruleId: rule.id });
    expect(listed.items).toHaveLength(3);
    expect(listed.items.filter((t) => t.status === 'pending').map((t) => t.triggeringEvent.id)).toEqual(['done-2']);

    await clock.set(T0 + 16 * MINUTE);
    await Promise.all(engines.map((e) => e.engine.runDue()));
    expect(engines.flatMap((e) => e.sms.sent)).toHaveLength(1);
    const finished = (await first.engine.triggers.list(ACCOUNT, { entityKey: 'job-7' })).items;
    expect(finished.map((t) => t.status).sort()).toEqual(['cancelled', 'cancelled', 'completed']);

    // Done, then re-opened a minute later on another engine: the pending run is cancelled, nothing is sent.
    await engines[1]?.engine.ingest(jobEvent('done-3', 17 * MINUTE, 'Done'));
    await engines[2]?.engine.ingest(jobEvent('reopened-1', 18 * MINUTE, 'Open', 'job.reopened'));
    await clock.set(T0 + 30 * MINUTE);
    await Promise.all(engines.map((e) => e.engine.runDue()));
    expect(engines.flatMap((e) => e.sms.sent)).toHaveLength(1);
    const reopened = (await first.engine.triggers.list(ACCOUNT, { entityKey: 'job-7' })).items.find((t) => t.triggeringEvent.id === 'done-3');
    expect(reopened?.status).toBe('cancelled');
    expect(reopened?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'reopened-1', name: 'job.reopened' } });
  });
});
