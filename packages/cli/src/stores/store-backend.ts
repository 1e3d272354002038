import type { AutomationStore } from '@crm-automation/core';
import type { IndexedCollection } from '../commands/ensure-indexes.js';
import type { RetentionTarget } from '../commands/purge.js';

export type StoreKind = 'mongo' | 'postgres';
export const STORE_KINDS: readonly StoreKind[] = ['mongo', 'postgres'];

/** Database (MongoDB) or schema (PostgreSQL) the CLI uses when none is given: the adapters' and the apps' default. */
export const DEFAULT_DATABASE_NAME = 'crm_automation';

/** The store the services use, opened by the CLI, with what only this kind of store can do. */
export interface StoreBackend {
  kind: StoreKind;
  /** Both aggregates: an engine over it applies the engine's rules to every change. */
  store: AutomationStore;
  /** Purges through the store's `purgeTriggers`, and counts the same filter for dry runs. */
  retention: RetentionTarget;
  /** What `ensure-indexes` (alias `ensure-schema`) brings up to date; idempotency keys unless `false`. */
  indexTargets(idempotencyCollection: string | false): IndexedCollection[];
  close(): Promise<void>;
}
