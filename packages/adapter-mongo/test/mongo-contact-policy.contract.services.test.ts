import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { describeContactPolicyContract, describeSendThrottleContract, expectEngineFiresByContactStore } from '@crm-automation/testing';
import { createMongoContactStore, createMongoStore } from '../src/index.js';
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

describe('mongodb contact store for split deployments', () => {
  it('keeps only the contact collections, and an engine fires by it', async () => {
    const contact = createMongoContactStore({ uri: serverUri(), dbName: uniqueDbName('crm_contact_split') });
    try {
      await contact.ensureIndexes();
      await expectEngineFiresByContactStore(contact);
      const names = (await contact.db.listCollections().toArray()).map((c) => c.name).sort();
      expect(names).not.toContain('pending_triggers');
      expect(names).not.toContain('rules');
      expect(names).toEqual(expect.arrayContaining(['suppressions', 'suppression_changes', 'contact_counters']));
    } finally {
      await contact.db.dropDatabase();
      await contact.close();
    }
  });
});
