import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { NewTrigger } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

// Issue 12 on this adapter: an invalid event timestamp handed to the store (by a custom intake or a
// bug; the engine's own checks keep it away) is a typed refusal of the whole batch, not a trigger whose
// event time is stored as null and then orders supersede and cancel by nothing.

const url = postgresUrl();
let pool: pg.Pool;
const schemas: string[] = [];
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);


async function storeOn(): Promise<PostgresStore> {
  const schema = uniqueSchema('crm_bad_dates');
  schemas.push(schema);
  const store = createPostgresStore({ pool, schema });
  await store.ensureSchema();
  return store;
}

const trigger = (eventId: string, timestamp: unknown, extra: Partial<NewTrigger> = {}): NewTrigger => ({
  accountId: 'acc_bad_dates',
  ruleId: 'rule_bad_dates',
  ruleVersion: 1,
  evaluateAt: at(60_000),
  triggeringEvent: { id: eventId, name: 'job.created', timestamp: timestamp as Date, payload: {} },
  ...extra,
});

describe.skipIf(!url)('PostgreSQL store: bad event timestamps', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(pool, schema).catch(() => undefined);
    await pool.end();
  });

  it('refuses the whole batch, keyed or not, and stores nothing of it', async () => {
    const store = await storeOn();
    for (const [i, timestamp] of [new Date(Number.NaN), 'tomorrow', T0.getTime(), null, undefined, new Date(8.64e15)].entries()) {
      for (const extra of [{}, { entityKey: 'job_1', concurrency: { mode: 'supersede' as const } }]) {
        await expect(store.insertTriggers([trigger(`ok${i}`, at(0)), trigger(`bad${i}`, timestamp, extra)], at(0))).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      }
    }
    expect((await store.listTriggers('acc_bad_dates', {})).items).toEqual([]);
  });
});
