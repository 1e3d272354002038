import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, ObjectId } from 'mongodb';
import { isAutomationError, type RuleDraft } from '@crm-automation/core';
import { createMongoStore, RULE_INDEXES, TRIGGER_INDEXES, type MongoStore, type MongoStoreOptions } from '../src/index.js';
import { ACCOUNT, dueTrigger, EVENT, waitFor } from './fixtures.js';
import { isFerretDb, resolveMongoServer, uniqueDbName } from './mongo-server.js';

let client: MongoClient;
let uri: string;
let ferret: boolean;
const opened: MongoStore[] = [];

beforeAll(async () => {
  const server = await resolveMongoServer();
  uri = server.uri;
  client = await new MongoClient(uri).connect();
  ferret = await isFerretDb(client);
});

afterAll(async () => {
  for (const store of opened) {
    await store.db.dropDatabase().catch(() => undefined);
    await store.close();
  }
  await client?.close();
});

function open(options: Partial<MongoStoreOptions> = {}): MongoStore {
  const store = createMongoStore({ client, dbName: uniqueDbName('crm_store'), ...options });
  opened.push(store);
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

describe('mongo store: connection ownership', () => {
  it('never closes a client it was handed', async () => {
    const store = createMongoStore({ client, dbName: uniqueDbName() });
    await store.insertRule(ACCOUNT, draft, T0);
    await store.close();
    await expect(client.db('admin').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    await client.db(store.db.databaseName).dropDatabase();
  });

  it('closes the client it opened from a uri', async () => {
    const store = createMongoStore({ uri, dbName: uniqueDbName() });
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
    expect(() => createMongoStore({ client, uri })).toThrow(/either client or uri/);
  });
});

describe('mongo store: indexes and documents', () => {
  it('creates every index idempotently, with the intake key unique', async () => {
    const store = open({ autoIndex: false });
    const first = await store.ensureIndexes();
    const second = await store.ensureIndexes();
    expect(second).toEqual(first);
    expect(first.dialect).toBe(ferret ? 'ferretdb' : 'mongodb');
    const ruleIndexes = await store.collections.rules.indexes();
    const triggerIndexes = await store.collections.triggers.indexes();
    for (const def of RULE_INDEXES) expect(ruleIndexes.find((i) => i.name === def.name)?.key).toEqual(def.key);
    for (const def of TRIGGER_INDEXES) expect(triggerIndexes.find((i) => i.name === def.name)?.key).toEqual(def.key);
    expect(triggerIndexes.find((i) => i.name === 'triggers_intake_dedupe')?.unique).toBe(true);
    const retentionIndex = triggerIndexes.find((i) => i.name === 'triggers_retention');
    expect(retentionIndex?.key).toEqual({ expireAt: 1 });
    // FerretDB v1 rejects TTL indexes: the store falls back to a plain index and periodic deletes.
    expect(first.retention).toBe(ferret ? 'periodic' : 'ttl');
    expect(retentionIndex?.expireAfterSeconds).toBe(ferret ? undefined : 0);
  });

  it("stores the design doc's document shapes: ObjectIds, BSON dates, history and sent actions", async () => {
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
    expect(processing).toMatchObject({ status: 'processing', attempt: 1, leaseOwner: 'engine-1', leaseToken: claimed?.leaseToken });
    expect(processing?.ruleId).toBeInstanceOf(ObjectId);
    expect(processing?.ruleId.toHexString()).toBe(rule.id);
    expect(processing?.evaluateAt).toBeInstanceOf(Date);
    expect(processing?.leaseExpiresAt).toEqual(at(30_000));
    expect(processing?.triggeringEvent.timestamp).toBeInstanceOf(Date);
    expect(await store.collections.claims.countDocuments({})).toBe(1);

    await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, { status: 'retrying', evaluateAt: at(60_000), sentActions: [0], now: at(1_000), history: { at: at(1_000), attempt: 1, outcome: 'retrying' } });
    const retrying = await store.collections.triggers.findOne({});
    expect(retrying).toMatchObject({ status: 'retrying', evaluateAt: at(60_000), sentActions: [0] });
    for (const field of ['leaseToken', 'leaseExpiresAt', 'leaseOwner', 'expireAt']) expect(retrying && field in retrying).toBe(false);
    expect(retrying?.executionHistory[0]?.at).toBeInstanceOf(Date);
    // The finished attempt's claim ticket is deleted with the next claim.
    expect(await store.collections.claims.countDocuments({})).toBe(1);
    expect(await store.claimDueTriggers({ now: at(2_000), limit: 1, leaseMs: 30_000, owner: 'engine-1' })).toEqual([]);
    expect(await store.collections.claims.countDocuments({})).toBe(0);
  });

  it('refuses a trigger whose rule id is not an ObjectId with a typed error', async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const error = await store.insertTriggers([{ ...dueTrigger(rule, 'e', T0), ruleId: 'rule-1' }], T0).catch((e: unknown) => e);
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_RULE_NOT_FOUND');
  });
});

describe('mongo store: claim tickets', () => {
  it('waits out a ticket whose claimer died before updating the trigger, then claims the next attempt', async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const [{ trigger } = { trigger: undefined }] = await store.insertTriggers([dueTrigger(rule, 'evt_orphan', T0)], T0);
    const id = trigger?.id as string;
    // A claimer won attempt 1 and crashed before moving the trigger to processing.
    await store.collections.claims.insertOne({ _id: `${id}:1`, triggerId: new ObjectId(id), attempt: 1, owner: 'crashed', claim: 'crashed-call', expiresAt: at(30_000) });
    expect(await store.claimDueTriggers({ now: at(1_000), limit: 10, leaseMs: 30_000, owner: 'w' })).toEqual([]);
    expect((await store.getTrigger(ACCOUNT, id))?.status).toBe('pending');
    const [claimed] = await store.claimDueTriggers({ now: at(30_000), limit: 10, leaseMs: 30_000, owner: 'w' });
    expect(claimed).toMatchObject({ id, attempt: 2, status: 'processing' });
    expect(await store.finishAttempt(id, claimed?.leaseToken as string, { status: 'completed', sentActions: [0], now: at(31_000), history: { at: at(31_000), attempt: 2, outcome: 'completed' } })).toBe(true);
  });

  it('gives a ticket back when the trigger was cancelled between the read and the update', async () => {
    const store = open();
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    const [inserted] = await store.insertTriggers([dueTrigger(rule, 'evt_cancel', T0)], T0);
    const id = inserted?.trigger.id as string;
    // Simulate the race: the candidate read sees it pending, then a user cancels it.
    const realFind = store.collections.triggers.find.bind(store.collections.triggers);
    let intercepted = false;
    Object.assign(store.collections.triggers, {
      find: (...args: Parameters<typeof realFind>) => {
        const cursor = realFind(...args);
        if (intercepted) return cursor;
        intercepted = true;
        const toArray = cursor.toArray.bind(cursor);
        return Object.assign(cursor, {
          toArray: async () => {
            const docs = await toArray();
            await store.transitionTrigger(ACCOUNT, id, { from: ['pending'], to: 'cancelled', now: at(1), history: { at: at(1), attempt: 0, outcome: 'cancelled', by: 'user' } });
            return docs;
          },
        });
      },
    });
    try {
      expect(await store.claimDueTriggers({ now: at(2), limit: 5, leaseMs: 30_000, owner: 'w' })).toEqual([]);
    } finally {
      Object.assign(store.collections.triggers, { find: realFind });
    }
    expect(intercepted).toBe(true);
    expect((await store.getTrigger(ACCOUNT, id))?.status).toBe('cancelled');
    expect(await store.collections.claims.countDocuments({})).toBe(0);
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
    await Promise.all(
      claimed.map((c, i) =>
        store.finishAttempt(c.id, c.leaseToken, { status: statuses[i] ?? 'completed', ...(statuses[i] === 'retrying' ? { evaluateAt: at(10 ** 9) } : {}), sentActions: [], now: at(1_000), history: { at: at(1_000), attempt: 1, outcome: statuses[i] ?? 'completed' } }),
      ),
    );
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

  it('uses a TTL index where the server accepts one and refuses mode "ttl" where it does not', async () => {
    const store = open({ retention: { mode: 'ttl' }, autoIndex: false });
    if (ferret) {
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
    await store.finishAttempt(c?.id as string, c?.leaseToken as string, { status: 'failed', sentActions: [], now: at(1), history: { at: at(1), attempt: 1, outcome: 'failed' } });
    expect((await store.collections.triggers.findOne({}))?.expireAt).toEqual(at(1_001));
    await store.transitionTrigger(ACCOUNT, inserted?.trigger.id as string, { from: ['failed'], to: 'pending', now: at(2), history: { at: at(2), attempt: 1, outcome: 'retry-requested' } });
    expect(await store.purgeExpired(at(10 ** 9))).toBe(0);
    expect((await store.getTrigger(ACCOUNT, inserted?.trigger.id as string))?.status).toBe('pending');
  });
});
