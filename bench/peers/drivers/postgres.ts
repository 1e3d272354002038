import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server every PostgreSQL-backed driver uses. */
export const postgresUrl = (): string => process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';

/** A fresh schema name per run, so runs never see each other's tables and cleanup is one DROP. */
export const runSchemaName = (prefix: string): string => `bench_${prefix}_${randomBytes(4).toString('hex')}`;

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export const createSchema = (schema: string): Promise<void> =>
  withClient(async (client) => {
    await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
  });

export const dropSchema = (schema: string): Promise<void> =>
  withClient(async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  });

/** Server version, address and the settings that decide how much each commit costs. */
export const describePostgres = (): Promise<string> =>
  withClient(async (client) => {
    const setting = async (name: string) => ((await client.query<{ value: string }>(`SELECT current_setting($1) AS value`, [name])).rows[0]?.value ?? '?');
    const url = new URL(postgresUrl());
    return `PostgreSQL ${await setting('server_version')} at ${url.host} (fsync ${await setting('fsync')}, synchronous_commit ${await setting('synchronous_commit')}, shared_buffers ${await setting('shared_buffers')})`;
  });
