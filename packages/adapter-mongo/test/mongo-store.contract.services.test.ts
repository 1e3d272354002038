import { afterAll, beforeAll } from 'vitest';
import { MongoClient } from 'mongodb';
import { describeRuleStoreContract, describeStoreContract, describeTriggerStoreContract } from '@crm-automation/testing';
import { createMongoRuleStore, createMongoStore, createMongoTriggerStore } from '../src/index.js';
import { MALFORMED_MONGO_IDS, resolveMongoServer, uniqueDbName } from './mongo-server.js';

let client: MongoClient | undefined;
let uri: string | undefined;

beforeAll(async () => {
  const server = await resolveMongoServer();
  uri = server.uri;
  client = await new MongoClient(server.uri).connect();
});

afterAll(async () => {
  await client?.close();
});

const connected = (): MongoClient => {
  if (!client) throw new Error('no MongoDB client: the server resolver failed in beforeAll');
  return client;
};

const serverUri = (): string => {
  if (!uri) throw new Error('no MongoDB URI: the server resolver failed in beforeAll');
  return uri;
};

/**
 * The contract's subject; `another` opens a second handle on the same database with a MongoClient of
 * its own (from the URI, so its `close()` closes that client), as a second engine process would.
 */
const subject = <S extends { db: { dropDatabase(): Promise<unknown>; databaseName: string }; close(): Promise<void> }>(store: S, another?: (dbName: string) => S) => ({
  store,
  ...(another ? { openAnother: () => another(store.db.databaseName) } : {}),
  cleanup: async () => {
    await store.db.dropDatabase();
    await store.close();
  },
});

// Both aggregates on one connection and database, as createMongoStore is used by the examples.
describeStoreContract('mongodb', async () => {
  const store = createMongoStore({ client: connected(), dbName: uniqueDbName('crm_contract') });
  await store.ensureIndexes();
  return subject(store, (dbName) => createMongoStore({ uri: serverUri(), dbName, autoIndex: false }));
}, { malformedIds: MALFORMED_MONGO_IDS, concurrentClaims: 16 });

// The split stores, each on a database of its own, as a three-service deployment keeps them.
describeRuleStoreContract('mongodb rule store', async () => {
  const store = createMongoRuleStore({ client: connected(), dbName: uniqueDbName('crm_contract_rules') });
  await store.ensureIndexes();
  return subject(store);
}, { malformedIds: MALFORMED_MONGO_IDS });

describeTriggerStoreContract('mongodb trigger store', async () => {
  const store = createMongoTriggerStore({ client: connected(), dbName: uniqueDbName('crm_contract_triggers') });
  await store.ensureIndexes();
  return subject(store, (dbName) => createMongoTriggerStore({ uri: serverUri(), dbName, autoIndex: false }));
}, { malformedIds: MALFORMED_MONGO_IDS, concurrentClaims: 16 });
