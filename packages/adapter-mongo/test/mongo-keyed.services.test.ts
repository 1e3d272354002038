import { describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import type { NewTrigger, RuleDraft, TriggerConcurrency } from '@crm-automation/core';
import { createMongoStore, TRIGGER_INDEXES, type MongoStore } from '../src/index.js';
import { ACCOUNT, EVENT } from './fixtures.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoClientTestFile } from './mongo-test-file.js';

// Issue 16 on this adapter: what the shared contract cannot see from outside (the slot fields, the
// hand-over cut short, several MongoClients under load, interleaved claims and cancels).

const mongo = mongoClientTestFile();

/** A store on a database of its own, and `clients` more handles on it, each with a MongoClient of its own. */
async function openStores(clients: number): Promise<[MongoStore, ...MongoStore[]]> {
  const dbName = uniqueDbName('crm_keyed');
  const first = createMongoStore({ client: mongo.client(), dbName });
  await first.ensureIndexes();
  const others = Array.from({ length: clients }, () => createMongoStore({ uri: mongo.uri(), dbName, autoIndex: false }));
  for (const store of [first, ...others]) mongo.drop(store);
  return [first, ...others];
}

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MINUTE = 60_000;
const SUPERSEDE: TriggerConcurrency = { mode: 'supersede' };
const SKIP: TriggerConcurrency = { mode: 'skipIfPending' };
const RULE = 'rule_keyed';

const keyed = (eventId: string, ts: number, options: { entityKey?: string; concurrency?: TriggerConcurrency; delayMs?: number; ruleId?: string } = {}): NewTrigger => ({
  accountId: ACCOUNT,
  ruleId: options.ruleId ?? RULE,
  ruleVersion: 1,
  evaluateAt: at(ts + (options.delayMs ?? 5 * MINUTE)),
  triggeringEvent: { id: eventId, name: EVENT, timestamp: at(ts), payload: { job: { id: options.entityKey ?? 'job_1' } } },
  entityKey: options.entityKey ?? 'job_1',
  ...(options.concurrency ? { concurrency: options.concurrency } : {}),
});

async function insertOne(store: MongoStore, input: NewTrigger, now: Date) {
  const [inserted] = await store.insertTriggers([input], now);
  if (!inserted) throw new Error('no insert result');
  return inserted;
}

/** The raw documents of one entity: what holds the slot, and any hand-over left unfinished. */
async function slotState(store: MongoStore, entityKey: string) {
  const docs = await store.collections.triggers.find({ accountId: ACCOUNT, ruleId: RULE, entityKey }).toArray();
  return {
    docs,
    pending: docs.filter((d) => d.status === 'pending'),
    slotHolders: docs.filter((d) => d.pendingSlot !== undefined || d.slotLatch !== undefined),
    handovers: docs.filter((d) => d.handover !== undefined),
  };
}

// (Claimed triggers carry their lease token by design; the rest never leaves the store.)
const INTERNAL_FIELDS = ['pendingSlot', 'slotLatch', 'handover', 'cancelMark', 'leaseOwner', 'expireAt'];

describe('mongo keyed triggers: the pending slot', () => {
  it('creates both slot indexes unique and sparse, the entity indexes partial, and adds no collection', async () => {
    const [store] = await openStores(0);
    const indexes = await store.collections.triggers.indexes();
    for (const name of ['triggers_pending_slot', 'triggers_slot_latch']) {
      const index = indexes.find((i) => i.name === name);
      expect(index).toMatchObject({ unique: true, sparse: true });
      expect(index?.key).toEqual(TRIGGER_INDEXES.find((d) => d.name === name)?.key);
    }
    expect(indexes.find((i) => i.name === 'triggers_by_entity_status')?.key).toEqual({ accountId: 1, ruleId: 1, entityKey: 1, status: 1 });
    // The entity indexes cover keyed triggers only (non-unique, so a server that ignores the filter is still right).
    for (const name of ['triggers_by_entity_status', 'triggers_by_entity']) expect(indexes.find((i) => i.name === name)).toMatchObject({ partialFilterExpression: { entityKey: { $exists: true } } });
    expect(indexes.find((i) => i.name === 'triggers_by_entity_status')?.unique).toBeUndefined();
    expect((await store.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual(['contact_counters', 'deliveries', 'pending_triggers', 'rules', 'send_throttles', 'suppression_changes', 'suppressions']);
  });

  it('refuses keyed concurrency where migrations left out the slot indexes (autoIndex: false), and accepts it once they exist', async () => {
    const dbName = uniqueDbName('crm_keyed_noindex');
    const store = createMongoStore({ client: mongo.client(), dbName, autoIndex: false });
    mongo.drop(store);
    await expect(insertOne(store, keyed('n_1', 0, { concurrency: SUPERSEDE }), T0)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('triggers_pending_slot, triggers_slot_latch') });
    expect(await store.collections.triggers.countDocuments({})).toBe(0);
    // Triggers without a mode do not need them.
    expect(await insertOne(store, keyed('n_2', 0), T0)).toMatchObject({ created: true, outcome: 'created' });
    const other = createMongoStore({ client: mongo.client(), dbName, autoIndex: false });
    mongo.drop(other);
    await other.ensureIndexes();
    const fresh = createMongoStore({ client: mongo.client(), dbName, autoIndex: false });
    mongo.drop(fresh);
    expect(await insertOne(fresh, keyed('n_3', 0, { concurrency: SUPERSEDE }), T0)).toMatchObject({ outcome: 'created' });
  });

  it('holds the slot on the pending trigger only (both fields when it found the slot free), hands it over on supersede, frees it on claim; none of it leaves the store', async () => {
    const [store] = await openStores(0);
    const unkeyedMode = await insertOne(store, keyed('e_all', 0, { delayMs: 0 }), T0);
    const first = await insertOne(store, keyed('e_1', 0, { concurrency: SUPERSEDE, delayMs: 0 }), T0);
    let state = await slotState(store, 'job_1');
    expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([first.trigger.id]);
    expect(state.slotHolders[0]).toMatchObject({ pendingSlot: JSON.stringify([ACCOUNT, RULE, 'job_1']), slotLatch: JSON.stringify([ACCOUNT, RULE, 'job_1']) });
    expect(state.docs.find((d) => d._id.toHexString() === unkeyedMode.trigger.id)?.pendingSlot).toBeUndefined();

    const second = await insertOne(store, keyed('e_2', MINUTE, { concurrency: SUPERSEDE, delayMs: 0 }), at(MINUTE));
    expect(second).toMatchObject({ outcome: 'superseded', pendingTriggerId: first.trigger.id });
    state = await slotState(store, 'job_1');
    expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([second.trigger.id]);
    // The successor holds the field its predecessor gave up; the predecessor holds nothing.
    expect(state.slotHolders[0]).toMatchObject({ slotLatch: JSON.stringify([ACCOUNT, RULE, 'job_1']) });
    expect(state.slotHolders[0]?.pendingSlot).toBeUndefined();
    expect(state.handovers).toEqual([]);
    // A third event: the field alternates back.
    const third = await insertOne(store, keyed('e_3', MINUTE + 1, { concurrency: SUPERSEDE, delayMs: 0 }), at(MINUTE));
    expect(third).toMatchObject({ outcome: 'superseded', pendingTriggerId: second.trigger.id });
    state = await slotState(store, 'job_1');
    expect(state.slotHolders.map((d) => [d._id.toHexString(), d.pendingSlot !== undefined, d.slotLatch !== undefined])).toEqual([[third.trigger.id, true, false]]);

    const claimed = await store.claimDueTriggers({ now: at(2 * MINUTE), limit: 10, leaseMs: 30_000, owner: 'w' });
    expect(claimed.map((c) => c.id).sort()).toEqual([unkeyedMode.trigger.id, third.trigger.id].sort());
    expect((await slotState(store, 'job_1')).slotHolders).toEqual([]);

    const seen = [second.trigger, ...claimed, ...(await store.listTriggers(ACCOUNT, { entityKey: 'job_1' })).items, await store.getTrigger(ACCOUNT, first.trigger.id)];
    for (const trigger of seen) for (const field of INTERNAL_FIELDS) expect(trigger && field in trigger).toBe(false);
  });

  it('a supersede cut short after its first write (the process died) is finished by the redelivery of its event, which is then recognised', async () => {
    const [store] = await openStores(0);
    const first = await insertOne(store, keyed('h_1', 0, { concurrency: SUPERSEDE }), T0);
    const triggers = store.collections.triggers;
    const realInsertOne = triggers.insertOne.bind(triggers);
    let cut = false;
    // Step 2 of the hand-over (the successor's insert, latch only) fails once, as if the process died there.
    Object.assign(triggers, {
      insertOne: (...args: Parameters<typeof realInsertOne>) => {
        const doc = args[0];
        if (!cut && doc.slotLatch !== undefined && doc.pendingSlot === undefined) {
          cut = true;
          return Promise.reject(new Error('process died'));
        }
        return realInsertOne(...args);
      },
    });
    try {
      await expect(insertOne(store, keyed('h_2', MINUTE, { concurrency: SUPERSEDE }), at(MINUTE))).rejects.toThrow('process died');
    } finally {
      Object.assign(triggers, { insertOne: realInsertOne });
    }
    expect(cut).toBe(true);
    // Nothing pending, but the slot is still held (by the superseded trigger, which carries its successor).
    let state = await slotState(store, 'job_1');
    expect(state.pending).toEqual([]);
    expect(state.handovers.map((d) => d._id.toHexString())).toEqual([first.trigger.id]);
    const unrelated = await insertOne(store, keyed('h_x', 2 * MINUTE, { concurrency: SUPERSEDE, entityKey: 'job_2' }), at(2 * MINUTE));
    expect(unrelated.outcome).toBe('created');

    // The bus redelivers h_2: the hand-over is finished, and the event is found stored.
    const again = await insertOne(store, keyed('h_2', MINUTE, { concurrency: SUPERSEDE }), at(3 * MINUTE));
    expect(again).toMatchObject({ created: false, outcome: 'redelivered', trigger: { status: 'pending', firstEventAt: T0 } });
    expect(again.trigger.triggeringEvent.id).toBe('h_2');
    const superseded = await store.getTrigger(ACCOUNT, first.trigger.id);
    expect(superseded).toMatchObject({ status: 'cancelled', executionHistory: [{ outcome: 'superseded', triggerId: again.trigger.id }] });
    state = await slotState(store, 'job_1');
    expect(state.handovers).toEqual([]);
    expect(state.pending.map((d) => d._id.toHexString())).toEqual([again.trigger.id]);
    expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([again.trigger.id]);
  });

  it('a cancel finishes an unfinished hand-over first, so the successor it carries is cancelled too', async () => {
    const [store] = await openStores(0);
    const first = await insertOne(store, keyed('hc_1', 0, { concurrency: SUPERSEDE }), T0);
    const triggers = store.collections.triggers;
    const realInsertOne = triggers.insertOne.bind(triggers);
    Object.assign(triggers, { insertOne: () => Promise.reject(new Error('process died')) });
    try {
      await expect(insertOne(store, keyed('hc_2', MINUTE, { concurrency: SUPERSEDE }), at(MINUTE))).rejects.toThrow('process died');
    } finally {
      Object.assign(triggers, { insertOne: realInsertOne });
    }
    const request = { accountId: ACCOUNT, ruleId: RULE, entityKey: 'job_1', eventTimestamp: at(2 * MINUTE), event: { id: 'cancel_1', name: 'job.cancelled' }, now: at(2 * MINUTE), by: 'engine-1' };
    const result = await store.cancelTriggers(request);
    expect(result.cancelled.map((t) => t.triggeringEvent.id)).toEqual(['hc_2']);
    expect(result.cancelled[0]?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'cancelled-by-event', event: request.event });
    expect((await store.getTrigger(ACCOUNT, first.trigger.id))?.executionHistory.map((h) => h.outcome)).toEqual(['superseded']);
    const state = await slotState(store, 'job_1');
    expect(state.pending).toEqual([]);
    expect(state.slotHolders).toEqual([]);
    expect(state.handovers).toEqual([]);
    expect(await insertOne(store, keyed('hc_3', 3 * MINUTE, { concurrency: SUPERSEDE }), at(3 * MINUTE))).toMatchObject({ outcome: 'created' });
  });

  it("a hand-over whose successor's event turns out to be stored already names that trigger instead and frees the slot", async () => {
    const [store] = await openStores(0);
    const triggers = store.collections.triggers;
    const held = await insertOne(store, keyed('x_1', 0, { concurrency: SUPERSEDE }), T0);
    // The event x_2 is stored already (mode all here, as if the rule had changed mode in between).
    const existing = await insertOne(store, keyed('x_2', MINUTE), T0);
    // A superseder of x_1 by x_2 that got as far as step 1, under an id of its own.
    const slot = JSON.stringify([ACCOUNT, RULE, 'job_1']);
    const raw = await triggers.findOne({ _id: new ObjectId(held.trigger.id) });
    if (!raw) throw new Error('held trigger not found');
    const successorId = new ObjectId();
    const { pendingSlot: _taken, ...fields } = raw;
    const successor = { ...fields, _id: successorId, triggeringEvent: { ...raw.triggeringEvent, id: 'x_2', timestamp: at(MINUTE) }, executionHistory: [], slotLatch: slot };
    await triggers.updateOne(
      { _id: raw._id },
      { $set: { status: 'cancelled', handover: successor }, $unset: { slotLatch: '' }, $push: { executionHistory: { outcome: 'superseded', reason: 'superseded', triggerId: successorId.toHexString(), event: { id: 'x_2', name: EVENT }, at: at(MINUTE), attempt: 0 } } },
    );
    const next = await insertOne(store, keyed('x_3', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE));
    expect(next).toMatchObject({ created: true, outcome: 'created' });
    expect((await store.getTrigger(ACCOUNT, held.trigger.id))?.executionHistory.map((h) => h.triggerId)).toEqual([existing.trigger.id]);
    expect(await triggers.countDocuments({ _id: successorId })).toBe(0);
    const state = await slotState(store, 'job_1');
    expect(state.handovers).toEqual([]);
    expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([next.trigger.id]);
  });

  it('a retry written for a trigger whose cancel was requested is stored as the cancel, with the cancelling event', async () => {
    const [store] = await openStores(0);
    const t = await insertOne(store, keyed('r_1', 0, { delayMs: 0 }), T0);
    const [claimed] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 30_000, owner: 'w' });
    expect(claimed?.id).toBe(t.trigger.id);
    const event = { id: 'cancel_r', name: 'job.cancelled' };
    const result = await store.cancelTriggers({ accountId: ACCOUNT, ruleId: RULE, entityKey: 'job_1', eventTimestamp: at(1_000), event, now: at(1_000), by: 'engine-1' });
    expect(result.requested.map((r) => r.id)).toEqual([t.trigger.id]);
    const retry = { status: 'retrying' as const, evaluateAt: at(MINUTE), sentActions: [0], now: at(2_000), history: { at: at(2_000), attempt: 1, outcome: 'retrying' as const, nextAttemptAt: at(MINUTE), by: 'w' } };
    expect(await store.finishAttempt(t.trigger.id, claimed?.leaseToken as string, retry)).toBe(true);
    const stored = await store.getTrigger(ACCOUNT, t.trigger.id);
    expect(stored).toMatchObject({ status: 'cancelled', sentActions: [0], cancelRequested: { event } });
    expect(stored?.executionHistory).toEqual([{ at: at(2_000), attempt: 1, outcome: 'cancelled', reason: 'cancelled-by-event', event, by: 'w' }]);
    expect(stored?.leaseExpiresAt).toBeUndefined();
    // The lease is gone: the same outcome again is refused.
    expect(await store.finishAttempt(t.trigger.id, claimed?.leaseToken as string, retry)).toBe(false);
  });
});

describe('mongo keyed triggers: concurrent intake through separate MongoClients', () => {
  const ROUNDS = 5;

  it(`8 concurrent supersede inserts through 4 clients leave exactly one pending trigger, the newest event, with the chain's first event (${ROUNDS} entities)`, async () => {
    const [, ...stores] = await openStores(4);
    for (let round = 0; round < ROUNDS; round++) {
      const entityKey = `job_s${round}`;
      // Issued out of timestamp order, differently each round.
      const order = [3, 7, 0, 5, 1, 6, 2, 4].map((i) => (i + round) % 8);
      const results = await Promise.all(order.map((i, n) => insertOne(stores[n % stores.length] as MongoStore, keyed(`s${round}_${i}`, i * 1_000, { entityKey, concurrency: SUPERSEDE }), at(10 * MINUTE))));
      const state = await slotState(stores[0] as MongoStore, entityKey);
      expect(state.docs).toHaveLength(8);
      expect(state.pending).toHaveLength(1);
      expect(state.pending[0]?.triggeringEvent.id).toBe(`s${round}_7`);
      expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([state.pending[0]?._id.toHexString()]);
      expect(state.handovers).toEqual([]);
      const created = results.filter((r) => r.outcome === 'created');
      expect(created).toHaveLength(1);
      // No gap in the chain: the survivor's first event is the one that found the slot free.
      expect(state.pending[0]?.firstEventAt).toEqual(created[0]?.trigger.triggeringEvent.timestamp);
      expect(results.filter((r) => r.outcome === 'superseded').length + results.filter((r) => r.outcome === 'stale').length).toBe(7);
    }
  });

  it(`8 concurrent skipIfPending inserts through 4 clients leave exactly one pending trigger and 7 skipped naming it (${ROUNDS} entities)`, async () => {
    const [, ...stores] = await openStores(4);
    for (let round = 0; round < ROUNDS; round++) {
      const entityKey = `job_k${round}`;
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => insertOne(stores[i % stores.length] as MongoStore, keyed(`k${round}_${i}`, i * 1_000, { entityKey, concurrency: SKIP }), at(10 * MINUTE))));
      const state = await slotState(stores[0] as MongoStore, entityKey);
      expect(state.pending).toHaveLength(1);
      const pendingId = state.pending[0]?._id.toHexString();
      const skipped = state.docs.filter((d) => d.status === 'skipped');
      expect(skipped).toHaveLength(7);
      expect(skipped.every((d) => d.executionHistory[0]?.triggerId === pendingId && d.executionHistory[0]?.reason === 'pending-exists')).toBe(true);
      expect(results.filter((r) => r.outcome === 'created').map((r) => r.trigger.id)).toEqual([pendingId]);
      expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual([pendingId]);
    }
  });

  it('supersede inserts, claims and cancels racing on one entity through 4 clients never leave two pending triggers or a stray slot', async () => {
    const [, ...stores] = await openStores(4);
    const entityKey = 'job_mixed';
    for (let wave = 0; wave < 6; wave++) {
      const base = wave * 10_000;
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        const store = stores[i % stores.length] as MongoStore;
        ops.push(insertOne(store, keyed(`m${wave}_${i}`, base + ((i * 3) % 8) * 100, { entityKey, concurrency: SUPERSEDE, delayMs: 0 }), at(base + 5_000)));
      }
      ops.push((stores[1] as MongoStore).claimDueTriggers({ now: at(base + 500), limit: 10, leaseMs: 30_000, owner: 'racer' }));
      if (wave % 2 === 1) ops.push((stores[2] as MongoStore).cancelTriggers({ accountId: ACCOUNT, ruleId: RULE, entityKey, eventTimestamp: at(base + 400), event: { id: `c${wave}`, name: 'job.cancelled' }, now: at(base + 5_000), by: 'racer' }));
      await Promise.all(ops);
      const state = await slotState(stores[0] as MongoStore, entityKey);
      expect(state.pending.length).toBeLessThanOrEqual(1);
      expect(state.handovers).toEqual([]);
      // Whatever holds the slot is the one pending trigger.
      expect(state.slotHolders.map((d) => d._id.toHexString())).toEqual(state.pending.map((d) => d._id.toHexString()));
      for (const d of state.slotHolders) expect([d.pendingSlot, d.slotLatch]).toContain(JSON.stringify([ACCOUNT, RULE, entityKey]));
    }
    const all = await slotState(stores[0] as MongoStore, entityKey);
    expect(all.docs).toHaveLength(48);
  });
});

describe('mongo rule store: issue 16 fields', () => {
  it('stores trigger.key, cancelOn, concurrency and evaluate, finds the rule by either event name, and a replace without them drops them', async () => {
    const [store] = await openStores(0);
    const draft: RuleDraft = {
      name: 'Job done SMS',
      enabled: true,
      trigger: { eventName: EVENT, key: '$.job.id' },
      delay: { value: 5, unit: 'minutes' },
      conditions: { all: [] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'done' } }],
      cancelOn: [{ eventName: 'job.reopened' }, { eventName: 'job.cancelled', key: '$.id', conditions: { all: [{ fact: 'reason', path: '$', operator: 'equal', value: 'customer' }] } }],
      concurrency: { mode: 'supersede', maxWait: { value: 30, unit: 'minutes' } },
      evaluate: { job: 'current' },
    };
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    expect(await store.getRule(ACCOUNT, rule.id)).toEqual(rule);
    expect(rule).toMatchObject({ trigger: draft.trigger, cancelOn: draft.cancelOn, concurrency: draft.concurrency, evaluate: draft.evaluate });
    for (const name of [EVENT, 'job.reopened', 'job.cancelled']) expect((await store.findRulesForEvent(ACCOUNT, name)).map((r) => r.id)).toEqual([rule.id]);
    expect(await store.findRulesForEvent(ACCOUNT, 'job.created')).toEqual([]);

    const { cancelOn: _c, concurrency: _m, evaluate: _e, ...plain } = draft;
    const replaced = await store.replaceRule(ACCOUNT, rule.id, { ...plain, trigger: { eventName: EVENT } }, { now: at(1) });
    expect(replaced.ok).toBe(true);
    const raw = await store.collections.rules.findOne({});
    for (const field of ['cancelOn', 'concurrency', 'evaluate']) expect(raw && field in raw).toBe(false);
    expect(raw?.trigger).toEqual({ eventName: EVENT });
    expect(await store.findRulesForEvent(ACCOUNT, 'job.reopened')).toEqual([]);
    expect(await store.getRule(ACCOUNT, rule.id)).toEqual(replaced.ok ? replaced.rule : undefined);
  });
});
