import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { describeContactPolicyContract } from '@crm-automation/testing';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;

/**
 * A fresh schema per test, dropped after it; the store shares the file's pool. Each other handle (an
 * engine in another process) opens a pool of its own from the URL, so the concurrent cases race on
 * separate connections and only the database keeps the counts.
 */
async function openStore() {
  const schema = uniqueSchema('crm_contact');
  const store = createPostgresStore({ pool, schema });
  await store.ensureSchema();
  return {
    store,
    openAnother: () => createPostgresStore({ connectionString: url as string, poolConfig: { max: 4 }, schema }),
    cleanup: async () => {
      await store.close();
      await dropSchema(pool, schema);
    },
  };
}

describe.skipIf(!url)('postgres contact policy', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    await pool?.end();
  });

  describeContactPolicyContract('postgres', openStore);

  describe('postgres specifics', () => {
    let opened: Awaited<ReturnType<typeof openStore>> | undefined;
    const store = async (): Promise<PostgresStore> => {
      opened = await openStore();
      return opened.store;
    };
    afterAll(async () => {
      await opened?.cleanup();
    });

    it('keeps one row per bucket and forgets expired ones on a later reserve, without another schema', async () => {
      const s = await store();
      const t0 = new Date('2030-01-01T00:00:00.000Z');
      const bucket = { key: 'sms|+15550001111|day|2030-01-01', max: 2, expiresAt: new Date(t0.getTime() + 1_000) };
      for (let i = 0; i < 3; i++) await s.reserve({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', buckets: [bucket], holder: `h${i}`, now: t0 });
      const rows = async () => (await pool.query(`SELECT bucket_key, holders, expires_at FROM "${s.schema}".contact_counts ORDER BY bucket_key`)).rows;
      expect(await rows()).toEqual([{ bucket_key: bucket.key, holders: ['h0', 'h1'], expires_at: bucket.expiresAt }]);
      const renewed = { ...bucket, expiresAt: new Date(t0.getTime() + 5_000) };
      expect(await s.reserve({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', buckets: [renewed], holder: 'h9', now: bucket.expiresAt })).toEqual({ ok: true });
      expect(await rows()).toEqual([{ bucket_key: bucket.key, holders: ['h9'], expires_at: renewed.expiresAt }]);
    });

    it('says to call ensureSchema() when the tables are missing, from a reserve too', async () => {
      const bare = createPostgresStore({ pool, schema: uniqueSchema('crm_contact_bare') });
      const now = new Date('2030-01-01T00:00:00.000Z');
      await expect(bare.getContactPolicy('acc_1')).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      await expect(bare.reserve({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', buckets: [{ key: 'k', max: 1, expiresAt: now }], holder: 'h', now })).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      await bare.close();
    });
  });
});
