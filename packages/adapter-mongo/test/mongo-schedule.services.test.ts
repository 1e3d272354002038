import { describe, expect, it } from 'vitest';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { createAutomationEngine, createManualClock, createRecordingChannel, type HistoryEntry, type NewTrigger, type RuleDraft, type Trigger, type TriggerConcurrency, type TriggerSchedule } from '@crm-automation/core';
import { createMongoStore, type MongoStore, type MongoStoreOptions } from '../src/index.js';
import { ACCOUNT, EVENT, technicianRule } from './fixtures.js';
import { uniqueDbName } from './mongo-server.js';
import { mongoClientTestFile } from './mongo-test-file.js';

// Issue 17 on this adapter: the trigger's `schedule`, runs stored skipped, the reschedule history a
// supersede writes, cancel reasons; and what the shared contract cannot see (raw slot fields, a
// reschedule cut short, several MongoClients, the commands each insert costs).

const mongo = mongoClientTestFile();

async function openStore(options: Partial<MongoStoreOptions> = {}): Promise<MongoStore> {
  const store = createMongoStore({ client: mongo.client(), dbName: uniqueDbName('crm_schedule'), ...options });
  await store.ensureIndexes();
  mongo.drop(store);
  return store;
}

/** Another handle on the same database, with a MongoClient of its own (a second engine process). */
function another(store: MongoStore): MongoStore {
  const other = createMongoStore({ uri: mongo.uri(), dbName: store.db.databaseName, autoIndex: false });
  mongo.drop(other);
  return other;
}

const T0 = new Date('2030-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const RULE = 'rule_reminder';
const RESCHEDULE: TriggerConcurrency = { mode: 'supersede', reschedule: true };

const scheduleAt = (local: string): TriggerSchedule => ({
  timeZone: 'America/Chicago',
  zoneSource: 'payload',
  anchor: '2030-03-10T15:00:00.000Z',
  local,
  notes: [{ code: 'dst-gap', message: '02:30 does not exist on 2030-03-10 in America/Chicago; moved to 03:00' }],
});

/** A reminder's run for appointment `entityKey`, due `dueMs` after T0, for an event at `ts`. */
const reminder = (eventId: string, ts: number, dueMs: number, options: { entityKey?: string; concurrency?: TriggerConcurrency | null; skipped?: HistoryEntry; ruleId?: string } = {}): NewTrigger => ({
  accountId: ACCOUNT,
  ruleId: options.ruleId ?? RULE,
  ruleVersion: 1,
  evaluateAt: at(dueMs),
  triggeringEvent: { id: eventId, name: EVENT, timestamp: at(ts), payload: { appointment: { id: options.entityKey ?? 'appt_1' } } },
  entityKey: options.entityKey ?? 'appt_1',
  ...(options.concurrency === null ? {} : { concurrency: options.concurrency ?? RESCHEDULE }),
  schedule: scheduleAt(at(dueMs).toISOString()),
  ...(options.skipped ? { skipped: options.skipped } : {}),
});

const skipEntry = (eventId: string, reason: string, now: Date): HistoryEntry => ({
  outcome: 'skipped',
  reason,
  error: { code: 'CRM_ERR_SCHEDULE_ANCHOR', message: '$.appointment.startsAt is missing', retryable: false },
  event: { id: eventId, name: EVENT },
  schedule: { timeZone: 'America/Chicago', zoneSource: 'rule' },
  ruleVersion: 1,
  at: now,
  attempt: 0,
});

async function insertOne(store: MongoStore, input: NewTrigger, now: Date) {
  const [inserted] = await store.insertTriggers([input], now);
  if (!inserted) throw new Error('no insert result');
  return inserted;
}

async function read(store: MongoStore, id: string): Promise<Trigger> {
  const trigger = await store.getTrigger(ACCOUNT, id);
  if (!trigger) throw new Error(`trigger ${id} not found`);
  return trigger;
}

const rawDoc = async (store: MongoStore, id: string) => store.collections.triggers.findOne({ 'triggeringEvent.id': id });

describe('mongo schedules: the trigger schedule and rule schedule round-trip', () => {
  it('stores the trigger schedule and returns it from insert, get, list and claim, through another client', async () => {
    const store = await openStore();
    const input = reminder('s_1', 0, MINUTE, { concurrency: null });
    const inserted = await insertOne(store, input, T0);
    expect(inserted.trigger.schedule).toEqual(input.schedule);
    const other = another(store);
    expect((await read(other, inserted.trigger.id)).schedule).toEqual(input.schedule);
    expect((await other.listTriggers(ACCOUNT, {})).items.map((t) => t.schedule)).toEqual([input.schedule]);
    const [claimed] = await other.claimDueTriggers({ now: at(MINUTE), limit: 5, leaseMs: 30_000, owner: 'w' });
    expect(claimed?.schedule).toEqual(input.schedule);
    // A trigger without a schedule has no field at all, in the store or out of it.
    const plain = await insertOne(store, { ...reminder('s_2', 0, MINUTE, { concurrency: null }), schedule: undefined }, T0);
    expect('schedule' in plain.trigger).toBe(false);
    expect('schedule' in (await read(other, plain.trigger.id))).toBe(false);
    expect(await rawDoc(store, 's_2')).not.toHaveProperty('schedule');
  });

  it('stores a rule schedule, and a replace without one removes it', async () => {
    const store = await openStore();
    const draft: RuleDraft = {
      name: 'Appointment reminder',
      enabled: true,
      trigger: { eventName: EVENT, key: '$.appointment.id' },
      delay: { value: 0, unit: 'minutes' },
      schedule: { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago', window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }, ifPast: 'skip' },
      conditions: { all: [] },
      actions: [],
    };
    const rule = await store.insertRule(ACCOUNT, draft, T0);
    expect(rule.schedule).toEqual(draft.schedule);
    expect((await another(store).getRule(ACCOUNT, rule.id))?.schedule).toEqual(draft.schedule);
    const { schedule: _schedule, ...withoutSchedule } = draft;
    const replaced = await store.replaceRule(ACCOUNT, rule.id, { ...withoutSchedule, delay: { value: 5, unit: 'minutes' } }, { now: at(MINUTE) });
    expect(replaced.ok).toBe(true);
    const again = await store.getRule(ACCOUNT, rule.id);
    expect(again && 'schedule' in again).toBe(false);
  });
});

describe('mongo schedules: runs stored skipped', () => {
  it('an unkeyed skipped run: status skipped, exactly its entry as history, never due, found again on redelivery', async () => {
    const store = await openStore({ retention: { skippedMs: DAY } });
    const entry = skipEntry('k_1', 'anchor-missing', T0);
    const input = { ...reminder('k_1', 0, 0, { concurrency: null, skipped: entry }), entityKey: undefined };
    const inserted = await insertOne(store, input, T0);
    expect(inserted).toMatchObject({ created: true, trigger: { status: 'skipped', attempt: 0 } });
    expect(inserted.trigger.executionHistory).toEqual([entry]);
    expect(inserted.trigger.schedule).toEqual(input.schedule);
    const stored = await read(another(store), inserted.trigger.id);
    expect(stored.executionHistory).toEqual([entry]);
    expect(stored.executionHistory[0]?.at).toBeInstanceOf(Date);
    // Finished at once: retention covers it like any skipped trigger.
    expect((await rawDoc(store, 'k_1'))?.expireAt).toEqual(new Date(T0.getTime() + DAY));
    expect(await store.claimDueTriggers({ now: at(DAY), limit: 5, leaseMs: 30_000, owner: 'w' })).toEqual([]);
    expect(await store.nextDueAt()).toBeNull();
    const redelivery = await insertOne(store, { ...input, skipped: skipEntry('k_1', 'anchor-missing', at(MINUTE)) }, at(MINUTE));
    expect(redelivery).toMatchObject({ created: false, trigger: { id: inserted.trigger.id } });
    expect(redelivery.trigger.executionHistory).toEqual([entry]);
    expect(await store.collections.triggers.countDocuments({})).toBe(1);
  });

  it('a keyed skipped run never takes the pending slot: the pending run stays, untouched, and the slot still works', async () => {
    const store = await openStore();
    const pending = await insertOne(store, reminder('p_1', 0, DAY), T0);
    const skipped = await insertOne(store, reminder('p_2', MINUTE, 0, { skipped: skipEntry('p_2', 'past', at(MINUTE)) }), at(MINUTE));
    expect(skipped).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'skipped', entityKey: 'appt_1' } });
    expect(skipped.trigger.executionHistory.map((h) => h.reason)).toEqual(['past']);
    expect(skipped.pendingTriggerId).toBeUndefined();
    const raw = await rawDoc(store, 'p_2');
    expect(raw?.pendingSlot).toBeUndefined();
    expect(raw?.slotLatch).toBeUndefined();
    expect(await read(store, pending.trigger.id)).toMatchObject({ status: 'pending', executionHistory: [], evaluateAt: at(DAY) });
    // Skipped first, with the slot free: still no slot, so a pending run for the entity can be created after it.
    const lone = await insertOne(store, reminder('q_1', 0, 0, { entityKey: 'appt_2', skipped: skipEntry('q_1', 'anchor-missing', T0) }), T0);
    expect(lone.trigger.status).toBe('skipped');
    const next = await insertOne(store, reminder('q_2', MINUTE, DAY, { entityKey: 'appt_2' }), at(MINUTE));
    expect(next).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', executionHistory: [] } });
    // The redelivery of a keyed skipped run is recognised by the (account, event id, rule) key.
    expect(await insertOne(store, reminder('p_2', MINUTE, 0, { skipped: skipEntry('p_2', 'past', at(2 * MINUTE)) }), at(2 * MINUTE))).toMatchObject({ created: false, outcome: 'redelivered', trigger: { id: skipped.trigger.id } });
  });

  it('a batch mixes skipped, keyed and plain runs, each decided as its own', async () => {
    const store = await openStore();
    await insertOne(store, reminder('b_0', 0, DAY), T0);
    const results = await store.insertTriggers(
      [
        reminder('b_1', MINUTE, 0, { skipped: skipEntry('b_1', 'past', at(MINUTE)) }),
        reminder('b_1', MINUTE, 2 * DAY, { ruleId: 'rule_other' }),
        reminder('b_1', MINUTE, DAY, { ruleId: 'rule_plain', concurrency: null }),
      ],
      at(MINUTE),
    );
    expect(results.map((r) => [r.trigger.status, r.outcome])).toEqual([
      ['skipped', 'created'],
      ['pending', 'created'],
      ['pending', 'created'],
    ]);
  });
});

describe('mongo schedules: a supersede that moves the due time (reschedule)', () => {
  it('writes the two rescheduled entries as the spec says, with Dates that come back as Dates', async () => {
    const store = await openStore();
    const first = await insertOne(store, reminder('r_1', 0, DAY), T0);
    const now = at(MINUTE);
    const second = await insertOne(store, reminder('r_2', MINUTE, 2 * DAY), now);
    expect(second).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: first.trigger.id, trigger: { status: 'pending', evaluateAt: at(2 * DAY) } });
    const change = { from: at(DAY), to: at(2 * DAY), eventId: 'r_2', event: { id: 'r_2', name: EVENT }, at: now };
    expect(second.trigger.executionHistory).toEqual([{ outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: first.trigger.id, attempt: 0 }]);

    const other = another(store);
    const replaced = await read(other, first.trigger.id);
    expect(replaced.status).toBe('cancelled');
    expect(replaced.executionHistory).toEqual([{ outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: second.trigger.id, attempt: 0 }]);
    const successor = await read(other, second.trigger.id);
    expect(successor.executionHistory).toEqual(second.trigger.executionHistory);
    for (const entry of [...replaced.executionHistory, ...successor.executionHistory]) {
      expect(entry.from).toBeInstanceOf(Date);
      expect(entry.to).toBeInstanceOf(Date);
      expect(entry.at).toBeInstanceOf(Date);
    }
    expect(successor.schedule?.local).toBe(at(2 * DAY).toISOString());

    // Moved earlier: the chain goes on, from the successor's due time.
    const third = await insertOne(store, reminder('r_3', 2 * MINUTE, DAY / 2), at(2 * MINUTE));
    expect(third.trigger.executionHistory).toMatchObject([{ outcome: 'rescheduled', from: at(2 * DAY), to: at(DAY / 2), triggerId: second.trigger.id, eventId: 'r_3' }]);
    expect((await read(store, second.trigger.id)).executionHistory).toMatchObject([{ outcome: 'rescheduled' }, { outcome: 'superseded', reason: 'rescheduled', from: at(2 * DAY), to: at(DAY / 2), triggerId: third.trigger.id }]);
    expect(third.trigger.firstEventAt).toEqual(T0);
  });

  it('the same due time is a plain supersede; without `reschedule` a moved time is one too', async () => {
    const store = await openStore();
    const first = await insertOne(store, reminder('u_1', 0, DAY), T0);
    const same = await insertOne(store, reminder('u_2', MINUTE, DAY), at(MINUTE));
    expect(same).toMatchObject({ outcome: 'superseded', trigger: { executionHistory: [] } });
    expect((await read(store, first.trigger.id)).executionHistory).toEqual([{ outcome: 'superseded', reason: 'superseded', triggerId: same.trigger.id, event: { id: 'u_2', name: EVENT }, at: at(MINUTE), attempt: 0 }]);

    const plain = await insertOne(store, reminder('v_1', 0, DAY, { entityKey: 'appt_v', concurrency: { mode: 'supersede' } }), T0);
    const moved = await insertOne(store, reminder('v_2', MINUTE, 2 * DAY, { entityKey: 'appt_v', concurrency: { mode: 'supersede' } }), at(MINUTE));
    expect(moved).toMatchObject({ outcome: 'superseded', trigger: { executionHistory: [] } });
    expect((await read(store, plain.trigger.id)).executionHistory.map((h) => [h.outcome, h.reason, 'from' in h])).toEqual([['superseded', 'superseded', false]]);
  });

  it('`to` is the due time stored (capped by maxWaitMs); an older event is stale, as before', async () => {
    const store = await openStore();
    const capped: TriggerConcurrency = { mode: 'supersede', reschedule: true, maxWaitMs: DAY };
    const first = await insertOne(store, reminder('m_1', 0, DAY / 2, { concurrency: capped }), T0);
    const second = await insertOne(store, reminder('m_2', MINUTE, 3 * DAY, { concurrency: capped }), at(MINUTE));
    expect(second.trigger.evaluateAt).toEqual(at(DAY));
    expect(second.trigger.executionHistory).toMatchObject([{ outcome: 'rescheduled', from: at(DAY / 2), to: at(DAY) }]);
    expect((await read(store, first.trigger.id)).executionHistory).toMatchObject([{ reason: 'rescheduled', from: at(DAY / 2), to: at(DAY) }]);

    const late = await insertOne(store, reminder('m_0', MINUTE / 2, 5 * DAY, { concurrency: capped }), at(2 * MINUTE));
    expect(late).toMatchObject({ outcome: 'stale', pendingTriggerId: second.trigger.id, trigger: { status: 'cancelled' } });
    expect(late.trigger.executionHistory).toEqual([{ outcome: 'superseded', reason: 'stale', triggerId: second.trigger.id, at: at(2 * MINUTE), attempt: 0 }]);
    expect((await read(store, second.trigger.id)).evaluateAt).toEqual(at(DAY));
  });

  it('a reschedule cut short after its first write is finished by the redelivery, both entries intact', async () => {
    const store = await openStore();
    const first = await insertOne(store, reminder('h_1', 0, DAY), T0);
    const triggers = store.collections.triggers;
    const realInsertOne = triggers.insertOne.bind(triggers);
    Object.assign(triggers, { insertOne: () => Promise.reject(new Error('process died')) });
    try {
      await expect(insertOne(store, reminder('h_2', MINUTE, 2 * DAY), at(MINUTE))).rejects.toThrow('process died');
    } finally {
      Object.assign(triggers, { insertOne: realInsertOne });
    }
    // The redelivery arrives later (a different `now`): the entries keep the time of the first decision.
    const again = await insertOne(another(store), reminder('h_2', MINUTE, 2 * DAY), at(5 * MINUTE));
    expect(again).toMatchObject({ created: false, outcome: 'redelivered', trigger: { status: 'pending', evaluateAt: at(2 * DAY) } });
    const change = { from: at(DAY), to: at(2 * DAY), eventId: 'h_2', event: { id: 'h_2', name: EVENT }, at: at(MINUTE) };
    expect(again.trigger.executionHistory).toEqual([{ outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: first.trigger.id, attempt: 0 }]);
    expect((await read(store, first.trigger.id)).executionHistory).toEqual([{ outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: again.trigger.id, attempt: 0 }]);
  });

  it('concurrent reschedules of one appointment on several clients leave one pending run and a consistent chain', async () => {
    const store = await openStore();
    const stores = [store, another(store), another(store), another(store)];
    await insertOne(store, reminder('c_0', 0, DAY), T0);
    const events = Array.from({ length: 12 }, (_, i) => reminder(`c_${i + 1}`, (i + 1) * 1_000, DAY + (i % 3) * MINUTE));
    const results = await Promise.all(events.map((e, i) => insertOne(stores[i % stores.length] as MongoStore, e, at(MINUTE))));
    expect(results.every((r) => r.created)).toBe(true);
    const all = (await store.listTriggers(ACCOUNT, { entityKey: 'appt_1', limit: 100 })).items;
    const pending = all.filter((t) => t.status === 'pending');
    expect(pending).toHaveLength(1);
    // The newest event holds the slot whatever the interleaving.
    expect(pending[0]?.triggeringEvent.id).toBe('c_12');
    const byId = new Map(all.map((t) => [t.id, t]));
    for (const t of all.filter((x) => x.status === 'cancelled' && x.executionHistory[0]?.outcome === 'superseded' && x.executionHistory[0].reason !== 'stale')) {
      const entry = t.executionHistory[0] as HistoryEntry;
      const successor = byId.get(entry.triggerId ?? '');
      expect(successor, `successor of ${t.triggeringEvent.id}`).toBeDefined();
      if (!successor) continue;
      const moved = t.evaluateAt.getTime() !== successor.evaluateAt.getTime();
      expect(entry.reason).toBe(moved ? 'rescheduled' : 'superseded');
      if (moved) {
        expect(entry).toMatchObject({ from: t.evaluateAt, to: successor.evaluateAt, eventId: successor.triggeringEvent.id });
        expect(successor.executionHistory[0]).toMatchObject({ outcome: 'rescheduled', from: t.evaluateAt, to: successor.evaluateAt, triggerId: t.id });
      } else {
        expect(successor.executionHistory.filter((h) => h.outcome === 'rescheduled')).toEqual([]);
      }
    }
    expect((await store.collections.triggers.find({ handover: { $exists: true } }).toArray())).toEqual([]);
  });
});

describe('mongo schedules: cancel reasons', () => {
  it('writes the request reason, and cancelled-by-event when it has none', async () => {
    const store = await openStore();
    await insertOne(store, reminder('x_1', 0, DAY), T0);
    const base = { accountId: ACCOUNT, ruleId: RULE, entityKey: 'appt_1', event: { id: 'x_2', name: EVENT }, now: at(MINUTE), by: 'engine-1' };
    const result = await store.cancelTriggers({ ...base, eventTimestamp: at(MINUTE), reason: 'anchor-missing' });
    expect(result.cancelled.map((t) => t.executionHistory.at(-1))).toEqual([{ outcome: 'cancelled', reason: 'anchor-missing', event: base.event, at: at(MINUTE), attempt: 0, by: 'engine-1' }]);
    expect((await rawDoc(store, 'x_1'))?.pendingSlot).toBeUndefined();
    await insertOne(store, reminder('x_3', 2 * MINUTE, DAY), at(2 * MINUTE));
    const plain = await store.cancelTriggers({ ...base, eventTimestamp: at(3 * MINUTE), now: at(3 * MINUTE) });
    expect(plain.cancelled.map((t) => t.executionHistory.at(-1)?.reason)).toEqual(['cancelled-by-event']);
  });
});

describe('mongo schedules: commands per insert', () => {
  /** The commands a store on its own monitored client sends while `run` runs, by name and collection. */
  async function countCommands(run: (store: MongoStore) => Promise<void>, setup: (store: MongoStore) => Promise<void>): Promise<string[]> {
    const monitored = await new MongoClient(mongo.uri(), { monitorCommands: true }).connect();
    // The store never closes a client it was handed, so its release closes the monitored client after it.
    const store = createMongoStore({ client: monitored, dbName: uniqueDbName('crm_schedule_cmds') });
    mongo.drop({ db: store.db, close: async () => { await store.close(); await monitored.close(); } });
    await store.ensureIndexes();
    await setup(store);
    const seen: string[] = [];
    const listener = (event: CommandStartedEvent) => {
      if (/^(hello|isMaster|ping|endSessions)$/.test(event.commandName)) return;
      const target = (event.command as Record<string, unknown>)[event.commandName];
      seen.push(typeof target === 'string' ? `${event.commandName} ${target}` : event.commandName);
    };
    monitored.on('commandStarted', listener);
    try {
      await run(store);
    } finally {
      monitored.off('commandStarted', listener);
    }
    return seen;
  }

  it('a reschedule costs the commands of a plain supersede; skipped and plain inserts one insert each', async () => {
    const first = (concurrency: TriggerConcurrency) => async (store: MongoStore) => void (await insertOne(store, reminder('n_1', 0, DAY, { concurrency }), T0));
    const plainSupersede = await countCommands(async (store) => void (await insertOne(store, reminder('n_2', MINUTE, 2 * DAY, { concurrency: { mode: 'supersede' } }), at(MINUTE))), first({ mode: 'supersede' }));
    const reschedule = await countCommands(async (store) => void (await insertOne(store, reminder('n_2', MINUTE, 2 * DAY), at(MINUTE))), first(RESCHEDULE));
    const skipped = await countCommands(async (store) => void (await insertOne(store, reminder('n_2', MINUTE, 0, { skipped: skipEntry('n_2', 'past', at(MINUTE)) }), at(MINUTE))), first(RESCHEDULE));
    const unkeyed = await countCommands(async (store) => void (await insertOne(store, { ...reminder('n_2', MINUTE, DAY, { concurrency: null }), entityKey: undefined, schedule: undefined }, at(MINUTE))), async () => undefined);
    console.log(`commands per insert: plain supersede ${plainSupersede.length} [${plainSupersede.join(', ')}]; reschedule ${reschedule.length} [${reschedule.join(', ')}]; skipped ${skipped.length}; unkeyed ${unkeyed.length}`);
    expect(reschedule).toEqual(plainSupersede);
    expect(skipped).toEqual(['insert pending_triggers']);
    expect(unkeyed).toEqual(['insert pending_triggers']);
  });
});

describe('mongo schedules: through the engine', () => {
  it('a keyed reminder moves with its appointment, is cancelled when the date is removed, and nothing is sent', async () => {
    const store = await openStore();
    const clock = createManualClock(new Date('2030-01-01T12:00:00.000Z'));
    const sms = createRecordingChannel({ name: 'sms' });
    const engine = createAutomationEngine({ store, clock, channels: { sms, email: createRecordingChannel({ name: 'email' }) }, instanceId: 'engine-schedule' });
    const { delay: _delay, ...base } = technicianRule({
      trigger: { eventName: 'appointment.changed', key: '$.appointment.id' },
      conditions: { all: [] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'See you tomorrow.' } }],
    });
    const rule = await engine.rules.create(ACCOUNT, { ...base, schedule: { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: '$.client.timeZone' } });
    expect((await another(store).getRule(ACCOUNT, rule.id))?.schedule).toMatchObject({ anchor: '$.appointment.startsAt', at: '09:00' });
    const changed = (id: string, minutes: number, startsAt: string | undefined) => ({
      id,
      name: 'appointment.changed',
      accountId: ACCOUNT,
      timestamp: new Date(Date.parse('2030-01-01T12:00:00.000Z') + minutes * MINUTE),
      payload: { appointment: { id: 'appt_9', ...(startsAt ? { startsAt } : {}) }, client: { timeZone: 'America/Chicago' } },
    });

    const booked = await engine.ingest(changed('a_1', 0, '2030-01-10T15:00:00.000Z'));
    expect(booked.map((t) => [t.status, t.evaluateAt.toISOString(), t.schedule?.local])).toEqual([['pending', '2030-01-09T15:00:00.000Z', '2030-01-09T09:00:00.000-06:00']]);
    const moved = await engine.ingest(changed('a_2', 1, '2030-01-12T15:00:00.000Z'));
    expect(moved.summary).toMatchObject({ superseded: 1, rescheduled: 1 });
    const [pending] = (await store.listTriggers(ACCOUNT, { ruleId: rule.id, status: 'pending' })).items;
    expect(pending?.executionHistory).toMatchObject([{ outcome: 'rescheduled', from: new Date('2030-01-09T15:00:00.000Z'), to: new Date('2030-01-11T15:00:00.000Z'), eventId: 'a_2', triggerId: booked[0]?.id }]);

    const removed = await engine.ingest(changed('a_3', 2, undefined));
    expect(removed.summary).toMatchObject({ skipped: 1, cancelled: 1 });
    const runs = (await another(store).listTriggers(ACCOUNT, { ruleId: rule.id, limit: 10 })).items;
    expect(runs.map((t) => [t.triggeringEvent.id, t.status, t.executionHistory.at(-1)?.reason])).toEqual([
      ['a_3', 'skipped', 'anchor-missing'],
      ['a_2', 'cancelled', 'anchor-missing'],
      ['a_1', 'cancelled', 'rescheduled'],
    ]);
    await clock.advance(30 * DAY);
    expect(await engine.runDue()).toMatchObject({ claimed: 0 });
    expect(sms.sent).toEqual([]);
  });
});
