// One file: the scheduled-rule part of the trigger store contract (issue 17) is read as one
// specification, point by point: a trigger stored skipped at intake, the schedule a trigger keeps,
// supersede that reschedules (both history entries, the equal and stale cases, concurrent intake), and
// the reason a cancel writes; its cases share the helpers below and the steps of `triggerCaseSteps` (fixtures.ts).
import { describe, expect, it } from 'vitest';
import type { HistoryEntry, InsertedTrigger, NewTrigger, Trigger, TriggerSchedule, TriggerStore } from '@crm-automation/core';
import { ACCOUNT, at, ids, keyedTrigger, newTrigger, ruleRef, T0, triggerCaseSteps, type OpenHandles, type RuleRef } from './fixtures.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const RESCHEDULE = { mode: 'supersede', reschedule: true } as const;

/** What intake computes for a rule "1 day before the appointment, at 09:00, in the client's zone". */
const scheduleOf = (local: string, notes: TriggerSchedule['notes'] = []): TriggerSchedule => ({
  timeZone: 'America/Chicago',
  zoneSource: 'payload',
  anchor: '2030-01-03T15:30:00.000Z',
  local,
  notes,
});

/** The history entry intake writes for a scheduled run whose event gives no due time. */
const skipEntry = (reason: string, time: Date, eventId: string, schedule: HistoryEntry['schedule']): HistoryEntry => ({
  outcome: 'skipped',
  reason,
  error: { code: reason === 'past' ? 'CRM_ERR_SCHEDULE_PAST' : 'CRM_ERR_SCHEDULE_ANCHOR', message: `schedule skipped: ${reason}`, retryable: false },
  event: { id: eventId, name: 'job.status.changed' },
  schedule,
  ruleVersion: 1,
  at: time,
  attempt: 0,
});

/**
 * Registers the scheduled-rule cases inside the trigger store contract's `describe`. `current` returns
 * the store of the running test, `handles` more handles on its data (several engines).
 */
export function describeScheduledTriggerCases<S extends TriggerStore>(current: () => S, handles: () => OpenHandles<S>): void {
  const { keyedConcurrency, cancelByEvent, insertOne, get, claim, pendingOf, allOf } = triggerCaseSteps(current, { entityKey: 'appt_1', owner: 'worker-scheduled' });

  /** One keyed trigger of `rule` for `entityKey`, its event at `ts` ms after T0, due at `dueMs` after T0. */
  const event = (rule: RuleRef, eventId: string, ts: number, dueMs: number, options: { entityKey?: string; concurrency?: NewTrigger['concurrency']; schedule?: TriggerSchedule; skipped?: HistoryEntry } = {}): NewTrigger => ({
    ...keyedTrigger(rule, eventId, {
      entityKey: options.entityKey ?? 'appt_1',
      timestamp: at(ts),
      evaluateAt: at(dueMs),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    }),
    ...(options.schedule ? { schedule: options.schedule } : {}),
    ...(options.skipped ? { skipped: options.skipped } : {}),
  });
  /** Intake may call a skipped insert `created` or `skipped`, or (no keyed concurrency) leave it out. */
  const expectStoredSkipped = (inserted: InsertedTrigger, entry: HistoryEntry) => {
    expect(inserted.created).toBe(true);
    expect(['created', 'skipped', undefined]).toContain(inserted.outcome);
    expect(inserted.pendingTriggerId).toBeUndefined();
    expect(inserted.trigger.status).toBe('skipped');
    expect(inserted.trigger.attempt).toBe(0);
    expect(inserted.trigger.executionHistory).toEqual([entry]);
  };

  describe('triggers: scheduled rules (schedule, skipped at intake)', () => {
    it('stores a trigger inserted skipped with exactly its history entry (dates as Dates) and its schedule; never claimed, never due', async () => {
      const rule = ruleRef();
      const partial = { timeZone: 'America/Chicago', zoneSource: 'payload', anchor: '2029-12-30T15:30:00.000Z', local: '2029-12-29T09:00:00.000-06:00' } as const;
      const past = skipEntry('past', at(10), 'sk_past', partial);
      const missing = skipEntry('anchor-missing', at(20), 'sk_missing', {});
      const unkeyed = await insertOne({ ...newTrigger(rule, 'sk_past', T0), schedule: { ...partial, notes: [] }, skipped: past }, at(10));
      const keyed = await insertOne(event(rule, 'sk_missing', 0, 0, { concurrency: RESCHEDULE, skipped: missing }), at(20));
      expectStoredSkipped(unkeyed, past);
      expectStoredSkipped(keyed, missing);
      expect(unkeyed.trigger.schedule).toEqual({ ...partial, notes: [] });
      expect(keyed.trigger.schedule).toBeUndefined();
      expect(keyed.trigger.entityKey).toBe('appt_1');
      expect(unkeyed.trigger.triggeringEvent.id).toBe('sk_past');

      for (const inserted of [unkeyed, keyed]) {
        const stored = await get(inserted.trigger.id);
        expect(stored).toEqual(inserted.trigger);
        expect(stored.executionHistory[0]?.at).toBeInstanceOf(Date);
      }
      expect(ids((await current().listTriggers(ACCOUNT, { status: 'skipped', limit: 10 })).items)).toEqual([keyed.trigger.id, unkeyed.trigger.id]);
      expect(await claim(at(1_000 * HOUR))).toEqual([]);
      expect(await current().nextDueAt()).toBeNull();
      expect((await get(keyed.trigger.id)).status).toBe('skipped');
    });

    it('a redelivery of a skipped trigger\'s event is recognised (redelivered) and changes nothing', async () => {
      const rule = ruleRef();
      const entry = skipEntry('anchor-missing', at(10), 'skr_1', {});
      const input = event(rule, 'skr_1', 0, 0, { concurrency: RESCHEDULE, skipped: entry });
      const first = await insertOne(input, at(10));
      const again = await insertOne(input, at(5 * MINUTE));
      expect(again).toMatchObject({ created: false, outcome: 'redelivered' });
      expect(again.trigger).toEqual(first.trigger);
      // A redelivery whose schedule now computes (the rule was edited) still finds the stored run.
      const computed = await insertOne(event(rule, 'skr_1', 0, HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T01:00:00.000-06:00') }), at(6 * MINUTE));
      expect(computed).toMatchObject({ created: false, outcome: 'redelivered' });
      expect(computed.trigger).toEqual(first.trigger);
      expect(await allOf(rule)).toEqual([first.trigger]);
    });

    it('a skipped insert takes no pending slot and leaves the pending one alone, whatever its concurrency', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const skipped = await insertOne(event(rule, 'sks_1', 0, 0, { concurrency: RESCHEDULE, skipped: skipEntry('anchor-missing', T0, 'sks_1', {}) }), T0);
      expect(skipped.trigger.status).toBe('skipped');
      // Nothing holds the slot: the next event is created, not a supersede of the skipped run.
      const pending = await insertOne(event(rule, 'sks_2', MINUTE, 2 * HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T02:00:00.000-06:00') }), at(MINUTE));
      expect(pending).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', executionHistory: [] } });
      expect(pending.pendingTriggerId).toBeUndefined();
      expect(await get(skipped.trigger.id)).toEqual(skipped.trigger);

      // A newer skipped event does not supersede the pending run (the engine cancels it itself) ...
      const newerEntry = skipEntry('past', at(2 * MINUTE), 'sks_3', {});
      const newer = await insertOne(event(rule, 'sks_3', 2 * MINUTE, 0, { concurrency: RESCHEDULE, skipped: newerEntry }), at(2 * MINUTE));
      expectStoredSkipped(newer, newerEntry);
      // ... an older one is not stale, and one in skipIfPending mode is not `pending-exists`: each keeps its own entry.
      const olderEntry = skipEntry('anchor-missing', at(3 * MINUTE), 'sks_0', {});
      expectStoredSkipped(await insertOne(event(rule, 'sks_0', -MINUTE, 0, { concurrency: RESCHEDULE, skipped: olderEntry }), at(3 * MINUTE)), olderEntry);
      const skipModeEntry = skipEntry('past', at(4 * MINUTE), 'sks_4', {});
      expectStoredSkipped(await insertOne(event(rule, 'sks_4', 4 * MINUTE, 0, { concurrency: { mode: 'skipIfPending' }, skipped: skipModeEntry }), at(4 * MINUTE)), skipModeEntry);
      expect(await get(pending.trigger.id)).toEqual(pending.trigger);
      expect(ids(await pendingOf(rule))).toEqual([pending.trigger.id]);

      // And the pending run is still the one a later event reschedules.
      const later = await insertOne(event(rule, 'sks_5', 5 * MINUTE, 3 * HOUR, { concurrency: RESCHEDULE }), at(5 * MINUTE));
      expect(later).toMatchObject({ outcome: 'superseded', pendingTriggerId: pending.trigger.id });
      expect(ids(await claim(at(10 * HOUR)))).toEqual([later.trigger.id]);
    });

    it('keeps a trigger\'s schedule, notes included, on insert, read, list and claim; a trigger without one has none', async () => {
      const rule = ruleRef();
      const schedule = scheduleOf('2030-01-01T03:30:00.000-06:00', [
        { code: 'dst-gap', message: '02:30 does not exist on that day in America/Chicago; moved to 03:30' },
        { code: 'window', message: 'outside mon-fri 08:00-18:00; moved to the next opening' },
      ]);
      const withSchedule = await insertOne({ ...newTrigger(rule, 'sch_1', T0), schedule }, T0);
      const plain = await insertOne(newTrigger(rule, 'sch_2', at(HOUR)), T0);
      const keyed = await insertOne(event(rule, 'sch_3', 0, HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T01:00:00.000-06:00') }), T0);
      expect(withSchedule.trigger.schedule).toEqual(schedule);
      expect(plain.trigger.schedule).toBeUndefined();
      expect(keyed.trigger.schedule).toEqual(scheduleOf('2030-01-01T01:00:00.000-06:00'));
      expect(await get(withSchedule.trigger.id)).toEqual(withSchedule.trigger);
      expect((await get(plain.trigger.id)).schedule).toBeUndefined();
      expect((await get(keyed.trigger.id)).schedule).toEqual(keyed.trigger.schedule);
      const listed = (await current().listTriggers(ACCOUNT, { ruleId: rule.id, limit: 10 })).items;
      expect(listed.map((t) => t.schedule)).toEqual([keyed.trigger.schedule, undefined, schedule]);
      const [claimed] = await claim(T0);
      expect(claimed?.id).toBe(withSchedule.trigger.id);
      expect(claimed?.schedule).toEqual(schedule);
    });
  });

  describe('triggers: reschedule (supersede with reschedule: true)', () => {
    /** The two entries a reschedule writes: on the replaced trigger P and on the new one N. */
    const rescheduled = (p: Trigger, n: Trigger, eventId: string, time: Date) => {
      const change = { from: p.evaluateAt, to: n.evaluateAt, eventId, event: { id: eventId, name: n.triggeringEvent.name }, at: time };
      return {
        replaced: { outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: n.id, attempt: p.attempt } satisfies HistoryEntry,
        replacing: { outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: p.id, attempt: 0 } satisfies HistoryEntry,
      };
    };

    it('a later event with another due time replaces the pending run, and both histories say from, to, the event and the other trigger', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'rs_1', 0, 24 * HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T18:00:00.000-06:00') }), at(10));
      expect(first).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', evaluateAt: at(24 * HOUR), executionHistory: [] } });

      // The appointment moves later ...
      const later = await insertOne(event(rule, 'rs_2', MINUTE, 48 * HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-02T18:00:00.000-06:00') }), at(MINUTE + 10));
      expect(later).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: first.trigger.id });
      expect(later.trigger).toMatchObject({ status: 'pending', evaluateAt: at(48 * HOUR), firstEventAt: at(0), attempt: 0, schedule: scheduleOf('2030-01-02T18:00:00.000-06:00') });
      const one = rescheduled(first.trigger, later.trigger, 'rs_2', at(MINUTE + 10));
      expect(later.trigger.executionHistory).toEqual([one.replacing]);
      expect(await get(later.trigger.id)).toEqual(later.trigger);
      const replaced = await get(first.trigger.id);
      expect(replaced).toMatchObject({ status: 'cancelled', evaluateAt: at(24 * HOUR), schedule: scheduleOf('2030-01-01T18:00:00.000-06:00'), updatedAt: at(MINUTE + 10) });
      expect(replaced.executionHistory).toEqual([one.replaced]);
      expect(replaced.executionHistory[0]?.from).toBeInstanceOf(Date);
      expect(replaced.executionHistory[0]?.to).toBeInstanceOf(Date);

      // ... then earlier.
      const earlier = await insertOne(event(rule, 'rs_3', 2 * MINUTE, 12 * HOUR, { concurrency: RESCHEDULE }), at(2 * MINUTE + 10));
      expect(earlier).toMatchObject({ outcome: 'superseded', pendingTriggerId: later.trigger.id, trigger: { evaluateAt: at(12 * HOUR), firstEventAt: at(0) } });
      const two = rescheduled(later.trigger, earlier.trigger, 'rs_3', at(2 * MINUTE + 10));
      expect(earlier.trigger.executionHistory).toEqual([two.replacing]);
      expect(earlier.trigger.executionHistory[0]?.from).toEqual(at(48 * HOUR));
      expect(earlier.trigger.executionHistory[0]?.to).toEqual(at(12 * HOUR));
      expect((await get(later.trigger.id)).executionHistory).toEqual([one.replacing, two.replaced]);
      expect(await get(earlier.trigger.id)).toEqual(earlier.trigger);

      expect(ids(await pendingOf(rule))).toEqual([earlier.trigger.id]);
      expect(await current().nextDueAt()).toEqual(at(12 * HOUR));
      const [claimed] = await claim(at(100 * HOUR));
      expect(claimed).toMatchObject({ id: earlier.trigger.id, executionHistory: [two.replacing] });
    });

    it('an equal due time is the plain supersede: no rescheduled entry on either trigger', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'rq_1', 0, 24 * HOUR, { concurrency: RESCHEDULE }), at(10));
      const second = await insertOne(event(rule, 'rq_2', MINUTE, 24 * HOUR, { concurrency: RESCHEDULE }), at(MINUTE));
      expect(second).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: first.trigger.id, trigger: { status: 'pending', evaluateAt: at(24 * HOUR), executionHistory: [] } });
      expect((await get(first.trigger.id)).executionHistory).toEqual([{ outcome: 'superseded', reason: 'superseded', triggerId: second.trigger.id, event: { id: 'rq_2', name: rule.eventName }, at: at(MINUTE), attempt: 0 }]);
      expect((await get(second.trigger.id)).executionHistory).toEqual([]);
      // Without `reschedule`, another due time is a plain supersede too.
      const third = await insertOne(event(rule, 'rq_3', 2 * MINUTE, 30 * HOUR, { concurrency: { mode: 'supersede' } }), at(2 * MINUTE));
      expect(third).toMatchObject({ outcome: 'superseded', pendingTriggerId: second.trigger.id, trigger: { executionHistory: [] } });
      expect((await get(second.trigger.id)).executionHistory.map((h) => [h.outcome, h.reason, h.from])).toEqual([['superseded', 'superseded', undefined]]);
    });

    it('an older event arriving late cannot move the run: stored stale, the pending one unchanged', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const pending = await insertOne(event(rule, 'rst_new', 2 * MINUTE, 24 * HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T18:00:00.000-06:00') }), at(2 * MINUTE));
      const older = await insertOne(event(rule, 'rst_old', MINUTE, 6 * HOUR, { concurrency: RESCHEDULE, schedule: scheduleOf('2030-01-01T00:00:00.000-06:00') }), at(3 * MINUTE));
      expect(older).toMatchObject({ created: true, outcome: 'stale', pendingTriggerId: pending.trigger.id, trigger: { status: 'cancelled', evaluateAt: at(6 * HOUR) } });
      expect(older.trigger.executionHistory).toEqual([{ outcome: 'superseded', reason: 'stale', triggerId: pending.trigger.id, at: at(3 * MINUTE), attempt: 0 }]);
      const same = await insertOne(event(rule, 'rst_same', 2 * MINUTE, 12 * HOUR, { concurrency: RESCHEDULE }), at(4 * MINUTE));
      expect(same).toMatchObject({ created: true, outcome: 'stale', pendingTriggerId: pending.trigger.id });
      expect(await get(pending.trigger.id)).toEqual(pending.trigger);
      expect(ids(await pendingOf(rule))).toEqual([pending.trigger.id]);
      expect(await current().nextDueAt()).toEqual(at(24 * HOUR));
    });

    // Issue orders per round, out of timestamp order, so arrival order and event order disagree.
    const RACE_ORDERS = [
      [5, 2, 7, 0, 6, 3, 1, 4],
      [7, 6, 5, 4, 3, 2, 1, 0],
    ] as const;

    it('8 concurrent reschedule inserts for one entity through 4 handles leave exactly one pending run, holding the newest event, with a consistent chain (2 rounds)', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const engines = await handles()(4);
      for (const [round, order] of RACE_ORDERS.entries()) {
        const entityKey = `rrace_appt_${round}`;
        // Every event moves the appointment: each has its own due time.
        const results = await Promise.all(
          order.map((i, n) => insertOne(event(rule, `rrace_${round}_${i}`, i * 1_000, (24 + i) * HOUR, { entityKey, concurrency: RESCHEDULE }), at(10 * MINUTE), engines[n % engines.length] ?? current())),
        );
        expect(results.every((r) => r.created)).toBe(true);
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
        expect(results.every((r) => r.outcome === 'created' || r.outcome === 'superseded' || r.outcome === 'stale')).toBe(true);
        const all = await allOf(rule, entityKey);
        expect(all).toHaveLength(8);
        const pending = all.filter((t) => t.status === 'pending');
        expect(pending).toHaveLength(1);
        expect(pending[0]).toMatchObject({ triggeringEvent: { id: `rrace_${round}_7` }, evaluateAt: at(31 * HOUR) });
        const others = all.filter((t) => t.status !== 'pending');
        expect(others.every((t) => t.status === 'cancelled' && t.executionHistory.at(-1)?.outcome === 'superseded')).toBe(true);

        // Each reschedule is written on both triggers, naming each other, with the replaced and new due times.
        const byId = new Map(all.map((t) => [t.id, t]));
        const superseded = results.filter((r) => r.outcome === 'superseded');
        const replacedEntries = all.flatMap((t) => t.executionHistory.filter((h) => h.outcome === 'superseded' && h.reason === 'rescheduled').map((h) => ({ t, h })));
        const replacingEntries = all.flatMap((t) => t.executionHistory.filter((h) => h.outcome === 'rescheduled').map((h) => ({ t, h })));
        expect(replacedEntries).toHaveLength(superseded.length);
        expect(replacingEntries).toHaveLength(superseded.length);
        expect(all.flatMap((t) => t.executionHistory).filter((h) => h.reason === 'superseded')).toEqual([]);
        for (const { t, h } of replacingEntries) {
          const p = byId.get(h.triggerId ?? '');
          expect(p).toBeDefined();
          expect(h).toMatchObject({ from: p?.evaluateAt, to: t.evaluateAt, eventId: t.triggeringEvent.id, attempt: 0 });
          expect(p?.executionHistory.find((e) => e.outcome === 'superseded')).toMatchObject({ reason: 'rescheduled', triggerId: t.id, from: p?.evaluateAt, to: t.evaluateAt, eventId: t.triggeringEvent.id });
        }
        expect(others.filter((t) => t.executionHistory[0]?.reason === 'stale')).toHaveLength(results.filter((r) => r.outcome === 'stale').length);
      }
    });
  });

  describe('triggers: cancel by event with a reason (CancelRequest.reason)', () => {
    const cancel = (rule: RuleRef, eventTs: number, reason: string | undefined) => {
      const store = current();
      if (!store.cancelTriggers) throw new Error(`${store.capabilities.name} has no cancelTriggers and does not declare capabilities.cancelByEvent: false`);
      return store.cancelTriggers({
        accountId: ACCOUNT,
        ruleId: rule.id,
        entityKey: 'appt_1',
        eventTimestamp: at(eventTs),
        event: { id: `evt_cancel_${eventTs}`, name: rule.eventName },
        now: at(eventTs + 10),
        by: 'engine-scheduled',
        ...(reason === undefined ? {} : { reason }),
      });
    };

    it('writes the request\'s reason, `cancelled-by-event` without one, and leaves a skipped run alone', async () => {
      if (!cancelByEvent()) return;
      const rule = ruleRef();
      const otherRule = ruleRef();
      const skippedEntry = skipEntry('anchor-missing', T0, 'cr_0', {});
      const skipped = await insertOne(event(rule, 'cr_0', 0, 0, { concurrency: RESCHEDULE, skipped: skippedEntry }), T0);
      const pending = await insertOne(event(rule, 'cr_1', MINUTE, 24 * HOUR, { concurrency: RESCHEDULE }), at(MINUTE));
      const plain = await insertOne(event(otherRule, 'cr_2', MINUTE, 24 * HOUR), at(MINUTE));

      const withReason = await cancel(rule, 2 * MINUTE, 'anchor-missing');
      expect(ids(withReason.cancelled)).toEqual([pending.trigger.id]);
      expect(withReason.requested).toEqual([]);
      const stored = await get(pending.trigger.id);
      expect(stored).toMatchObject({ status: 'cancelled', updatedAt: at(2 * MINUTE + 10) });
      expect(stored.executionHistory).toEqual([{ outcome: 'cancelled', reason: 'anchor-missing', event: { id: `evt_cancel_${2 * MINUTE}`, name: rule.eventName }, at: at(2 * MINUTE + 10), attempt: 0, by: 'engine-scheduled' }]);
      expect(withReason.cancelled[0]).toEqual(stored);
      expect(await get(skipped.trigger.id)).toEqual(skipped.trigger);

      const withoutReason = await cancel(otherRule, 3 * MINUTE, undefined);
      expect(ids(withoutReason.cancelled)).toEqual([plain.trigger.id]);
      expect((await get(plain.trigger.id)).executionHistory.map((h) => [h.outcome, h.reason])).toEqual([['cancelled', 'cancelled-by-event']]);
    });
  });
}
