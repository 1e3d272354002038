import { afterAll, beforeAll } from 'vitest';
import { MongoClient } from 'mongodb';
import { describeContactPolicyContract, describeSendThrottleContract } from '@crm-automation/testing';
import { createMongoStore } from '../src/index.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';

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

// Every other handle has a MongoClient of its own (from the URI), as another engine process would.
describeContactPolicyContract('mongodb', async () => {
  const store = createMongoStore({ client: connected(), dbName: uniqueDbName('crm_contract_contact') });
  await store.ensureIndexes();
  return {
    store,
    openAnother: () => createMongoStore({ uri: serverUri(), dbName: store.db.databaseName, autoIndex: false }),
    cleanup: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
});

// Every other handle has a MongoClient of its own (from the URI), as another engine process would.
describeSendThrottleContract('mongodb', async () => {
  const store = createMongoStore({ client: connected(), dbName: uniqueDbName('crm_contract_throttle') });
  await store.ensureIndexes();
  return {
    store,
    openAnother: () => createMongoStore({ uri: serverUri(), dbName: store.db.databaseName, autoIndex: false }),
    cleanup: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
});
