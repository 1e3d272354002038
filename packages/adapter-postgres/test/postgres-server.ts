import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PostgresStoreOptions } from '../src/index.js';

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

/**
 * What a services-test file opens on the server: schemas of its own and things to close. `release`
 * (the file's afterAll) closes the latter last-first, then drops the schemas with `pool`; a failure of
 * one does not keep the others open.
 */
export function testResources() {
  const schemas: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  return {
    /** A new schema name, dropped by `release`. */
    schema(prefix: string): string {
      const schema = uniqueSchema(prefix);
      schemas.push(schema);
      return schema;
    },
    onRelease(close: () => Promise<void>): void {
      closers.push(close);
    },
    async release(pool: pg.Pool | undefined): Promise<void> {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      if (pool) for (const schema of schemas) await dropSchema(pool, schema).catch(() => undefined);
    },
  };
}

/**
 * A contract suite's factory: a fresh schema per test, dropped after it. The store shares the file's
 * pool (`pool()`, read when a test opens it) and must not end it; each other handle (a second engine
 * process) opens a pool of its own from `url`, which its close() ends, so the concurrent cases race on
 * separate connections and only the database keeps the counts.
 */
export function schemaPerTest<S extends { ensureSchema(): Promise<unknown>; close(): Promise<void> }>(
  make: (options: PostgresStoreOptions) => S,
  where: { pool: () => pg.Pool; url: string; prefix: string; anotherPoolMax: number },
) {
  return async () => {
    const pool = where.pool();
    const schema = uniqueSchema(where.prefix);
    const store = make({ pool, schema });
    await store.ensureSchema();
    return {
      store,
      openAnother: () => make({ connectionString: where.url, poolConfig: { max: where.anotherPoolMax }, schema }),
      cleanup: async () => {
        await store.close();
        await dropSchema(pool, schema);
      },
    };
  };
}
