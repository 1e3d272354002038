import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The server these tests use: POSTGRES_URL (scripts/test-services.sh exports the cluster that
 * scripts/services.sh runs on 127.0.0.1:5433). In CI a missing URL fails the run; locally the files
 * are skipped with a message saying how to run them.
 */
export function postgresUrl(): string | undefined {
  const url = process.env['POSTGRES_URL'];
  if (url) return url;
  if (process.env['CI'] === 'true') throw new Error('POSTGRES_URL is not set: in CI the PostgreSQL adapter tests must run (scripts/test-services.sh starts the server and exports it)');
  console.warn('[adapter-postgres] POSTGRES_URL is not set: skipping the PostgreSQL tests. Run them with: bash scripts/test-services.sh packages/adapter-postgres');
  return undefined;
}

/** A schema name of this test run's own, so that files and runs never share tables. */
export const uniqueSchema = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A pool the test owns (stores handed it never end it). */
export const testPool = (url: string, max = 10) => new pg.Pool({ connectionString: url, max });
