import { afterAll, beforeAll, describe } from 'vitest';
import type pg from 'pg';
import { describeRuleStoreContract, describeStoreContract, describeTriggerStoreContract } from '@crm-automation/testing';
import { createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore, MALFORMED_IDS, type PostgresStoreOptions } from '../src/index.js';
import { postgresUrl, schemaPerTest, testPool } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;

const factoryOf = <S extends { ensureSchema(): Promise<unknown>; close(): Promise<void> }>(make: (options: PostgresStoreOptions) => S) =>
  schemaPerTest(make, { pool: () => pool, url: url as string, prefix: 'crm_contract', anotherPoolMax: 2 });

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
