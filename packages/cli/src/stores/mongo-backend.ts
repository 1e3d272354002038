import type { IndexedCollection } from '../commands/ensure-indexes.js';
import { loadAdapter } from '../load-adapter.js';
import type { StoreBackend } from './store-backend.js';
import { explainUnreachable, STORE_CONNECT_TIMEOUT_MS } from './store-unreachable.js';

/**
 * The MongoDB store, reached once before any command runs (a ping) so that a server that is down
 * fails in seconds with a hint; indexes are created only by `ensure-indexes` (`autoIndex: false`).
 */
export async function openMongoBackend(uri: string, dbName: string | undefined): Promise<StoreBackend> {
  const { createMongoIdempotencyStore, createMongoStore } = await loadAdapter('@crm-automation/adapter-mongo', 'a MongoDB store (MONGODB_URI)', () => import('@crm-automation/adapter-mongo'));
  const store = createMongoStore({
    uri,
    dbName,
    autoIndex: false,
    clientOptions: { serverSelectionTimeoutMS: STORE_CONNECT_TIMEOUT_MS, connectTimeoutMS: STORE_CONNECT_TIMEOUT_MS },
  });
  try {
    await store.db.command({ ping: 1 });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw explainUnreachable('mongo', uri, error);
  }
  return {
    kind: 'mongo',
    store,
    retention: {
      purge: (request) => store.purgeTriggers(request),
      count: ({ statuses, olderThan }) => store.collections.triggers.countDocuments({ status: { $in: [...statuses] }, updatedAt: { $lt: olderThan } }),
    },
    indexTargets(idempotencyCollection) {
      const targets: IndexedCollection[] = [{ name: `automation store (${store.collections.rules.collectionName}, ${store.collections.triggers.collectionName}, ${store.collections.deliveries.collectionName})`, ensureIndexes: () => store.ensureIndexes() }];
      if (idempotencyCollection !== false) {
        const keys = createMongoIdempotencyStore({ client: store.db.client, dbName: store.db.databaseName, collection: idempotencyCollection, autoIndex: false });
        targets.push({ name: `idempotency keys (${keys.collection.collectionName})`, ensureIndexes: () => keys.ensureIndexes() });
      }
      return targets;
    },
    close: () => store.close(),
  };
}
