import type { Pool } from 'pg';
import { AutomationError, checkOptions, optionKeys, silentLogger, type AutomationStore, type Logger, type RuleStore, type TriggerStore } from '@crm-automation/core';
import { CONNECTION_OPTION_KEYS, openDatabase, type Database, type PostgresConnectionOptions } from './connection.js';
import { checkSchemaName } from './identifiers.js';
import { ensureSchema, type SchemaComponent, type SchemaReport } from './migrations.js';
import { RETENTION_OPTION_KEYS, resolveRetention, type RetentionHandle, type RetentionPolicy } from './retention.js';
import { ruleStoreOn } from './rule-store.js';
import { triggerStoreOn } from './trigger-store.js';

/** Options of {@link createPostgresStore}, {@link createPostgresRuleStore} and {@link createPostgresTriggerStore}. */
export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** Which finished triggers `purgeExpired()` / `startRetention()` delete, by age; off by default (everything is kept). */
  retention?: RetentionPolicy | false | undefined;
  /** Where lost connections and retention failures are reported. Silent by default. */
  logger?: Logger | undefined;
}

/** What every PostgreSQL store has besides its port. */
export interface PostgresStoreControls {
  readonly pool: Pool;
  readonly schema: string;
  /**
   * Creates the schema and applies the migrations this store needs, in one transaction under an
   * advisory lock: safe to call any number of times, from any number of processes at once.
   */
  ensureSchema(): Promise<SchemaReport>;
  /**
   * Drops the schema and everything in it (`DROP SCHEMA ... CASCADE`), the tables of every store
   * sharing it included. For tests and benchmarks that use a schema per run; never needed otherwise.
   */
  dropSchema(): Promise<void>;
}

export interface PostgresRetentionControls {
  /** Deletes the finished triggers the retention policy no longer keeps (nothing without a policy); returns how many. */
  purgeExpired(now?: Date): Promise<number>;
  /** Runs `purgeExpired` periodically (default every `retention.intervalMs`, else 60 s), in this process. */
  startRetention(options?: { intervalMs?: number | undefined; now?: (() => Date) | undefined }): RetentionHandle;
}

/** Rules only, for a rules service. */
export interface PostgresRuleStore extends RuleStore, PostgresStoreControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
}

/** Triggers only, for a trigger service that reads rules elsewhere. */
export interface PostgresTriggerStore extends TriggerStore, PostgresStoreControls, PostgresRetentionControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
  finishAttempts: NonNullable<TriggerStore['finishAttempts']>;
  watchDue: NonNullable<TriggerStore['watchDue']>;
}

/** Rules and triggers on one pool and schema. */
export interface PostgresStore extends AutomationStore, PostgresStoreControls, PostgresRetentionControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
  finishAttempts: NonNullable<TriggerStore['finishAttempts']>;
  watchDue: NonNullable<TriggerStore['watchDue']>;
}

const STORE_OPTION_KEYS = optionKeys<PostgresStoreOptions>()(...CONNECTION_OPTION_KEYS, 'retention', 'logger');

function open(factory: string, options: PostgresStoreOptions) {
  checkOptions(factory, options, STORE_OPTION_KEYS, true);
  if (options.retention) checkOptions(`${factory}: retention`, options.retention, optionKeys<RetentionPolicy>()(...RETENTION_OPTION_KEYS));
  const schema = checkSchemaName(factory, options.schema);
  const logger = options.logger ?? silentLogger;
  const retention = resolveRetention(options.retention);
  const db = openDatabase(factory, options, schema, logger);
  return { db, logger, retention };
}

function controls(db: Database, components: readonly SchemaComponent[], shutdown: () => Promise<void>): PostgresStoreControls & { close(): Promise<void> } {
  let closing: Promise<void> | undefined;
  return {
    pool: db.pool,
    schema: db.schema,
    ensureSchema: () => ensureSchema(db, components),
    dropSchema: async () => void (await db.query(`DROP SCHEMA IF EXISTS "${db.schema}" CASCADE`)),
    close() {
      closing ??= shutdown().then(() => db.close());
      return closing;
    },
  };
}

/**
 * The PostgreSQL store of both aggregates: rules in `<schema>.rules`, triggers in
 * `<schema>.triggers`, claimed with `FOR UPDATE SKIP LOCKED` in one statement per batch, outcomes
 * written in batches under their lease tokens, and intake waking idle claim loops everywhere through
 * `LISTEN/NOTIFY`. Call `ensureSchema()` once before use (at deploy or start-up).
 *
 * @example
 * const store = createPostgresStore({ connectionString: process.env.POSTGRES_URL });
 * await store.ensureSchema();
 * const engine = createAutomationEngine({ store, channels });
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const { db, logger, retention } = open('createPostgresStore', options);
  const rules = ruleStoreOn(db);
  const { shutdown, capabilities: _capabilities, finishAttempts, watchDue, ...triggers } = triggerStoreOn(db, { logger, retention });
  return {
    ...rules,
    ...triggers,
    finishAttempts,
    watchDue,
    ...controls(db, ['rules', 'triggers'], shutdown),
    capabilities: { name: 'postgres', ttlRetention: false },
  };
}

/** Rules only (a rules service), with the same options as {@link createPostgresStore}; `retention` does not apply. */
export function createPostgresRuleStore(options: PostgresStoreOptions): PostgresRuleStore {
  const { db } = open('createPostgresRuleStore', options);
  return { ...ruleStoreOn(db), ...controls(db, ['rules'], async () => undefined) };
}

/** Triggers only (a trigger service that reads rules elsewhere), with the same options as {@link createPostgresStore}. */
export function createPostgresTriggerStore(options: PostgresStoreOptions): PostgresTriggerStore {
  const { db, logger, retention } = open('createPostgresTriggerStore', options);
  const { shutdown, finishAttempts, watchDue, ...triggers } = triggerStoreOn(db, { logger, retention });
  return { ...triggers, finishAttempts, watchDue, ...controls(db, ['triggers'], shutdown) };
}
