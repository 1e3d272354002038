/**
 * The durable stores the delivery soak runs on, opened the same way by the orchestrator and by every
 * engine process: MongoDB (`@crm-automation/adapter-mongo`, a database per run) and PostgreSQL
 * (`@crm-automation/adapter-postgres`, a schema per run). A store is usable here only when it keeps a
 * delivery ledger (the engine finds it by the ledger's methods on the store).
 */
import type { AutomationStore, DeliveryLedger } from '@crm-automation/core';

export type SoakStoreKind = 'mongo' | 'postgres';

export const SOAK_STORE_KINDS: readonly SoakStoreKind[] = ['mongo', 'postgres'];

export const mongoUri = (): string => process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
export const postgresUrl = (): string => process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';

export interface OpenedSoakStore {
  store: AutomationStore;
  /** The store's own ledger; undefined when the adapter keeps none (the soak then has nothing to audit). */
  ledger: DeliveryLedger | undefined;
  describe(): string;
  /** Creates indexes or the schema (orchestrator only, before any engine starts). */
  prepare(): Promise<void>;
  /** Drops the run's database or schema. */
  drop(): Promise<void>;
  close(): Promise<void>;
}

/** The store's ledger, found the way the engine finds it (the port's methods on the store). */
function ledgerOf(store: object): DeliveryLedger | undefined {
  const candidate = store as Partial<DeliveryLedger>;
  return typeof candidate.recordIntents === 'function' && typeof candidate.recordOutcomes === 'function' && typeof candidate.listDeliveries === 'function' ? (store as DeliveryLedger) : undefined;
}

/** `name` is the run's database (Mongo) or schema (PostgreSQL). */
export async function openSoakStore(kind: SoakStoreKind, name: string): Promise<OpenedSoakStore> {
  if (kind === 'mongo') {
    const { createMongoStore } = await import('@crm-automation/adapter-mongo');
    const store = createMongoStore({ uri: mongoUri(), dbName: name });
    return {
      store,
      ledger: ledgerOf(store),
      describe: () => `MongoDB-wire server at ${new URL(mongoUri()).host}, database ${name}`,
      prepare: async () => {
        await store.ensureIndexes();
      },
      drop: async () => {
        await store.db.dropDatabase();
      },
      close: () => store.close(),
    };
  }
  const { createPostgresStore } = await import('@crm-automation/adapter-postgres');
  const store = createPostgresStore({ connectionString: postgresUrl(), schema: name });
  return {
    store,
    ledger: ledgerOf(store),
    describe: () => `PostgreSQL at ${new URL(postgresUrl()).host}, schema ${name}`,
    prepare: async () => {
      await store.ensureSchema();
    },
    drop: () => store.dropSchema(),
    close: () => store.close(),
  };
}
