import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { describeContactPolicyContract, describeSendThrottleContract, expectBatchedContactReads, expectEngineFiresByContactStore } from '@crm-automation/testing';
import { createPostgresContactStore, createPostgresStore, type PostgresStore } from '../src/index.js';
import { dropSchema, postgresUrl, schemaPerTest, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;

/** A fresh schema per test (see schemaPerTest); other handles have pools of their own. */
const openStore = schemaPerTest(createPostgresStore, { pool: () => pool, url: url as string, prefix: 'crm_contact', anotherPoolMax: 4 });

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

    it('has a standalone contact store for split deployments: its own tables only, and an engine fires by it', async () => {
      const schema = uniqueSchema('crm_contact_split');
      const contact = createPostgresContactStore({ pool, schema });
      try {
        const report = await contact.ensureSchema();
        expect(Object.keys(report.versions)).toEqual(['contact']);
        const tables = (await pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema])).rows.map((r) => r.table_name);
        expect(tables).not.toContain('triggers');
        expect(tables).not.toContain('rules');
        expect(tables).toEqual(expect.arrayContaining(['contact_counts', 'send_throttles']));
        await expectEngineFiresByContactStore(contact);
        await expectBatchedContactReads(contact);
      } finally {
        await contact.close();
        await dropSchema(pool, schema);
      }
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

describe.skipIf(!url)('postgres send throttle', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    await pool?.end();
  });

  describeSendThrottleContract('postgres', openStore);

  describe('postgres specifics', () => {
    let opened: Awaited<ReturnType<typeof openStore>> | undefined;
    afterAll(async () => {
      await opened?.cleanup();
    });

    it('keeps one row per bucket, writes nothing on a refusal, and applies its migration once', async () => {
      opened = await openStore();
      const s = opened.store;
      const t0 = new Date('2030-01-01T00:00:00.000Z');
      const take = () => s.take({ accountId: 'acc_1', channel: 'sms', now: t0, perSecond: 4, burst: 2 });
      const rows = async () => (await pool.query(`SELECT account_id, channel, tokens, updated_at_ms, expires_at, xmin::text AS xmin FROM "${s.schema}".send_throttles`)).rows;
      expect(await take()).toEqual({ ok: true });
      expect(await take()).toEqual({ ok: true });
      const [after] = await rows();
      expect(after).toMatchObject({ account_id: 'acc_1', channel: 'sms', tokens: 0, updated_at_ms: String(t0.getTime()), expires_at: new Date(t0.getTime() + 500) });
      expect(await take()).toEqual({ ok: false, retryAtMs: t0.getTime() + 250 });
      expect(await rows()).toEqual([after]);
      const again = await s.ensureSchema();
      expect(again.applied).toEqual([]);
      expect(again.versions).toMatchObject({ contact: 2 });
    });

    it('grants one token of a bucket of 1 that 3 handles create at once, and dates every refusal from the committed row', async () => {
      // Takes that meet the first insert of a bucket do not have its row in their snapshot: the
      // refusal's retryAtMs must still come from it.
      const subject = await openStore();
      const others = await Promise.all([subject.openAnother(), subject.openAnother()]);
      try {
        const t0 = new Date('2030-01-01T00:00:00.000Z');
        for (let round = 0; round < 5; round++) {
          const request = { accountId: `acc_${round}`, channel: 'sms', now: t0, perSecond: 4 };
          const results = await Promise.all([subject.store, ...others].flatMap((h) => [h.take(request), h.take(request), h.take(request)]));
          expect(results.filter((r) => r.ok)).toHaveLength(1);
          expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 8 }, () => ({ ok: false, retryAtMs: t0.getTime() + 250 })));
        }
      } finally {
        await Promise.all(others.map((o) => o.close()));
        await subject.cleanup();
      }
    });

    it('refuses a perSecond that is not above 0 with a config error', async () => {
      const bare = createPostgresStore({ pool, schema: uniqueSchema('crm_throttle_bare') });
      await expect(bare.take({ accountId: 'acc_1', channel: 'sms', now: new Date(), perSecond: 0 })).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      await expect(bare.take({ accountId: 'acc_1', channel: 'sms', now: new Date(), perSecond: 1 })).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      await bare.close();
    });
  });
});
