import { describe, expect, it } from 'vitest';
import type { CounterBucket } from '@crm-automation/core';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { bucketField } from '../src/mongo-contact-counter.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoClientTestFile } from './mongo-test-file.js';

// What the shared contract (mongo-contact-policy.contract.services.test.ts) does not see: the documents
// this adapter writes, keys that would be paths, and contention from clients of their own.

const mongo = mongoClientTestFile();

const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const DAY = 86_400_000;
const ACCOUNT = 'acc_mongo_contact';
const PHONE = '+15550001111';

/** One store on a fresh database, and `extra` more on it, each with a MongoClient of its own (other processes). */
async function storesOn(extra = 0, collections?: Parameters<typeof createMongoStore>[0]['collections']): Promise<[MongoStore, ...MongoStore[]]> {
  const dbName = uniqueDbName('crm_contact');
  const first = mongo.drop(createMongoStore({ client: mongo.client(), dbName, ...(collections ? { collections } : {}) }));
  await first.ensureIndexes();
  const more: MongoStore[] = [];
  for (let i = 0; i < extra; i++) {
    more.push(mongo.drop(createMongoStore({ uri: mongo.uri(), dbName, autoIndex: false, ...(collections ? { collections } : {}) })));
  }
  return [first, ...more];
}

const reserve = (store: MongoStore, holder: string, buckets: CounterBucket[], now = at(1_000), recipient = PHONE) =>
  store.reserve({ accountId: ACCOUNT, channel: 'sms', recipient, buckets, holder, now });

describe('mongo contact counter', () => {
  it('4 clients reserving 50 holders against a max of 3: exactly 3 hold a unit, in one document', async () => {
    const stores = await storesOn(3);
    const key = `sms|${PHONE}|day|2030-01-01`;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(stores[i % stores.length] ?? stores[0], `send-${i}`, [{ key, max: 3, expiresAt: at(2 * DAY) }])));
    const won = results.flatMap((r, i) => (r.ok ? [`send-${i}`] : []));
    expect(won).toHaveLength(3);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.full === key)).toBe(true);
    const docs = await stores[0].collections.contactCounters.find({}).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]?.b[bucketField(key)]?.holders.slice().sort()).toEqual(won.slice().sort());
    expect(docs[0]).toMatchObject({ accountId: ACCOUNT, channel: 'sms', recipient: PHONE, expireAt: at(2 * DAY) });
  });

  it('takes bucket keys with dots, dollars and digits as data, never as paths', async () => {
    const [store] = await storesOn();
    const odd = ['email|a.b@example.com|day|2030-01-01T00:00:00.000', '$where|x', '0', 'b.k|0.1', ''];
    for (const key of odd) expect(await reserve(store, 'send-1', [{ key, max: 1, expiresAt: at(DAY) }], at(1_000), 'a.b@example.com')).toEqual({ ok: true });
    for (const key of odd) expect(await reserve(store, 'send-2', [{ key, max: 1, expiresAt: at(DAY) }], at(1_000), 'a.b@example.com')).toEqual({ ok: false, full: key });
    const doc = await store.collections.contactCounters.findOne({});
    expect(Object.values(doc?.b ?? {}).map((b) => b.key).sort()).toEqual(odd.slice().sort());
    await store.release({ accountId: ACCOUNT, channel: 'sms', recipient: 'a.b@example.com', bucketKeys: odd, holder: 'send-1' });
    for (const key of odd) expect(await reserve(store, 'send-2', [{ key, max: 1, expiresAt: at(DAY) }], at(1_000), 'a.b@example.com')).toEqual({ ok: true });
  });

  it('drops expired buckets from the document on a later reserve, and the document expires with its last bucket', async () => {
    const [store] = await storesOn();
    const yesterday = `sms|${PHONE}|day|2030-01-01`;
    const today = `sms|${PHONE}|day|2030-01-02`;
    expect(await reserve(store, 'send-1', [{ key: yesterday, max: 3, expiresAt: at(2 * DAY) }], at(1_000))).toEqual({ ok: true });
    expect(await reserve(store, 'send-2', [{ key: today, max: 3, expiresAt: at(3 * DAY) }], at(2 * DAY + 1))).toEqual({ ok: true });
    const doc = await store.collections.contactCounters.findOne({});
    expect(Object.values(doc?.b ?? {}).map((b) => b.key)).toEqual([today]);
    expect(doc?.expireAt).toEqual(at(3 * DAY));
    const indexes = await store.collections.contactCounters.listIndexes().toArray();
    expect(indexes.find((i) => i['name'] === 'contact_counters_expiry')).toMatchObject({ key: { expireAt: 1 }, expireAfterSeconds: 0 });
  });

  it('takes its collection names from the options and keys suppressions with a unique index', async () => {
    const [store] = await storesOn(0, { contactPolicies: 'cp', suppressions: 'sup', suppressionChanges: 'sup_log', contactCounters: 'caps' });
    await store.putContactPolicy(ACCOUNT, { channels: { sms: { caps: [{ max: 1, per: 'day' }] } } }, { now: at(0) });
    await store.addSuppression({ accountId: ACCOUNT, channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms', createdAt: at(0) });
    await reserve(store, 'send-1', [{ key: 'k', max: 1, expiresAt: at(DAY) }]);
    const names = (await store.db.listCollections().toArray()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['cp', 'sup', 'sup_log', 'caps']));
    expect(names).not.toContain('contact_policies');
    expect(await store.collections.contactPolicies.countDocuments()).toBe(1);
    expect(await store.collections.suppressionChanges.countDocuments()).toBe(1);
    const keyIndex = (await store.collections.suppressions.listIndexes().toArray()).find((i) => i['name'] === 'suppressions_key');
    expect(keyIndex).toMatchObject({ unique: true, key: { accountId: 1, channel: 1, recipient: 1 } });
  });
});

describe('mongo suppressions and policies', () => {
  it('of 12 adds of one recipient from 4 clients, one is created and one change recorded', async () => {
    const stores = await storesOn(3);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (stores[i % stores.length] ?? stores[0]).addSuppression({ accountId: ACCOUNT, channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms', detail: `d${i}`, createdAt: at(i) }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await stores[0].collections.suppressions.countDocuments()).toBe(1);
    expect(await stores[0].collections.suppressionChanges.countDocuments()).toBe(1);
  });

  it('of 8 first puts at expected version 0 from 4 clients, one is stored at version 1', async () => {
    const stores = await storesOn(3);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => (stores[i % stores.length] ?? stores[0]).putContactPolicy(ACCOUNT, { channels: { sms: { caps: [{ max: i + 1, per: 'day' }] } } }, { now: at(i), expectedVersion: 0 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'CRM_ERR_VERSION_CONFLICT')).toBe(true);
    // Without an expected version, racing puts all write, one after the other.
    await Promise.all(Array.from({ length: 8 }, (_, i) => (stores[i % stores.length] ?? stores[0]).putContactPolicy(ACCOUNT, { channels: {} }, { now: at(100 + i) })));
    expect((await stores[0].getContactPolicy(ACCOUNT))?.version).toBe(9);
  });

  it('keeps a channel whose action type has a dot or a dollar as a value, not a path', async () => {
    const [store] = await storesOn();
    const policy = { channels: { 'slack.dm': { caps: [{ max: 2, per: 'hour' as const }] }, $push: { timeZone: 'Europe/Paris' } } };
    expect((await store.putContactPolicy(ACCOUNT, policy, { now: at(0) })).channels).toEqual(policy.channels);
    expect((await store.getContactPolicy(ACCOUNT))?.channels).toEqual(policy.channels);
  });
});

describe('mongo send throttle', () => {
  const take = (store: MongoStore, now: Date, perSecond: number, burst?: number, channel = 'sms') =>
    store.take({ accountId: ACCOUNT, channel, now, perSecond, ...(burst === undefined ? {} : { burst }) });

  it('of 20 takes at one instant from 4 clients with a burst of 5, exactly 5 get a token', async () => {
    const stores = await storesOn(3);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => take(stores[i % stores.length] ?? stores[0], at(0), 5, 5)));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    // 5 per second from an empty bucket: the next whole token is 200 ms away.
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.retryAtMs === T0 + 200)).toBe(true);
    expect(await stores[0].collections.sendThrottles.countDocuments()).toBe(1);
  });

  it('refills continuously, caps at the burst, keeps channels apart, and never refills for a clock behind', async () => {
    const [store] = await storesOn();
    expect(await take(store, at(0), 2, 2)).toEqual({ ok: true });
    expect(await take(store, at(0), 2, 2)).toEqual({ ok: true });
    expect(await take(store, at(0), 2, 2)).toEqual({ ok: false, retryAtMs: T0 + 500 });
    expect(await take(store, at(0), 2, 2, 'email')).toEqual({ ok: true });
    // Half a token after 250 ms: not yet.
    expect(await take(store, at(250), 2, 2)).toEqual({ ok: false, retryAtMs: T0 + 500 });
    expect(await take(store, at(500), 2, 2)).toEqual({ ok: true });
    // Another engine's clock 400 ms behind: nothing accrues, the bucket's time stays at 500.
    expect(await take(store, at(100), 2, 2)).toEqual({ ok: false, retryAtMs: T0 + 1_000 });
    // An hour idle: full, but only up to the burst.
    expect(await take(store, at(3_600_000), 2, 2)).toEqual({ ok: true });
    expect(await take(store, at(3_600_000), 2, 2)).toEqual({ ok: true });
    expect(await take(store, at(3_600_000), 2, 2)).toEqual({ ok: false, retryAtMs: T0 + 3_600_500 });
    const doc = await store.collections.sendThrottles.findOne({ channel: 'sms' });
    expect(doc).toMatchObject({ accountId: ACCOUNT, tokens: 0, atMs: T0 + 3_600_000, expireAt: at(3_601_000) });
  });
});
