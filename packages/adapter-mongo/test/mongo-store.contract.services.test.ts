import { afterAll, beforeAll } from 'vitest';
import { MongoClient } from 'mongodb';
import { describeStoreContract } from '@crm-automation/testing';
import { createMongoStore } from '../src/index.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';

let client: MongoClient | undefined;

beforeAll(async () => {
  const server = await resolveMongoServer();
  client = await new MongoClient(server.uri).connect();
});

afterAll(async () => {
  await client?.close();
});

const factory = (dialect: 'auto' | 'mongodb') => async () => {
  if (!client) throw new Error('no MongoDB client: the server resolver failed in beforeAll');
  const store = createMongoStore({ client, dbName: uniqueDbName('crm_contract'), dialect });
  await store.ensureIndexes();
  return {
    store,
    cleanup: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
};

// The dialect the server reports (on FerretDB: read by _id, check, write by _id).
describeStoreContract('mongodb', factory('auto'));
// Guards evaluated by the server, the path MongoDB uses, run against whatever server is here.
describeStoreContract('mongodb (server-evaluated guards)', factory('mongodb'));
