import { describeRuleStoreContract, describeStoreContract, describeTriggerStoreContract } from '@crm-automation/testing';
import { createMongoRuleStore, createMongoStore, createMongoTriggerStore } from '../src/index.js';
import { MALFORMED_MONGO_IDS, uniqueDbName } from './mongo-server.js';
import { contractSubject, mongoClientTestFile } from './mongo-test-file.js';

const mongo = mongoClientTestFile();

// Both aggregates on one connection and database, as createMongoStore is used by the examples.
describeStoreContract('mongodb', async () => {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_contract') });
  await store.ensureIndexes();
  return contractSubject(store, (dbName) => createMongoStore({ uri: mongo.uri(), dbName, autoIndex: false }));
}, { malformedIds: MALFORMED_MONGO_IDS, concurrentClaims: 16 });

// The split stores, each on a database of its own, as a three-service deployment keeps them.
describeRuleStoreContract('mongodb rule store', async () => {
  const store = createMongoRuleStore({ client: mongo.client(), dbName: uniqueDbName('crm_contract_rules') });
  await store.ensureIndexes();
  return contractSubject(store);
}, { malformedIds: MALFORMED_MONGO_IDS });

describeTriggerStoreContract('mongodb trigger store', async () => {
  const store = createMongoTriggerStore({ client: mongo.client(), dbName: uniqueDbName('crm_contract_triggers') });
  await store.ensureIndexes();
  return contractSubject(store, (dbName) => createMongoTriggerStore({ uri: mongo.uri(), dbName, autoIndex: false }));
}, { malformedIds: MALFORMED_MONGO_IDS, concurrentClaims: 16 });
