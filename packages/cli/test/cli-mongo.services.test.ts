import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { expect } from 'vitest';
import { createMongoStore, TRIGGER_INDEXES, type MongoStore } from '@crm-automation/adapter-mongo';
import { describeCliStore } from './cli-store-suite.js';
import { spawnCli, spawnCliJson } from './spawn-cli.js';

const uri = process.env.MONGODB_URI ?? '';
const db = `cli_test_${randomUUID().slice(0, 8)}`;
let store: MongoStore;

describeCliStore(
  'MongoDB',
  async () => {
    if (!uri) throw new Error('MONGODB_URI is not set: run `scripts/services.sh up mongo` and export what it prints');
    // No indexes: ensure-indexes must create them.
    store = createMongoStore({ uri, dbName: db, autoIndex: false });
    return {
      store,
      // POSTGRES_URL emptied: with both addresses the CLI would refuse to guess.
      env: { MONGODB_URI: uri, MONGODB_DB: db, POSTGRES_URL: '' },
      cleanup: async () => {
        await store.db.dropDatabase().catch(() => {});
        await store.close();
      },
    };
  },
  (test, fixture) => {
    test('ensure-indexes creates the store and idempotency indexes, and is safe to repeat', async () => {
      expect((await store.collections.triggers.indexes()).map((i) => i.name)).toEqual(['_id_']);
      const first = await spawnCliJson<Array<{ name: string; report: Record<string, unknown> }>>(['ensure-indexes'], fixture().env);
      expect(first.map((r) => r.name)).toEqual(['automation store (rules, pending_triggers, deliveries)', 'idempotency keys (idempotency_keys)']);
      expect(first[0]?.report).toMatchObject({ retention: expect.stringMatching(/^(ttl|periodic)$/) });
      const again = await spawnCliJson<unknown[]>(['ensure-indexes'], fixture().env);
      expect(again).toEqual(first);
      const client = await MongoClient.connect(uri);
      try {
        const names = (await client.db(db).collection('pending_triggers').indexes()).map((i) => i.name);
        for (const index of TRIGGER_INDEXES) expect(names).toContain(index.name);
        expect((await client.db(db).collection('idempotency_keys').indexes()).length).toBeGreaterThan(1);
      } finally {
        await client.close();
      }
    });

    test('says which setting is missing, and refuses to guess between two stores', async () => {
      const none = await spawnCli(['purge', '--older-than', '30d'], { MONGODB_URI: '', POSTGRES_URL: '' });
      expect([none.code, none.stderr]).toEqual([1, 'error CRM_ERR_CLI_CONFIG: set MONGODB_URI or POSTGRES_URL (or pass --mongodb-uri or --postgres-url)\n']);
      const mongoless = await spawnCli(['--store', 'mongo', 'purge', '--older-than', '30d'], { MONGODB_URI: '', POSTGRES_URL: '' });
      expect([mongoless.code, mongoless.stderr]).toEqual([1, 'error CRM_ERR_CLI_CONFIG: set MONGODB_URI or pass --mongodb-uri\n']);
      const both = await spawnCli(['purge', '--older-than', '30d', '--dry-run'], { ...fixture().env, POSTGRES_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect([both.code, both.stderr]).toEqual([1, 'error CRM_ERR_CLI_CONFIG: both MONGODB_URI and POSTGRES_URL are set: choose the store with --store mongo|postgres (or STORE)\n']);
      const chosen = await spawnCliJson(['--store', 'mongo', 'purge', '--older-than', '30d', '--dry-run'], { ...fixture().env, POSTGRES_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect(chosen).toMatchObject({ dryRun: true });
    });
  },
);
