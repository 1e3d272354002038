import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { HistoryEntry, InsertedTrigger, NewTrigger, RuleDraft, RuleSchedule, TriggerConcurrency, TriggerSchedule } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { keyedStatements } from '../src/keyed-statements.js';
import { postgresUrl, testResources } from './postgres-server.js';

// Issue 17 in the PostgreSQL store, beyond the contract: rules keep their schedule, the statement that
// decides a trigger alone writes a reschedule like the merged one, and what each kind of insert costs
// in statements.

const url = postgresUrl();
let pool: pg.Pool;
const resources = testResources();
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;
const RESCHEDULE: TriggerConcurrency = { mode: 'supersede', reschedule: true };

const schedule = (local: string): TriggerSchedule => ({ timeZone: 'America/Chicago', zoneSource: 'payload', anchor: '2030-01-03T15:30:00.000Z', local, notes: [{ code: 'window', message: 'moved to 08:00' }] });

/** A trigger of `ruleId` for appointment `key`, its event at `eventMs` after T0, due at `dueMs`. */
const appointment = (eventId: string, eventMs: number, dueMs: number, options: { ruleId?: string; concurrency?: TriggerConcurrency; skipped?: HistoryEntry; key?: string } = {}): NewTrigger => ({
  accountId: 'acc_1',
  ruleId: options.ruleId ?? 'rule-1',
  ruleVersion: 1,
  evaluateAt: at(dueMs),
  triggeringEvent: { id: eventId, name: 'appointment.updated', timestamp: at(eventMs), payload: { appointment: { id: options.key ?? 'appt-1' } } },
  entityKey: options.key ?? 'appt-1',
  schedule: schedule(new Date(T0.getTime() + dueMs - 6 * HOUR).toISOString().replace('Z', '-06:00')),
  ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  ...(options.skipped ? { skipped: options.skipped, schedule: undefined } : {}),
});

async function insertOne(store: PostgresStore, trigger: NewTrigger, now: Date): Promise<InsertedTrigger> {
  const [inserted] = await store.insertTriggers([trigger], now);
  if (!inserted) throw new Error('insertTriggers answered nothing');
  return inserted;
}

const draft = (overrides: Partial<RuleDraft> = {}): RuleDraft => ({
  name: 'Reminder',
  enabled: true,
  trigger: { eventName: 'appointment.updated', key: '$.appointment.id' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'See you tomorrow' } }],
  ...overrides,
});

describe.skipIf(!url)('postgres store: schedules (issue 17)', () => {
  /** Statements the store sent through the pool since the last reset. */
  let statements = 0;
  let store: PostgresStore;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url as string, max: 10 });
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    // Every statement the store sends goes through pool.query (connection.ts): count them.
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      statements += 1;
      return query(...args);
    };
    store = createPostgresStore({ pool, schema: resources.schema('crm_schedules') });
    await store.ensureSchema();
  });
  afterAll(async () => {
    await resources.release(pool);
    await pool?.end();
  });

  it('rules keep their schedule through insert, replace and the intake lookup; a rule without one has none', async () => {
    const reminder: RuleSchedule = { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: '$.client.timeZone', fallbackTimeZone: 'America/Chicago', window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }, ifPast: 'skip' };
    const rule = await store.insertRule('acc_1', draft({ schedule: reminder }), T0);
    expect(rule.schedule).toEqual(reminder);
    expect(await store.getRule('acc_1', rule.id)).toEqual(rule);
    const plain = await store.insertRule('acc_1', draft({ name: 'plain' }), T0);
    expect(plain).not.toHaveProperty('schedule');
    const moved: RuleSchedule = { ...reminder, at: '10:00' };
    const replaced = await store.replaceRule('acc_1', rule.id, draft({ schedule: moved }), { now: at(1) });
    expect(replaced).toMatchObject({ ok: true, rule: { version: 2, schedule: moved } });
    const found = await store.findRulesForEvent('acc_1', 'appointment.updated');
    expect(found.map((r) => r.schedule)).toEqual([moved, undefined]);
    const dropped = await store.replaceRule('acc_1', rule.id, draft({ delay: { value: 5, unit: 'minutes' } }), { now: at(2) });
    expect(dropped.ok && dropped.rule).not.toHaveProperty('schedule');
  });

  it('the statement that decides a trigger alone (after a conflict) writes a reschedule on both triggers, as the merged one does', async () => {
    const first = await insertOne(store, appointment('alone_1', 0, 24 * HOUR, { ruleId: 'rule-alone', concurrency: RESCHEDULE }), at(1));
    const sql = keyedStatements(`"${store.schema}"`);
    const event = JSON.stringify({ id: 'alone_2', name: 'appointment.updated', timestamp: at(10), payload: {} });
    const moved = schedule('2030-01-02T12:00:00.000-06:00');
    const { rows } = await pool.query(sql.insertKeyed.text, ['acc_1', 'rule-alone', 'appt-1', 'supersede', event, at(42 * HOUR).toISOString(), null, 1, null, at(11).toISOString(), 'nobody', at(11).toISOString(), JSON.stringify(moved), true]);
    expect(rows[0]).toMatchObject({ outcome: 'superseded', pending_id: first.trigger.id, status: 'pending' });
    const newId = String(rows[0].id);
    const change = { from: at(24 * HOUR), to: at(42 * HOUR), eventId: 'alone_2', event: { id: 'alone_2', name: 'appointment.updated' }, at: at(11) };
    expect(await store.getTrigger('acc_1', newId)).toMatchObject({ status: 'pending', evaluateAt: at(42 * HOUR), schedule: moved, executionHistory: [{ outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: first.trigger.id, attempt: 0 }] });
    expect((await store.getTrigger('acc_1', first.trigger.id))?.executionHistory).toEqual([{ outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: newId, attempt: 0 }]);
    // Without reschedule ($14 false), the same move is a plain supersede.
    const plainEvent = JSON.stringify({ id: 'alone_3', name: 'appointment.updated', timestamp: at(20), payload: {} });
    const plain = await pool.query(sql.insertKeyed.text, ['acc_1', 'rule-alone', 'appt-1', 'supersede', plainEvent, at(50 * HOUR).toISOString(), null, 1, null, at(21).toISOString(), 'nobody', at(21).toISOString(), null, false]);
    expect(plain.rows[0]).toMatchObject({ outcome: 'superseded', pending_id: newId, schedule: null, execution_history: [] });
    expect((await store.getTrigger('acc_1', newId))?.executionHistory.map((h) => [h.outcome, h.reason])).toEqual([['rescheduled', 'rescheduled'], ['superseded', 'superseded']]);
  });

  it('a reschedule costs the one statement a supersede costs, and a skipped run the one statement of plain intake', async () => {
    const count = async (work: () => Promise<unknown>) => {
      statements = 0;
      await work();
      return statements;
    };
    await insertOne(store, appointment('cost_1', 0, 24 * HOUR, { ruleId: 'rule-cost', concurrency: { mode: 'supersede' } }), at(1));
    const supersede = await count(() => insertOne(store, appointment('cost_2', 10, 30 * HOUR, { ruleId: 'rule-cost', concurrency: { mode: 'supersede' } }), at(11)));
    const reschedule = await count(async () => {
      const moved = await insertOne(store, appointment('cost_3', 20, 36 * HOUR, { ruleId: 'rule-cost', concurrency: RESCHEDULE }), at(21));
      expect(moved.trigger.executionHistory.map((h) => h.outcome)).toEqual(['rescheduled']);
    });
    const skipped = await count(async () => {
      const entry: HistoryEntry = { outcome: 'skipped', reason: 'anchor-missing', event: { id: 'cost_4', name: 'appointment.updated' }, at: at(31), attempt: 0 };
      const inserted = await insertOne(store, appointment('cost_4', 30, 0, { ruleId: 'rule-cost', concurrency: RESCHEDULE, skipped: entry }), at(31));
      expect(inserted.trigger).toMatchObject({ status: 'skipped', executionHistory: [entry] });
    });
    expect({ supersede, reschedule, skipped }).toEqual({ supersede: 1, reschedule: 1, skipped: 1 });
    // One event, a scheduled keyed rule and a skipped one: the keyed statement and the plain one, as a keyed rule beside an unkeyed one.
    const event = appointment('cost_5', 40, 40 * HOUR, { ruleId: 'rule-cost', concurrency: RESCHEDULE });
    const skippedBeside: NewTrigger = { ...event, ruleId: 'rule-cost-2', evaluateAt: at(41), schedule: undefined, skipped: { outcome: 'skipped', reason: 'past', at: at(41), attempt: 0 } };
    expect(await count(() => store.insertTriggers([event, skippedBeside], at(41)))).toBe(2);
  });
});
