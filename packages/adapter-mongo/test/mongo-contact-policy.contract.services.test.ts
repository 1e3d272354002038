import { describeContactPolicyContract, describeSendThrottleContract } from '@crm-automation/testing';
import { createMongoStore } from '../src/index.js';
import { uniqueDbName } from './mongo-server.js';
import { contractSubject, mongoClientTestFile } from './mongo-test-file.js';

const mongo = mongoClientTestFile();

/** The combined store on a database of its own; every other handle has a MongoClient of its own (from the URI), as another engine process would. */
async function contactStore(prefix: string) {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName(prefix) });
  await store.ensureIndexes();
  return contractSubject(store, (dbName) => createMongoStore({ uri: mongo.uri(), dbName, autoIndex: false }));
}

describeContactPolicyContract('mongodb', () => contactStore('crm_contract_contact'));

describeSendThrottleContract('mongodb', () => contactStore('crm_contract_throttle'));
