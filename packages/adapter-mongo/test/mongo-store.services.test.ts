import { beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { createAutomationEngine, createRecordingChannel, isAutomationError, type ClaimedTrigger, type RuleDraft } from '@crm-automation/core';
import { createMongoRuleStore, createMongoStore, createMongoTriggerStore, DELIVERY_INDEXES, RULE_INDEXES, TRIGGER_INDEXES, type MongoStore, type MongoStoreOptions } from '../src/index.js';
import { serverRunsTtlMonitor } from '../src/ttl-monitor.js';
import { ACCOUNT, dueTrigger, EVENT, technicianRule, waitFor } from './fixtures.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoClientTestFile } from './mongo-test-file.js';

const mongo = mongoClientTestFile();
/** What the server says about expiring TTL indexes; decides which retention mode `auto` picks. */
let ttlMonitor: boolean | undefined;

beforeAll(async () => {
  ttlMonitor = await serverRunsTtlMonitor(mongo.client().db('admin'));
});

function open(options: Partial<MongoStoreOptions> = {}): MongoStore {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_store'), ...options });
  mongo.drop(store);
  return store;
}

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const draft: RuleDraft = {
  name: 'Notify',
  enabled: true,
  trigger: { eventName: EVENT },
  delay: { value: 5, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }],
};
const finished = (status: 'completed' | 'failed' | 'skipped' | 'retrying', time: Date, attempt = 1) => ({ status, sentActions: [], now: time, history: { at: time, attempt, outcome: status } });

describe('mongo store: connection ownership', () => {
  it('never closes a client it was handed, whichever factory was given it', async () => {
    for (const store of [createMongoStore({ client: mongo.client(), dbName: uniqueDbName() }), createMongoRuleStore({ client: mongo.client(), dbName: uniqueDbName() })]) {
      await store.insertRule(ACCOUNT, draft, T0);
      await store.db.dropDatabase();
      await store.close();
      await expect(mongo.client().db('admin').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    }
    const triggers = createMongoTriggerStore({ client: mongo.client(), dbName: uniqueDbName() });
    await triggers.nextDueAt();
    await triggers.db.dropDatabase();
    await triggers.close();
    await expect(mongo.client().db('admin').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
  });

  it('closes the client it opened from a uri', async () => {
    const store = createMongoStore({ uri: mongo.uri(), dbName: uniqueDbName() });
    await store.insertRule(ACCOUNT, draft, T0);
    let closed = false;
    store.db.client.on('topologyClosed', () => {
      closed = true;
    });
    await store.db.dropDatabase();
    await store.close();
    expect(closed).toBe(true);
  });

  it('refuses options without a client or uri, or with both', () => {
    expect(() => createMongoStore({})).toThrow(/client or a uri/);
    expect(() => createMongoStore({ client: mongo.client(), uri: mongo.uri() })).toThrow(/either client or uri/);
    expect(() => createMongoTriggerStore({ client: mongo.client(), uri: mongo.uri() })).toThrow(/either client or uri/);
  });
});

describe('mongo store: indexes and documents', () => {
  it('creates every index idempotently, with the intake key unique, and says who deletes expired triggers', async () => {
    const store = open({ autoIndex: false });
    const first = await store.ensureIndexes();
    const second = await store.ensureIndexes();
    expect(second).toEqual(first);
    const ruleIndexes = await store.collections.rules.indexes();
    const triggerIndexes = await store.collections.triggers.indexes();
    for (const def of RULE_INDEXES) expect(ruleIndexes.find((i) => i.name === def.name)?.key).toEqual(def.key);
    for (const def of TRIGGER_INDEXES) expect(triggerIndexes.find((i) => i.name === def.name)?.key).toEqual(def.key);
    expect(triggerIndexes.find((i) => i.name === 'triggers_intake_dedupe')?.unique).toBe(true);
    const retentionIndex = triggerIndexes.find((i) => i.name === 'triggers_retention');
    expect(retentionIndex?.key).toEqual({ expireAt: 1 });
    // A server that accepts TTL indexes but never expires documents gets a plain index and the periodic delete.
    expect(first.retention).toBe(ttlMonitor === false ? 'periodic' : 'ttl');
    expect(retentionIndex?.expireAfterSeconds).toBe(ttlMonitor === false ? undefined : 0);
    const deliveryIndexes = await store.collections.deliveries.indexes();
    for (const def of DELIVERY_INDEXES) expect(deliveryIndexes.find((i) => i.name === def.name)?.key).toEqual(def.key);
    expect(deliveryIndexes.find((i) => i.name === 'deliveries_retention')?.expireAfterSeconds).toBe(ttlMonitor === false ? undefined : 0);
    // Nothing but the two collections of the design doc, the delivery ledger and the contact policy's
    // indexed collections (`contact_policies` has only its `_id` index, so it appears with its first put).
    expect((await store.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual(['contact_counters', 'deliveries', 'pending_triggers', 'rules', 'send_throttles', 'suppression_changes', 'suppressions']);
  });

  it("stores the design doc's document shapes: ObjectIds, the rule id as given, BSON dates, lease fields only while processing", async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const rawRule = await store.collections.rules.findOne({ _id: new ObjectId(rule.id) });
    expect(rawRule).toMatchObject({ accountId: ACCOUNT, name: 'Notify', enabled: true, trigger: { eventName: EVENT }, version: 1 });
    expect(rawRule?._id).toBeInstanceOf(ObjectId);
    expect(rawRule?.createdAt).toBeInstanceOf(Date);
    expect(rawRule && 'id' in rawRule).toBe(false);
    expect(rawRule && 'description' in rawRule).toBe(false);

    await store.insertTriggers([dueTrigger(rule, 'evt_1', T0)], T0);
    const [claimed] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 30_000, owner: 'engine-1' });
    const processing = await store.collections.triggers.findOne({});
    expect(processing).toMatchObject({ status: 'processing', attempt: 1, leaseOwner: 'engine-1', leaseToken: claimed?.leaseToken, ruleId: rule.id });
    expect(typeof processing?.ruleId).toBe('string');
    expect(processing?._id).toBeInstanceOf(ObjectId);
    expect(processing?.evaluateAt).toBeInstanceOf(Date);
    expect(processing?.leaseExpiresAt).toEqual(at(30_000));
    expect(processing?.triggeringEvent.timestamp).toBeInstanceOf(Date);

    await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, { ...finished('retrying', at(1_000)), evaluateAt: at(60_000), sentActions: [0] });
    const retrying = await store.collections.triggers.findOne({});
    expect(retrying).toMatchObject({ status: 'retrying', evaluateAt: at(60_000), sentActions: [0] });
    for (const field of ['leaseToken', 'leaseExpiresAt', 'leaseOwner', 'expireAt']) expect(retrying && field in retrying).toBe(false);
    expect(retrying?.executionHistory[0]?.at).toBeInstanceOf(Date);
  });

  it('keeps rule ids of another store (a UUID, a number-like string) exactly, and matches them as strings', async () => {
    const store = open();
    const foreignRule = { ...(await store.insertRule(ACCOUNT, draft, T0)), id: '018f3c2a-7b1d-7c4e-9a55-3f1e2d4c5b6a' };
    const numeric = { ...foreignRule, id: '000123' };
    await store.insertTriggers([dueTrigger(foreignRule, 'e1', T0), dueTrigger(numeric, 'e1', T0), dueTrigger(numeric, 'e1', T0)], T0);
    expect((await store.listTriggers(ACCOUNT, { ruleId: foreignRule.id })).items.map((t) => t.ruleId)).toEqual([foreignRule.id]);
    expect((await store.listTriggers(ACCOUNT, { ruleId: '123' })).items).toEqual([]);
    expect(await store.collections.triggers.countDocuments({ ruleId: '000123' })).toBe(1);
  });

  it('reports every duplicate of an intake batch as existing, however many the server rejects at once', async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const first = await store.insertTriggers(['a', 'b', 'c'].map((e) => dueTrigger(rule, e, T0)), T0);
    const mixed = await store.insertTriggers(['a', 'x', 'b', 'y', 'c', 'y'].map((e) => dueTrigger(rule, e, T0)), at(1));
    expect(mixed.map((i) => i.created)).toEqual([false, true, false, true, false, false]);
    expect(mixed[0]?.trigger.id).toBe(first[0]?.trigger.id);
    expect(mixed[2]?.trigger.id).toBe(first[1]?.trigger.id);
    expect(mixed[5]?.trigger.id).toBe(mixed[3]?.trigger.id);
    expect(await store.collections.triggers.countDocuments({})).toBe(5);
  });
});

describe('mongo store: claims', () => {
  it('does not claim a trigger cancelled between the candidate read and the conditional update', async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const inserted = await store.insertTriggers(['c1', 'c2'].map((e) => dueTrigger(rule, e, T0)), T0);
    const cancelled = inserted[0]?.trigger.id as string;
    // The race, made certain: the candidate read sees both pending, then a user cancels one.
    const triggers = store.collections.triggers;
    const realFind = triggers.find.bind(triggers);
    let intercepted = false;
    Object.assign(triggers, {
      find: (...args: Parameters<typeof realFind>) => {
        const cursor = realFind(...args);
        const filter = JSON.stringify(args[0] ?? {});
        if (intercepted || !filter.includes('retrying')) return cursor;
        intercepted = true;
        const toArray = cursor.toArray.bind(cursor);
        return Object.assign(cursor, {
          toArray: async () => {
            const docs = await toArray();
            await store.transitionTrigger(ACCOUNT, cancelled, { from: ['pending'], to: 'cancelled', now: at(1), history: { at: at(1), attempt: 0, outcome: 'cancelled', by: 'user' } });
            return docs;
          },
        });
      },
    });
    let claimed: ClaimedTrigger[];
    try {
      claimed = await store.claimDueTriggers({ now: at(2), limit: 5, leaseMs: 30_000, owner: 'w' });
    } finally {
      Object.assign(triggers, { find: realFind });
    }
    expect(intercepted).toBe(true);
    expect(claimed.map((c) => c.id)).toEqual([inserted[1]?.trigger.id]);
    expect(await store.getTrigger(ACCOUNT, cancelled)).toMatchObject({ status: 'cancelled', attempt: 0 });
  });

  it('hands each trigger to exactly one of 8 claimers, each with its own client', async () => {
    const dbName = uniqueDbName('crm_claimers');
    const stores = Array.from({ length: 8 }, () => createMongoStore({ uri: mongo.uri(), dbName }));
    for (const store of stores) mongo.drop(store);
    const [first] = stores as [MongoStore];
    const rule = await first.insertRule(ACCOUNT, draft, T0);
    const total = 1_000;
    await first.insertTriggers(Array.from({ length: total }, (_, i) => dueTrigger(rule, `race_${i}`, at(i % 50))), T0);
    const seen = new Map<string, string[]>();
    await Promise.all(
      stores.map(async (store, w) => {
        for (;;) {
          const batch = await store.claimDueTriggers({ now: at(100), limit: 25, leaseMs: 60_000, owner: `claimer-${w}` });
          if (batch.length === 0) return;
          for (const c of batch) seen.set(c.id, [...(seen.get(c.id) ?? []), c.leaseToken]);
        }
      }),
    );
    expect(seen.size).toBe(total);
    expect([...seen.values()].filter((tokens) => tokens.length > 1)).toEqual([]);
    expect(await first.collections.triggers.countDocuments({ status: 'processing', attempt: 1 })).toBe(total);
  });
});

describe('mongo store: split rule and trigger stores', () => {
  it('runs an engine with rules in one database and triggers in another, the trigger keeping the rule id as a string', async () => {
    const ruleStore = createMongoRuleStore({ client: mongo.client(), dbName: uniqueDbName('crm_rules_only') });
    const triggerStore = createMongoTriggerStore({ client: mongo.client(), dbName: uniqueDbName('crm_triggers_only') });
    mongo.drop(ruleStore);
    mongo.drop(triggerStore);
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const engine = createAutomationEngine({ ruleStore, triggerStore, channels: { sms, email }, instanceId: 'split' });
    const rule = await engine.rules.create(ACCOUNT, technicianRule());
    await engine.ingest({ id: 'evt_split', name: EVENT, accountId: ACCOUNT, payload: { job: { number: 'J-1', status: 'Done', client: { name: 'A' }, assignedTechnician: { name: 'B', phone: '+15557654321' } } } });
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(1);
    const [trigger] = await triggerStore.collections.triggers.find({}).toArray();
    expect(trigger).toMatchObject({ ruleId: rule.id, status: 'completed' });
    expect((await ruleStore.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['rules']);
    // The delivery ledger sits with the triggers, and the engine used it.
    expect((await triggerStore.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual(['deliveries', 'pending_triggers']);
    expect(await triggerStore.collections.deliveries.countDocuments({ triggerId: String(trigger?._id.toHexString()) })).toBe(2);
  });
});

describe('mongo store: retention', () => {
  it('stamps finished triggers the policy covers and the periodic delete removes them when due', async () => {
    const store = open({ retention: { completedMs: 3_600_000, skippedMs: 60_000, mode: 'periodic' } });
    const report = await store.ensureIndexes();
    expect(report.retention).toBe('periodic');
    expect(store.capabilities.ttlRetention).toBe(false);
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    await store.insertTriggers(['a', 'b', 'c', 'd'].map((e) => dueTrigger(rule, e, T0)), T0);
    const claimed = await store.claimDueTriggers({ now: T0, limit: 4, leaseMs: 30_000, owner: 'w' });
    const statuses = ['completed', 'skipped', 'failed', 'retrying'] as const;
    await Promise.all(claimed.map((c, i) => store.finishAttempt(c.id, c.leaseToken, { ...finished(statuses[i] ?? 'completed', at(1_000)), ...(statuses[i] === 'retrying' ? { evaluateAt: at(10 ** 9) } : {}) })));
    const stamps = new Map((await store.collections.triggers.find({}).toArray()).map((d) => [d.status, d.expireAt]));
    expect(stamps.get('completed')).toEqual(at(1_000 + 3_600_000));
    expect(stamps.get('skipped')).toEqual(at(1_000 + 60_000));
    expect(stamps.get('failed')).toBeUndefined();
    expect(stamps.get('retrying')).toBeUndefined();

    expect(await store.purgeExpired(at(60_999))).toBe(0);
    expect(await store.purgeExpired(at(61_000))).toBe(1);
    let now = at(61_000);
    const handle = store.startRetention({ intervalMs: 25, now: () => now });
    now = at(1_000 + 3_600_000);
    await waitFor('the periodic delete to remove the completed trigger', async () => (await store.collections.triggers.countDocuments({ status: 'completed' })) === 0, 10_000, 25);
    await handle.stop();
    expect((await store.collections.triggers.find({}).toArray()).map((d) => d.status).sort()).toEqual(['failed', 'retrying']);
  });

  it('uses a TTL index where the server expires documents, and refuses mode "ttl" where it would not', async () => {
    const store = open({ retention: { mode: 'ttl' }, autoIndex: false });
    if (ttlMonitor === false) {
      const error = await store.ensureIndexes().catch((e: unknown) => e);
      expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
      const auto = open({ retention: {} });
      expect((await auto.ensureIndexes()).retention).toBe('periodic');
      expect(auto.capabilities.ttlRetention).toBe(false);
    } else {
      expect((await store.ensureIndexes()).retention).toBe('ttl');
      expect(store.capabilities.ttlRetention).toBe(true);
    }
  });

  it('clears the expiry stamp when a failed trigger is retried', async () => {
    const store = open({ retention: { failedMs: 1_000 } });
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const [inserted] = await store.insertTriggers([dueTrigger(rule, 'f', T0)], T0);
    const [c] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 30_000, owner: 'w' });
    await store.finishAttempt(c?.id as string, c?.leaseToken as string, finished('failed', at(1)));
    expect((await store.collections.triggers.findOne({}))?.expireAt).toEqual(at(1_001));
    await store.transitionTrigger(ACCOUNT, inserted?.trigger.id as string, { from: ['failed'], to: 'pending', now: at(2), history: { at: at(2), attempt: 1, outcome: 'retry-requested' } });
    expect(await store.purgeExpired(at(10 ** 9))).toBe(0);
    expect((await store.getTrigger(ACCOUNT, inserted?.trigger.id as string))?.status).toBe('pending');
  });
});
