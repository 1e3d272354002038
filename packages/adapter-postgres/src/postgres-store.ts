import type { Pool } from 'pg';
import {
  checkOptions,
  optionKeys,
  silentLogger,
  type AutomationStore,
  type ContactCounter,
  type ContactPolicyStore,
  type DeliveryLedger,
  type Logger,
  type RuleStore,
  type SendThrottle,
  type SuppressionStore,
  type TriggerStore,
} from '@crm-automation/core';
import { CONNECTION_OPTION_KEYS, openDatabase, type Database, type PostgresConnectionOptions } from './connection.js';
import { contactPortsOn } from './contact-policy.js';
import { sendThrottleOn } from './send-throttle.js';
import { deliveryLedgerOn } from './delivery-ledger.js';
import { createOutcomeWriter, outcomeStatements } from './outcome-writer.js';
import { checkSchemaName } from './identifiers.js';
import { ensureSchema, type SchemaComponent, type SchemaReport } from './migrations.js';
import { RETENTION_OPTION_KEYS, resolveRetention, retentionControls, type RetentionControls, type RetentionPolicy } from './retention.js';
import { ruleStoreOn } from './rule-store.js';
import { triggerStoreOn } from './trigger-store.js';

/**
 * Options of {@link createPostgresStore}, {@link createPostgresRuleStore}, {@link createPostgresTriggerStore}
 * and {@link createPostgresDeliveryLedger}.
 */
export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /**
   * Which finished triggers and settled deliveries `purgeExpired()` / `startRetention()` delete, by age;
   * off by default (everything is kept). Deliveries are kept by the age of the trigger status they
   * match (see the README); `intent` and `unknown` ones are never purged.
   */
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

/** Retention of a store that keeps triggers or deliveries. */
export type PostgresRetentionControls = RetentionControls;

/** Rules only, for a rules service. */
export interface PostgresRuleStore extends RuleStore, PostgresStoreControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
}

/** Triggers and their delivery ledger, for a trigger service that reads rules elsewhere. */
export interface PostgresTriggerStore extends TriggerStore, Required<DeliveryLedger>, PostgresStoreControls, PostgresRetentionControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
  finishAttempts: NonNullable<TriggerStore['finishAttempts']>;
  watchDue: NonNullable<TriggerStore['watchDue']>;
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
}

/**
 * Rules, triggers, the delivery ledger and the contact policy ports (policies, suppressions, cap
 * counters, send throttle) on one pool and schema.
 */
export interface PostgresStore extends AutomationStore, Required<DeliveryLedger>, ContactPolicyStore, SuppressionStore, ContactCounter, SendThrottle, PostgresStoreControls, PostgresRetentionControls {
  /** Stops wake-ups and retention timers, then ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
  finishAttempts: NonNullable<TriggerStore['finishAttempts']>;
  watchDue: NonNullable<TriggerStore['watchDue']>;
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
}

/**
 * The contact policy ports on their own (policies, suppressions with their changes, cap counters, the
 * send throttle), for a deployment whose trigger and rule stores are split.
 */
export interface PostgresContactStore extends ContactPolicyStore, SuppressionStore, ContactCounter, SendThrottle, PostgresStoreControls {
  /** Ends the pool if the store opened it (never a handed pool). */
  close(): Promise<void>;
}

/** The delivery ledger on its own, for a process that needs it without the trigger store (a service applying receipts). */
export interface PostgresDeliveryLedger extends Required<DeliveryLedger>, PostgresStoreControls, PostgresRetentionControls {
  /** Stops retention timers, then ends the pool if the ledger opened it (never a handed pool). */
  close(): Promise<void>;
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
 * Triggers and the delivery ledger on one database: one retention over both tables (one policy), one
 * shutdown. The engine uses the ledger because the store has its methods.
 */
function triggersWithLedger(db: Database, logger: Logger, retention: ReturnType<typeof resolveRetention>) {
  // One writer for both: the attempt outcomes and the delivery outcomes of the same sends share statements.
  const outcomes = createOutcomeWriter(db, outcomeStatements(`"${db.schema}"`, true));
  const { shutdown, purgeFinished, capabilities: _capabilities, ...triggers } = triggerStoreOn(db, { logger, retention, outcomes });
  const { purgeDeliveries, ...ledger } = deliveryLedgerOn(db, { logger, retention, outcomes });
  const purge = async (now: Date) => (await purgeFinished(now)) + (await purgeDeliveries(now));
  const { stopRetention, ...retentionControl } = retentionControls(purge, retention, logger, 'finished triggers and settled deliveries');
  return {
    triggers: { ...triggers, ...ledger, ...retentionControl },
    shutdown: async () => {
      await stopRetention();
      await shutdown();
    },
  };
}

const CAPABILITIES = { name: 'postgres', ttlRetention: false, keyedConcurrency: true, cancelByEvent: true } as const;

/**
 * The PostgreSQL store of both aggregates and the delivery ledger: rules in `<schema>.rules`, triggers
 * in `<schema>.triggers`, claimed with `FOR UPDATE SKIP LOCKED` in one statement per batch, outcomes
 * written in batches under their lease tokens, intake waking idle claim loops everywhere through
 * `LISTEN/NOTIFY`, every send in `<schema>.deliveries` (the engine uses it because the store has
 * the ledger's methods; `ledger: false` on the engine turns it off), and the contact policy: account
 * policies, the suppression list with its changes, and cap counters shared by every engine on the
 * database (`contactPolicies: false` and the like on the engine turn them off). Call `ensureSchema()` once before
 * use (at deploy or start-up).
 *
 * @example
 * const store = createPostgresStore({ connectionString: process.env.POSTGRES_URL });
 * await store.ensureSchema();
 * const engine = createAutomationEngine({ store, channels });
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const { db, logger, retention } = open('createPostgresStore', options);
  const rules = ruleStoreOn(db);
  const { triggers, shutdown } = triggersWithLedger(db, logger, retention);
  return {
    ...rules,
    ...triggers,
    ...contactPortsOn(db, logger),
    ...sendThrottleOn(db, logger),
    ...controls(db, ['rules', 'triggers', 'deliveries', 'contact'], shutdown),
    capabilities: { ...CAPABILITIES },
  };
}

/** Rules only (a rules service), with the same options as {@link createPostgresStore}; `retention` does not apply. */
export function createPostgresRuleStore(options: PostgresStoreOptions): PostgresRuleStore {
  const { db } = open('createPostgresRuleStore', options);
  return { ...ruleStoreOn(db), ...controls(db, ['rules'], async () => undefined) };
}

/**
 * Triggers and the delivery ledger (a trigger service that reads rules elsewhere), with the same options
 * as {@link createPostgresStore}.
 */
export function createPostgresTriggerStore(options: PostgresStoreOptions): PostgresTriggerStore {
  const { db, logger, retention } = open('createPostgresTriggerStore', options);
  const { triggers, shutdown } = triggersWithLedger(db, logger, retention);
  return { ...triggers, ...controls(db, ['triggers', 'deliveries'], shutdown), capabilities: { ...CAPABILITIES } };
}

/**
 * The delivery ledger in `<schema>.deliveries` on its own, for a process that needs it without the
 * trigger store (a Notification Service applying provider receipts, say): point it at the trigger
 * store's database and schema. `createPostgresStore` and `createPostgresTriggerStore` already include
 * the same ledger. Same options as {@link createPostgresStore}; `retention` purges settled deliveries.
 *
 * @example
 * const ledger = createPostgresDeliveryLedger({ connectionString: process.env.POSTGRES_URL });
 * await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM123', state: 'delivered', at: new Date() });
 */
export function createPostgresDeliveryLedger(options: PostgresStoreOptions): PostgresDeliveryLedger {
  const { db, logger, retention } = open('createPostgresDeliveryLedger', options);
  const { purgeDeliveries, ...ledger } = deliveryLedgerOn(db, { logger, retention });
  const { stopRetention, ...retentionControl } = retentionControls(purgeDeliveries, retention, logger, 'settled deliveries');
  return { ...ledger, ...retentionControl, ...controls(db, ['deliveries'], stopRetention) };
}

/**
 * The contact policy ports on their own, in the `contact` tables of the schema: for a deployment with
 * split stores (`createPostgresTriggerStore` in a trigger service), give it to the engine that fires,
 * next to its trigger store. `createPostgresStore` already includes the same tables and ports. Same
 * options as {@link createPostgresStore}; `retention` does not apply (counters expire on their own,
 * the suppression list and its changes are kept).
 *
 * @example
 * const contact = createPostgresContactStore({ connectionString: process.env.POSTGRES_URL });
 * await contact.ensureSchema();
 * const engine = createAutomationEngine({ triggerStore, ruleSource, channels, contactPolicies: contact, suppressions: contact, contactCounter: contact, sendThrottle: contact });
 */
export function createPostgresContactStore(options: PostgresStoreOptions): PostgresContactStore {
  const { db, logger } = open('createPostgresContactStore', options);
  return { ...contactPortsOn(db, logger), ...sendThrottleOn(db, logger), ...controls(db, ['contact'], async () => undefined) };
}
