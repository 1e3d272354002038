import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, ObjectId } from 'mongodb';
import { createMongoContactStore, type MongoContactStore } from '../src/index.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';

// Without a transaction (the test server has none, a standalone MongoDB neither), an entry and its
// change record are two writes: these cases play a process that died between them.

let client: MongoClient | undefined;

beforeAll(async () => {
  const server = await resolveMongoServer();
  client = await new MongoClient(server.uri).connect();
});

afterAll(async () => {
  await client?.close();
});

const T0 = new Date('2030-01-01T00:00:00.000Z');
const KEY = { accountId: 'acc_1', channel: 'sms', recipient: '+15550001111' };

async function withStore(run: (store: MongoContactStore) => Promise<void>): Promise<void> {
  if (!client) throw new Error('no MongoDB client: the server resolver failed in beforeAll');
  const store = createMongoContactStore({ client, dbName: uniqueDbName('crm_suppression_changes') });
  await store.ensureIndexes();
  try {
    await run(store);
  } finally {
    await store.db.dropDatabase();
    await store.close();
  }
}

const change = (action: 'added' | 'removed', at: Date) => ({ _id: new ObjectId(), ...KEY, action, reason: 'stop' as const, source: 'inbound-sms' as const, by: 'twilio-inbound', at });

describe('mongodb suppression list: an add or removal cut off between its two writes', () => {
  it('finishes an add whose change was never written: at the next add (once), and the entry suppresses meanwhile', async () => {
    await withStore(async (store) => {
      // What the first write of an add leaves when the process dies before the second.
      await store.collections.suppressions.insertOne({ _id: new ObjectId(), ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: T0, pending: change('added', T0) });
      expect(await store.findSuppression(KEY.accountId, KEY.channel, KEY.recipient)).toMatchObject({ reason: 'stop' });
      expect(await store.collections.suppressionChanges.countDocuments({})).toBe(0);
      const again = await store.addSuppression({ ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: new Date(T0.getTime() + 1_000) });
      expect(again.created).toBe(false);
      const changes = await store.suppressionChanges(KEY.accountId, {});
      expect(changes.items).toEqual([expect.objectContaining({ action: 'added', at: T0 })]);
      expect(await store.collections.suppressions.countDocuments({ pending: { $exists: true } })).toBe(0);
    });
  });

  it('finishes an unrecorded add in the audit export, and a second export records nothing more', async () => {
    await withStore(async (store) => {
      await store.collections.suppressions.insertOne({ _id: new ObjectId(), ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: T0, pending: change('added', T0) });
      expect((await store.suppressionChanges(KEY.accountId, {})).items.map((c) => c.action)).toEqual(['added']);
      expect((await store.suppressionChanges(KEY.accountId, {})).items.map((c) => c.action)).toEqual(['added']);
      expect((await store.suppressionChanges('acc_other', {})).items).toEqual([]);
    });
  });

  it('finishes a removal cut off after its mark: the entry suppresses until then, a new add adds it afresh, one change each', async () => {
    await withStore(async (store) => {
      await store.addSuppression({ ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: T0 });
      const removal = change('removed', new Date(T0.getTime() + 60_000));
      // The removal's first write (its mark) without the change or the delete.
      await store.collections.suppressions.updateOne(KEY, { $set: { pending: removal } });
      expect(await store.findSuppression(KEY.accountId, KEY.channel, KEY.recipient)).not.toBeNull();
      // A second removal finishes the first and has nothing left to remove.
      expect(await store.removeSuppression(KEY.accountId, KEY.channel, KEY.recipient, { at: new Date(T0.getTime() + 120_000), reason: 'stop', source: 'inbound-sms' })).toBe(false);
      expect(await store.findSuppression(KEY.accountId, KEY.channel, KEY.recipient)).toBeNull();
      const added = await store.addSuppression({ ...KEY, reason: 'manual', source: 'api', createdAt: new Date(T0.getTime() + 180_000) });
      expect(added.created).toBe(true);
      expect((await store.suppressionChanges(KEY.accountId, {})).items.map((c) => [c.action, c.at.toISOString()])).toEqual([
        ['added', T0.toISOString()],
        ['removed', removal.at.toISOString()],
        ['added', new Date(T0.getTime() + 180_000).toISOString()],
      ]);
    });
  });

  it('an add meeting an unfinished removal finishes it, then adds', async () => {
    await withStore(async (store) => {
      await store.addSuppression({ ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: T0 });
      await store.collections.suppressions.updateOne(KEY, { $set: { pending: change('removed', new Date(T0.getTime() + 1_000)) } });
      const added = await store.addSuppression({ ...KEY, reason: 'bounce', source: 'email-event', createdAt: new Date(T0.getTime() + 2_000) });
      expect(added).toMatchObject({ created: true, suppression: { reason: 'bounce' } });
      expect((await store.suppressionChanges(KEY.accountId, {})).items.map((c) => c.action)).toEqual(['added', 'removed', 'added']);
    });
  });

  it('records exactly one change per effective add and remove when 4 calls race on one recipient', async () => {
    await withStore(async (store) => {
      for (let round = 0; round < 5; round++) {
        const at = new Date(T0.getTime() + round * 10_000);
        const adds = await Promise.all(Array.from({ length: 4 }, () => store.addSuppression({ ...KEY, reason: 'stop', source: 'inbound-sms', createdAt: at })));
        expect(adds.filter((a) => a.created)).toHaveLength(1);
        const removes = await Promise.all(Array.from({ length: 4 }, () => store.removeSuppression(KEY.accountId, KEY.channel, KEY.recipient, { at: new Date(at.getTime() + 1_000), reason: 'stop', source: 'inbound-sms' })));
        expect(removes.filter(Boolean)).toHaveLength(1);
      }
      const changes = await store.suppressionChanges(KEY.accountId, { limit: 100 });
      expect(changes.items.map((c) => c.action)).toEqual(Array.from({ length: 5 }, () => ['added', 'removed']).flat());
    });
  });
});
