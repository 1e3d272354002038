export { createPostgresStore, createPostgresRuleStore, createPostgresTriggerStore, createPostgresDeliveryLedger, createPostgresContactStore } from './postgres-store.js';
export type {
  PostgresStore,
  PostgresRuleStore,
  PostgresTriggerStore,
  PostgresDeliveryLedger,
  PostgresContactStore,
  PostgresStoreOptions,
  PostgresStoreControls,
  PostgresRetentionControls,
} from './postgres-store.js';
export { createPostgresIdempotencyStore } from './idempotency-store.js';
export type { PostgresIdempotencyStore, PostgresIdempotencyStoreOptions } from './idempotency-store.js';
export type { PostgresConnectionOptions } from './connection.js';
export type { RetentionPolicy, RetentionHandle } from './retention.js';
export { DEFAULT_RETENTION_MS } from './retention.js';
export { MIGRATIONS } from './migrations.js';
export type { Migration, SchemaComponent, SchemaReport, AppliedMigration } from './migrations.js';
export { DEFAULT_SCHEMA } from './identifiers.js';
export { MALFORMED_IDS } from './ids.js';
export { claimStatement } from './trigger-statements.js';
