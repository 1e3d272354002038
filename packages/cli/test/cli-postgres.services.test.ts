import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createPostgresStore, type PostgresStore } from '@crm-automation/adapter-postgres';
import { describeCliStore } from './cli-store-suite.js';
import { spawnCli, spawnCliJson } from './spawn-cli.js';

const url = process.env.POSTGRES_URL ?? '';
const schema = `cli_test_${randomBytes(4).toString('hex')}`;
/** A schema nothing has set up, for `ensure-schema` to create. */
const fresh = `${schema}_fresh`;
let store: PostgresStore;
let pool: pg.Pool;

const tablesOf = async (name: string) =>
  (await pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [name])).rows.map((r) => r.table_name);

describeCliStore(
  'PostgreSQL',
  async () => {
    if (!url) throw new Error('POSTGRES_URL is not set: run `scripts/services.sh up postgres` and export what it prints (bash scripts/test-services.sh does)');
    pool = new pg.Pool({ connectionString: url, max: 2 });
    store = createPostgresStore({ pool, schema });
    // Seeding needs the tables; ensure-schema on a fresh schema is tested below.
    await store.ensureSchema();
    return {
      store,
      // MONGODB_URI emptied: with both addresses the CLI would refuse to guess.
      env: { POSTGRES_URL: url, POSTGRES_SCHEMA: schema, MONGODB_URI: '' },
      cleanup: async () => {
        for (const name of [schema, fresh]) await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => {});
        await store.close();
        await pool.end();
      },
    };
  },
  (test, fixture) => {
    test('ensure-schema (and its name ensure-indexes) creates the tables and indexes by migration, and is safe to repeat', async () => {
      const env = { ...fixture().env, POSTGRES_SCHEMA: fresh };
      const before = await spawnCli(['triggers', 'list', '--account', 'acc_1'], env);
      expect([before.code, before.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CONFIG: postgres store: schema ".*_fresh" is not set up .*call ensureSchema\(\) first\n$/)]);
      const first = await spawnCliJson<Array<{ name: string; what: string; report: { schema: string; applied: string[]; versions: string[] } }>>(['ensure-schema'], env);
      expect(first.map((r) => [r.name, r.what])).toEqual([
        [`automation store (schema ${fresh}: rules, triggers, deliveries, contact policy)`, 'schema'],
        [`idempotency keys (schema ${fresh}: idempotency_keys)`, 'schema'],
      ]);
      expect(first[0]?.report.applied.some((m) => m.startsWith('rules 1'))).toBe(true);
      expect(first[0]?.report.applied.some((m) => m.startsWith('triggers 1'))).toBe(true);
      expect(first[0]?.report.applied.some((m) => m.startsWith('deliveries 1'))).toBe(true);
      expect(first[1]?.report.applied.some((m) => m.startsWith('idempotency 1'))).toBe(true);
      expect(await tablesOf(fresh)).toEqual(['contact_counts', 'contact_policies', 'deliveries', 'idempotency_keys', 'rules', 'schema_migrations', 'send_throttles', 'suppression_changes', 'suppressions', 'triggers']);
      const indexes = (await pool.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [fresh])).rows.map((r) => r.indexname);
      for (const index of ['rules_for_event', 'triggers_due', 'triggers_leases', 'triggers_intake_key', 'triggers_finished']) expect(indexes).toContain(index);

      const again = await spawnCli(['ensure-indexes'], env);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`^automation store \\(schema ${fresh}: rules, triggers, deliveries, contact policy\\): schema ensured \\(schema=${fresh} applied=none versions=rules \\d+, triggers \\d+, deliveries \\d+, contact \\d+\\)\n`));
      expect(again.stdout).toContain('idempotency keys');
      const without = await spawnCliJson<unknown[]>(['ensure-schema', '--no-idempotency'], env);
      expect(without).toHaveLength(1);
    });

    test('the purge dry run on a schema not set up says what to do', async () => {
      const run = await spawnCli(['purge', '--older-than', '30d', '--dry-run'], { ...fixture().env, POSTGRES_SCHEMA: `${schema}_none` });
      expect([run.code, run.stderr]).toEqual([1, `error CRM_ERR_CLI_CONFIG: schema "${schema}_none" has no triggers table: run crm-automation ensure-schema first\n`]);
    });

    test('is chosen by POSTGRES_URL alone, or by --store when both addresses are given', async () => {
      const both = { ...fixture().env, MONGODB_URI: 'mongodb://127.0.0.1:1' };
      expect((await spawnCli(['triggers', 'list', '--account', 'acc_1'], both)).stderr).toMatch(/both MONGODB_URI and POSTGRES_URL are set/);
      const chosen = await spawnCliJson<unknown[]>(['--store', 'postgres', 'triggers', 'list', '--account', 'acc_1'], both);
      expect(chosen.length).toBeGreaterThan(0);
      const byEnv = await spawnCliJson<unknown[]>(['triggers', 'list', '--account', 'acc_1'], { ...both, STORE: 'postgres' });
      expect(byEnv).toEqual(chosen);
      const missing = await spawnCli(['--store', 'postgres', 'triggers', 'list', '--account', 'acc_1'], { MONGODB_URI: '', POSTGRES_URL: '' });
      expect(missing.stderr).toBe('error CRM_ERR_CLI_CONFIG: set POSTGRES_URL or pass --postgres-url\n');
    });
  },
);
