import { beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, type NewDelivery } from '@crm-automation/core';
import { createRecordingChannel, describeDeliveryLedgerContract, expectRacingWritersConsistent } from '@crm-automation/testing';
import { createMongoDeliveryLedger, createMongoStore, createMongoTriggerStore, DELIVERY_INDEXES, type MongoDeliveryLedger, type MongoDeliveryLedgerOptions } from '../src/index.js';
import { serverRunsTtlMonitor } from '../src/ttl-monitor.js';
import { ACCOUNT, at, intent, T0, EVENT, technicianRule, waitFor } from './fixtures.js';
import { MALFORMED_MONGO_IDS, uniqueDbName } from './mongo-server.js';
import { contractSubject, mongoClientTestFile } from './mongo-test-file.js';

const mongo = mongoClientTestFile();
let ttlMonitor: boolean | undefined;

beforeAll(async () => {
  ttlMonitor = await serverRunsTtlMonitor(mongo.client().db('admin'));
});

// The ledger the engine finds on the combined store, and the ledger on its own.
describeDeliveryLedgerContract('mongodb store', async () => {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_ledger_store') });
  await store.ensureIndexes();
  return contractSubject(store);
}, { malformedIds: MALFORMED_MONGO_IDS });

describeDeliveryLedgerContract('mongodb delivery ledger', async () => {
  const ledger = createMongoDeliveryLedger({ client: mongo.client(), dbName: uniqueDbName('crm_ledger'), collections: { deliveries: 'sends' } });
  await ledger.ensureIndexes();
  return contractSubject(ledger);
}, { malformedIds: MALFORMED_MONGO_IDS });

function openLedger(options: Partial<MongoDeliveryLedgerOptions> = {}): MongoDeliveryLedger {
  const ledger = createMongoDeliveryLedger({ client: mongo.client(), dbName: uniqueDbName('crm_ledger'), ...options });
  mongo.drop(ledger);
  return ledger;
}

describe('mongo delivery ledger: documents and indexes', () => {
  it('creates one index per query shape and stores deliveries with ObjectId _id, BSON dates and string references', async () => {
    const ledger = openLedger();
    await ledger.ensureIndexes();
    const names = (await ledger.collections.deliveries.listIndexes().toArray()).map((i) => String(i['name']));
    expect(names.sort()).toEqual(['_id_', 'deliveries_retention', ...DELIVERY_INDEXES.map((i) => i.name)].sort());
    const [recorded] = await ledger.recordIntents([intent()]);
    const doc = await ledger.collections.deliveries.findOne({});
    expect(doc?._id.toHexString()).toBe(recorded?.id);
    expect(doc).toMatchObject({ accountId: ACCOUNT, triggerId: 'trigger-1', ruleId: 'rule-1', state: 'intent', createdAt: T0, events: [{ at: T0, state: 'intent', source: 'engine' }] });
    expect(doc && 'expireAt' in doc).toBe(false);
    expect(doc && 'providerId' in doc).toBe(false);
  });

  it('keeps one delivery consistent under racing writers: one outcome applies, receipts never move it back', async () => {
    const ledger = openLedger();
    await expectRacingWritersConsistent(ledger);
  });

  it('writes nothing of an intent batch that the server refuses part-way, and finds receipts by our id only with a matching provider id', async () => {
    const ledger = openLedger();
    await ledger.ensureIndexes();
    // A unique index the ledger does not have makes the second document of the batch fail at the server.
    await ledger.collections.deliveries.createIndex({ idempotencyKey: 1 }, { unique: true, name: 'test_only_unique_key' });
    const error = await ledger.recordIntents([intent({ idempotencyKey: 'k1' }), intent({ idempotencyKey: 'k1' }), intent({ idempotencyKey: 'k3' })]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(await ledger.collections.deliveries.countDocuments({})).toBe(0);

    const [a] = await ledger.recordIntents([intent({ idempotencyKey: 'k4' })]);
    await ledger.recordOutcomes([{ id: a?.id as string, state: 'accepted', providerId: 'SM1', at: at(1) }]);
    expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: a?.id as string, providerId: 'SM2', state: 'delivered', at: at(2) })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await ledger.applyReceipt({ provider: 'twilio', providerId: { $ne: null } as unknown as string, state: 'delivered', at: at(2) })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: a?.id as string, providerId: 'SM1', state: 'delivered', at: at(2) })).toMatchObject({ applied: true, delivery: { state: 'delivered' } });
    expect((await ledger.listDeliveries(ACCOUNT, { recipient: { $ne: null } as unknown as string })).items).toEqual([]);
  });

  it('counts an account\'s deliveries by state since a time', async () => {
    const ledger = openLedger();
    const [a, b, c] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 }), intent({ actionIndex: 2 })]);
    await ledger.recordIntents([intent({ accountId: 'acc_other' })]);
    await ledger.recordOutcomes([{ id: a?.id as string, state: 'accepted', at: at(10) }, { id: b?.id as string, state: 'refused', at: at(10) }]);
    expect(await ledger.countDeliveries(ACCOUNT, T0)).toEqual({ accepted: 1, refused: 1, intent: 1 });
    expect(await ledger.countDeliveries(ACCOUNT, at(5))).toEqual({ accepted: 1, refused: 1 });
    expect(c?.state).toBe('intent');
  });
});

describe('mongo delivery ledger: retention', () => {
  it('stamps deliveries by the trigger policy\'s ages, never intents or unknown sends, and the periodic delete removes them', async () => {
    const ledger = openLedger({ retention: { completedMs: 60_000, failedMs: 120_000, mode: 'periodic' } });
    expect((await ledger.ensureIndexes()).retention).toBe('periodic');
    const [sent, refused, unknown, waiting, bounced] = await ledger.recordIntents([0, 1, 2, 3, 4].map((i) => intent({ actionIndex: i })));
    await ledger.recordOutcomes([
      { id: sent?.id as string, state: 'accepted', providerId: 'SM0', at: at(1_000) },
      { id: refused?.id as string, state: 'refused', at: at(1_000) },
      { id: unknown?.id as string, state: 'unknown', at: at(1_000) },
      { id: bounced?.id as string, state: 'accepted', providerId: 'SM4', at: at(1_000) },
    ]);
    // A receipt restamps by the new state's age: a bounce is kept as long as a failed trigger.
    await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM4', state: 'bounced', at: at(2_000) });
    const stamps = new Map((await ledger.collections.deliveries.find({}).toArray()).map((d) => [d.actionIndex, d.expireAt]));
    expect(stamps.get(0)).toEqual(at(61_000));
    expect(stamps.get(1)).toEqual(at(121_000));
    expect(stamps.get(2)).toBeUndefined();
    expect(stamps.get(3)).toBeUndefined();
    expect(stamps.get(4)).toEqual(at(122_000));

    expect(await ledger.purgeExpired(at(60_999))).toBe(0);
    expect(await ledger.purgeExpired(at(61_000))).toBe(1);
    let now = at(61_000);
    const handle = ledger.startRetention({ intervalMs: 25, now: () => now });
    now = at(10 ** 9);
    await waitFor('the periodic delete to remove the refused and bounced sends', async () => (await ledger.collections.deliveries.countDocuments({})) === 2, 10_000, 25);
    await handle.stop();
    expect((await ledger.collections.deliveries.find({}).toArray()).map((d) => d.state).sort()).toEqual(['intent', 'unknown']);
    expect(waiting?.state).toBe('intent');
  });

  it('keeps refused sends where the policy keeps failed triggers, and stamps what an operator settles', async () => {
    const ledger = openLedger({ retention: {} });
    const [a, b] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 })]);
    await ledger.recordOutcomes([{ id: a?.id as string, state: 'unknown', at: at(1) }, { id: b?.id as string, state: 'refused', at: at(1) }]);
    await ledger.resolveDelivery(ACCOUNT, a?.id as string, { as: 'sent', at: at(2), by: 'ops' });
    const docs = new Map((await ledger.collections.deliveries.find({}).toArray()).map((d) => [d.actionIndex, d]));
    expect(docs.get(0)?.expireAt).toEqual(at(2 + 7 * 86_400_000));
    expect(docs.get(1)?.expireAt).toBeUndefined();
  });

  it('reports ttl only where both collections of a trigger store expire by themselves, and purges both', async () => {
    const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_ledger_ret'), retention: { completedMs: 1_000 } });
    mongo.drop(store);
    const report = await store.ensureIndexes();
    expect(report.retention).toBe(ttlMonitor === false ? 'periodic' : 'ttl');
    const [d] = await store.recordIntents([intent()]);
    await store.recordOutcomes([{ id: d?.id as string, state: 'accepted', at: at(0) }]);
    expect(await store.purgeExpired(at(1_000))).toBe(1);
    expect(await store.getDelivery(ACCOUNT, d?.id as string)).toBeNull();
  });
});

describe('mongo delivery ledger: engine', () => {
  it('is the ledger an engine on a trigger store uses: intents before sends, accepted after, per trigger', async () => {
    const triggerStore = createMongoTriggerStore({ client: mongo.client(), dbName: uniqueDbName('crm_ledger_engine'), collections: { deliveries: 'ledger' } });
    mongo.drop(triggerStore);
    const ruleStore = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_ledger_rules') });
    mongo.drop(ruleStore);
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const engine = createAutomationEngine({ ruleStore, triggerStore, channels: { sms, email }, instanceId: 'ledger' });
    await engine.rules.create(ACCOUNT, technicianRule());
    await engine.ingest({ id: 'evt_ledger', name: EVENT, accountId: ACCOUNT, payload: { job: { number: 'J-1', status: 'Done', client: { name: 'A' }, assignedTechnician: { name: 'B', phone: '+15557654321' } } } });
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    const [trigger] = await triggerStore.collections.triggers.find({}).toArray();
    const id = trigger?._id.toHexString() as string;
    await waitFor('both outcomes to be written', async () => (await triggerStore.deliveriesOfTrigger(ACCOUNT, id)).every((d) => d.state === 'accepted'), 5_000, 20);
    const deliveries = await triggerStore.deliveriesOfTrigger(ACCOUNT, id);
    expect(deliveries.map((d) => [d.actionIndex, d.type, d.recipient, d.state])).toEqual([
      [0, 'sms', '+15557654321', 'accepted'],
      [1, 'email', 'manager@example.com', 'accepted'],
    ]);
    expect(await triggerStore.db.collection('ledger').countDocuments({})).toBe(2);
    expect(await ruleStore.collections.deliveries.countDocuments({})).toBe(0);
  });
});
