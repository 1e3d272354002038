import { describe, expect, it } from 'vitest';
import type { NewTrigger } from '@crm-automation/core';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoClientTestFile } from './mongo-test-file.js';

// Issue 12 on this adapter: a bad date or duration handed to the store (by a custom intake, a remote
// rule source or a bug; the engine's own checks keep them away) is a typed refusal of the whole call,
// never a document with a null due time, a NaN event time that wins supersede, or a lease stored as 1970.

const mongo = mongoClientTestFile();
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const invalid: unknown[] = [new Date(Number.NaN), 'tomorrow', T0.getTime(), null];

async function openStore(): Promise<MongoStore> {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_bad_dates') });
  await store.ensureIndexes();
  mongo.drop(store);
  return store;
}

const trigger = (eventId: string, eventMs: number, extra: Partial<NewTrigger> = {}): NewTrigger => ({
  accountId: 'acc_bad_dates',
  ruleId: 'rule_bad_dates',
  ruleVersion: 1,
  evaluateAt: at(eventMs + 60_000),
  triggeringEvent: { id: eventId, name: 'job.created', timestamp: at(eventMs), payload: {} },
  ...extra,
});
const keyed = { entityKey: 'job_1', concurrency: { mode: 'supersede' as const, maxWaitMs: 600_000 } };

describe('MongoDB store: bad dates', () => {
  it('refuses a bad event timestamp or maxWaitMs for the whole batch, and the pending run stays', async () => {
    const store = await openStore();
    await store.insertTriggers([trigger('first', 0, keyed)], at(0));
    const bad: NewTrigger[] = [
      ...invalid.map((timestamp, i) => ({ ...trigger(`ts${i}`, 1_000, keyed), triggeringEvent: { id: `ts${i}`, name: 'job.created', timestamp: timestamp as Date, payload: {} } })),
      ...invalid.map((timestamp, i) => ({ ...trigger(`plain${i}`, 1_000), triggeringEvent: { id: `plain${i}`, name: 'job.created', timestamp: timestamp as Date, payload: {} } })),
      ...[Number.NaN, -1, -1e300, 'long' as unknown as number].map((maxWaitMs, i) => trigger(`wait${i}`, 1_000, { ...keyed, concurrency: { mode: 'supersede', maxWaitMs } })),
    ];
    for (const input of bad) {
      await expect(store.insertTriggers([trigger(`ok-${input.triggeringEvent.id}`, 2_000), input], at(2_000))).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    }
    const listed = await store.listTriggers('acc_bad_dates', {});
    expect(listed.items.map((t) => [t.triggeringEvent.id, t.status])).toEqual([['first', 'pending']]);
  });

  it('refuses a lease that would end past the date range, claiming nothing', async () => {
    const store = await openStore();
    await store.insertTriggers([trigger('due', 0)], at(0));
    await expect(store.claimDueTriggers({ now: at(120_000), limit: 10, leaseMs: 8.64e15, owner: 'test' })).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    const [claimed] = await store.claimDueTriggers({ now: at(120_000), limit: 10, leaseMs: 30_000, owner: 'test' });
    expect(claimed?.leaseExpiresAt).toEqual(at(150_000));
  });
});
