import { afterAll, beforeAll, describe } from 'vitest';
import type pg from 'pg';
import { describeRuleStoreContract, describeStoreContract, describeTriggerStoreContract } from '@crm-automation/testing';
import { createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore, MALFORMED_IDS, type PostgresStoreOptions } from '../src/index.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;

/**
 * A fresh schema per test, dropped after it; the stores share the file's pool and must not end it.
 * Another handle (a second engine process) opens a pool of its own from the URL, which its close() ends.
 */
function factoryOf<S extends { ensureSchema(): Promise<unknown>; close(): Promise<void> }>(make: (options: PostgresStoreOptions) => S) {
  return async () => {
    const schema = uniqueSchema('crm_contract');
    const store = make({ pool, schema });
    await store.ensureSchema();
    return {
      store,
      openAnother: () => make({ connectionString: url as string, poolConfig: { max: 2 }, schema }),
      cleanup: async () => {
        await store.close();
        await dropSchema(pool, schema);
      },
    };
  };
}

describe.skipIf(!url)('postgres store contract', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    await pool?.end();
  });

  describeStoreContract('postgres', factoryOf(createPostgresStore), { malformedIds: MALFORMED_IDS });
  describeRuleStoreContract('postgres rule store', factoryOf(createPostgresRuleStore), { malformedIds: MALFORMED_IDS });
  describeTriggerStoreContract('postgres trigger store', factoryOf(createPostgresTriggerStore), { malformedIds: MALFORMED_IDS, concurrentClaims: 16 });
});
