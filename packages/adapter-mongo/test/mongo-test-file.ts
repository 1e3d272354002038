import { afterAll, beforeAll } from 'vitest';
import { MongoClient } from 'mongodb';
import { resolveMongoServer } from './mongo-server.js';

/**
 * Registers a services-test file's hooks: find the server before its tests; after them, run what the
 * tests asked to release, last-first (a failure of one does not keep the others open).
 */
export function mongoTestFile() {
  let uri: string | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    uri = (await resolveMongoServer()).uri;
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });
  return {
    /** The server's URI (only inside tests: it is resolved in beforeAll). */
    uri(): string {
      if (uri === undefined) throw new Error('no MongoDB server: the resolver failed in beforeAll');
      return uri;
    },
    onRelease(close: () => Promise<void>): void {
      closers.push(close);
    },
  };
}

/** What a test hands to `drop`: a store (or ledger) whose database goes when the file's tests are done. */
export interface DroppableStore {
  db: { dropDatabase(): Promise<unknown> };
  close(): Promise<void>;
}

/**
 * Registers the hooks of a services-test file whose stores share one connected MongoClient: find the
 * server and connect before the tests; after them, drop and close what the tests handed to `drop` (in
 * the order handed), then close the client. Stores of their own client (from `uri()`) are handed over
 * the same way.
 */
export function mongoClientTestFile() {
  let uri: string | undefined;
  let client: MongoClient | undefined;
  const stores: DroppableStore[] = [];
  beforeAll(async () => {
    uri = (await resolveMongoServer()).uri;
    client = await new MongoClient(uri).connect();
  });
  afterAll(async () => {
    for (const store of stores) {
      await store.db.dropDatabase().catch(() => undefined);
      await store.close();
    }
    await client?.close();
  });
  return {
    /** The server's URI (only inside tests: it is resolved in beforeAll). */
    uri(): string {
      if (uri === undefined) throw new Error('no MongoDB URI: the server resolver failed in beforeAll');
      return uri;
    },
    /** The file's shared client (only inside tests: it connects in beforeAll). */
    client(): MongoClient {
      if (client === undefined) throw new Error('no MongoDB client: the server resolver failed in beforeAll');
      return client;
    },
    /** Drops the store's database and closes it after the file's tests; returns the store. */
    drop<S extends DroppableStore>(store: S): S {
      stores.push(store);
      return store;
    },
  };
}

/**
 * A shared contract suite's subject: the store, its cleanup (drop its database, close it) and, when
 * `another` is given, `openAnother`, a second handle on the same database as a second engine process
 * would open (with a MongoClient of its own, from the URI, so its `close()` closes that client).
 */
export function contractSubject<S extends DroppableStore & { db: { databaseName: string } }>(store: S, another?: (dbName: string) => S) {
  return {
    store,
    ...(another ? { openAnother: () => another(store.db.databaseName) } : {}),
    cleanup: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
}
