import { randomBytes } from 'node:crypto';
import { createMongoStore } from '@crm-automation/adapter-mongo';
import { MongoClient } from 'mongodb';
import { resolveMongoServer } from '../../adapter-mongo/test/mongo-server.js';
import { describeRulesApi } from './rules-api-suite.js';

describeRulesApi('the Mongo store', async () => {
  const server = await resolveMongoServer();
  const client = new MongoClient(server.uri);
  await client.connect();
  const dbName = `rules_api_${randomBytes(4).toString('hex')}`;
  const store = createMongoStore({ client, dbName });
  await store.ensureIndexes();
  return {
    store,
    cleanup: async () => {
      await client.db(dbName).dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
});
