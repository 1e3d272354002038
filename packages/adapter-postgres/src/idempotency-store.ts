import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { checkOptions, optionKeys, positiveIntOption, silentLogger, type IdempotencyReservation, type IdempotencyStore, type Logger } from '@crm-automation/core';
import { CONNECTION_OPTION_KEYS, openDatabase, statement, type PostgresConnectionOptions } from './connection.js';
import { checkSchemaName } from './identifiers.js';
import { ensureSchema, type SchemaReport } from './migrations.js';

export interface PostgresIdempotencyStoreOptions extends PostgresConnectionOptions {
  /** How long a sent key is remembered, overriding the `ttlMs` that `withIdempotency` passes. */
  ttlMs?: number | undefined;
  /** Time source in ms (tests); default `Date.now`. Expiry is judged by this clock, not the server's. */
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
}

export interface PostgresIdempotencyStore extends IdempotencyStore {
  readonly pool: Pool;
  readonly schema: string;
  /** Creates the `idempotency_keys` table (migrations as for the store); safe to repeat and to run concurrently. */
  ensureSchema(): Promise<SchemaReport>;
  /** Drops the schema and everything in it, as the stores' `dropSchema()` does (tests, benchmarks). */
  dropSchema(): Promise<void>;
  /** Deletes entries whose lock or remembered period has passed; returns how many. */
  purgeExpired(): Promise<number>;
  /** Ends the pool if the store opened it. */
  close(): Promise<void>;
}

/**
 * Keys as stored: `%` and U+0000 (which PostgreSQL text cannot hold) percent-encoded, a one-to-one
 * mapping, so every key a sender passes has a row of its own.
 */
const storedKey = (key: string) => (key.includes('%') || key.includes('\u0000') ? key.replaceAll('%', '%25').replaceAll('\u0000', '%00') : key);

const OPTION_KEYS = optionKeys<PostgresIdempotencyStoreOptions>()(...CONNECTION_OPTION_KEYS, 'ttlMs', 'now', 'logger');

/**
 * Idempotency keys in `<schema>.idempotency_keys`, shared by every sender: `acquire` is one
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`, atomic under the key's row lock, so exactly one
 * of many concurrent senders gets a fresh or expired key; `complete` stores the result for its
 * period; `release` deletes the reservation only while it is still this holder's.
 *
 * @example
 * const idempotency = createPostgresIdempotencyStore({ pool });
 * await idempotency.ensureSchema();
 * createAutomationEngine({ store, channels, idempotency });
 */
export function createPostgresIdempotencyStore(options: PostgresIdempotencyStoreOptions): PostgresIdempotencyStore {
  checkOptions('createPostgresIdempotencyStore', options, OPTION_KEYS, true);
  const schema = checkSchemaName('createPostgresIdempotencyStore', options.schema);
  const ttlOverride = options.ttlMs === undefined ? undefined : positiveIntOption('createPostgresIdempotencyStore: ttlMs', options.ttlMs, 1);
  const clock = options.now ?? Date.now;
  const db = openDatabase('createPostgresIdempotencyStore', options, schema, options.logger ?? silentLogger);
  const s = `"${schema}"`;
  const sql = {
    acquire: statement(`
      INSERT INTO ${s}.idempotency_keys AS k (key, state, holder, result, expires_at)
      VALUES ($1, 'in-flight', $2, NULL, $3::timestamptz)
      ON CONFLICT (key) DO UPDATE SET state = 'in-flight', holder = EXCLUDED.holder, result = NULL, expires_at = EXCLUDED.expires_at
      WHERE k.expires_at <= $4::timestamptz
      RETURNING true AS acquired`),
    read: statement(`SELECT state, result, expires_at FROM ${s}.idempotency_keys WHERE key = $1`),
    complete: statement(`
      INSERT INTO ${s}.idempotency_keys AS k (key, state, holder, result, expires_at)
      VALUES ($1, 'done', NULL, $2::jsonb, $3::timestamptz)
      ON CONFLICT (key) DO UPDATE SET state = 'done', holder = NULL, result = EXCLUDED.result, expires_at = EXCLUDED.expires_at`),
    release: statement(`DELETE FROM ${s}.idempotency_keys WHERE key = $1 AND state = 'in-flight' AND holder = $2`),
    purge: statement(`DELETE FROM ${s}.idempotency_keys WHERE expires_at <= $1::timestamptz`),
  };
  // Reservations this store holds, by key, so that release removes only its own.
  const held = new Map<string, string>();
  const iso = (ms: number) => new Date(ms).toISOString();

  return {
    pool: db.pool,
    schema,
    ensureSchema: () => ensureSchema(db, ['idempotency']),
    dropSchema: async () => void (await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),

    async acquire(key, lockMs): Promise<IdempotencyReservation> {
      const stored = storedKey(key);
      const holder = randomUUID();
      // The entry can expire or be released between the refused insert and the read: try again then.
      for (let round = 0; round < 3; round++) {
        const now = clock();
        const { rows } = await db.query<{ acquired: boolean }>(sql.acquire, [stored, holder, iso(now + Math.max(1, Math.ceil(lockMs))), iso(now)]);
        if (rows[0]?.acquired) {
          held.set(key, holder);
          return { state: 'acquired' };
        }
        const current = (await db.query<{ state: 'in-flight' | 'done'; result: unknown; expires_at: Date }>(sql.read, [stored])).rows[0];
        if (!current || current.expires_at.getTime() <= clock()) continue;
        return current.state === 'done' ? { state: 'done', result: current.result ?? null } : { state: 'in-flight' };
      }
      return { state: 'in-flight' };
    },

    async complete(key, result, ttlMs) {
      held.delete(key);
      const ttl = Math.max(1, Math.ceil(ttlOverride ?? ttlMs));
      await db.query(sql.complete, [storedKey(key), JSON.stringify(result ?? null), iso(clock() + ttl)]);
    },

    async release(key) {
      const holder = held.get(key);
      held.delete(key);
      if (holder === undefined) return;
      await db.query(sql.release, [storedKey(key), holder]);
    },

    async purgeExpired() {
      return (await db.query(sql.purge, [iso(clock())])).rowCount ?? 0;
    },

    close: () => db.close(),
  };
}
