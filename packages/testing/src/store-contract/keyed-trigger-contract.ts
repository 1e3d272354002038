// One file: the entity-key part of the trigger store contract (keyed rules: entity keys, concurrency modes, cancel by event) is read
// as one specification, point by point: keys and their listing, supersede, skipIfPending, the pending
// slot, cancel by event, and the concurrent-intake invariant; its cases share the helpers below and the steps of `triggerCaseSteps` (fixtures.ts).
import { describe, expect, it } from 'vitest';
import type { ClaimedTrigger, NewTrigger, TriggerStore } from '@crm-automation/core';
import { ACCOUNT, at, attemptResult, history, ids, keyedTrigger, OTHER_ACCOUNT, ruleRef, T0, triggerCaseSteps, type OpenHandles, type RuleRef } from './fixtures.js';

const MINUTE = 60_000;
const SUPERSEDE = { mode: 'supersede' } as const;
const SKIP = { mode: 'skipIfPending' } as const;

/**
 * Registers the entity-key cases inside the trigger store contract's `describe`. `current` returns the
 * store of the running test, `handles` more handles on its data (several engines).
 */
export function describeKeyedTriggerCases<S extends TriggerStore>(current: () => S, handles: () => OpenHandles<S>): void {
  const { keyedConcurrency, cancelByEvent, insertOne, get, claim, pendingOf, allOf } = triggerCaseSteps(current, { entityKey: 'job_1', owner: 'worker-keyed' });

  /** One keyed trigger of `rule` for `entityKey`, its event at `ts` ms after T0, due `delayMs` after it. */
  const event = (rule: RuleRef, eventId: string, ts: number, options: { entityKey?: string; delayMs?: number; concurrency?: NewTrigger['concurrency']; accountId?: string } = {}) =>
    keyedTrigger(rule, eventId, {
      entityKey: options.entityKey ?? 'job_1',
      timestamp: at(ts),
      evaluateAt: at(ts + (options.delayMs ?? 5 * MINUTE)),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.accountId ? { accountId: options.accountId } : {}),
    });

  describe('triggers: entity keys', () => {
    it('stores the entity key a trigger was created with and returns it on insert, read, list and claim', async () => {
      const rule = ruleRef();
      const longKey = 'é'.repeat(128) + '0'.repeat(128);
      const keyed = await insertOne(event(rule, 'ek_1', 0, { entityKey: 'job_42', delayMs: 0 }), T0);
      const long = await insertOne(event(rule, 'ek_2', 0, { entityKey: longKey, delayMs: 10 * MINUTE }), T0);
      const unkeyed = await insertOne({ ...event(rule, 'ek_3', 0, { delayMs: 10 * MINUTE }), entityKey: undefined }, T0);
      expect(keyed.trigger.entityKey).toBe('job_42');
      expect(long.trigger.entityKey).toBe(longKey);
      expect(unkeyed.trigger.entityKey).toBeUndefined();
      expect((await get(keyed.trigger.id)).entityKey).toBe('job_42');
      expect((await get(long.trigger.id)).entityKey).toBe(longKey);
      expect((await get(unkeyed.trigger.id)).entityKey).toBeUndefined();
      const listed = (await current().listTriggers(ACCOUNT, { limit: 10 })).items;
      expect(listed.map((t) => t.entityKey)).toEqual([undefined, longKey, 'job_42']);
      const [claimed] = await claim(T0);
      expect(claimed).toMatchObject({ id: keyed.trigger.id, entityKey: 'job_42' });
    });

    it('lists the triggers of one entity, with status and rule filters, newest first, in pages, per account', async () => {
      const rule = ruleRef();
      const otherRule = ruleRef();
      const a1 = await insertOne(event(rule, 'el_1', 0, { delayMs: 0 }), T0);
      const a2 = await insertOne(event(rule, 'el_2', 1, { delayMs: 10 * MINUTE }), T0);
      const a3 = await insertOne(event(rule, 'el_3', 2, { delayMs: 10 * MINUTE }), T0);
      await insertOne(event(rule, 'el_4', 3, { entityKey: 'job_2' }), T0);
      const r2 = await insertOne(event(otherRule, 'el_5', 4, { delayMs: 10 * MINUTE }), T0);
      await insertOne({ ...event(rule, 'el_6', 5), entityKey: undefined }, T0);
      const foreign = await insertOne(event({ ...rule, accountId: OTHER_ACCOUNT }, 'el_7', 6), T0);
      const [claimed] = await claim(T0, 1);
      expect(claimed?.id).toBe(a1.trigger.id);

      const list = (filter: Parameters<TriggerStore['listTriggers']>[1], accountId = ACCOUNT) => current().listTriggers(accountId, filter);
      expect(ids((await list({ entityKey: 'job_1' })).items)).toEqual(ids([r2, a3, a2, a1].map((i) => i.trigger)));
      expect(ids((await list({ entityKey: 'job_1', ruleId: rule.id })).items)).toEqual(ids([a3, a2, a1].map((i) => i.trigger)));
      expect(ids((await list({ entityKey: 'job_1', status: 'pending' })).items)).toEqual(ids([r2, a3, a2].map((i) => i.trigger)));
      expect(ids((await list({ entityKey: 'job_1', ruleId: rule.id, status: ['processing'] })).items)).toEqual([a1.trigger.id]);
      expect((await list({ entityKey: 'job_1', ruleId: rule.id, status: 'completed' })).items).toEqual([]);
      expect((await list({ entityKey: 'job_404' })).items).toEqual([]);
      expect(ids((await list({ entityKey: 'job_1' }, OTHER_ACCOUNT)).items)).toEqual([foreign.trigger.id]);

      const first = await list({ entityKey: 'job_1', ruleId: rule.id, limit: 2 });
      expect(ids(first.items)).toEqual(ids([a3, a2].map((i) => i.trigger)));
      expect(first.nextCursor).toBeDefined();
      const rest = await list({ entityKey: 'job_1', ruleId: rule.id, limit: 2, cursor: first.nextCursor });
      expect(ids(rest.items)).toEqual([a1.trigger.id]);
      expect(rest.nextCursor).toBeUndefined();
    });
  });

  describe('triggers: keyed concurrency (capabilities.keyedConcurrency)', () => {
    it('declares keyed concurrency, or that it lacks it', () => {
      expect(['boolean', 'undefined']).toContain(typeof current().capabilities.keyedConcurrency);
    });

    it('supersede: a newer event cancels the pending trigger (history names the new trigger and event) and is stored pending, firstEventAt carried', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'sup_1', 0, { concurrency: SUPERSEDE }), at(10));
      expect(first).toMatchObject({ created: true, outcome: 'created' });
      expect(first.pendingTriggerId).toBeUndefined();
      expect(first.trigger).toMatchObject({ status: 'pending', entityKey: 'job_1', evaluateAt: at(5 * MINUTE), firstEventAt: at(0), executionHistory: [] });

      const second = await insertOne(event(rule, 'sup_2', MINUTE, { concurrency: SUPERSEDE }), at(MINUTE + 10));
      expect(second).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: first.trigger.id });
      expect(second.trigger.id).not.toBe(first.trigger.id);
      expect(second.trigger).toMatchObject({ status: 'pending', entityKey: 'job_1', evaluateAt: at(6 * MINUTE), firstEventAt: at(0), attempt: 0, executionHistory: [] });
      expect(second.trigger.triggeringEvent.id).toBe('sup_2');
      expect(await get(second.trigger.id)).toEqual(second.trigger);

      const replaced = await get(first.trigger.id);
      expect(replaced.status).toBe('cancelled');
      expect(replaced.executionHistory).toEqual([{ outcome: 'superseded', reason: 'superseded', triggerId: second.trigger.id, event: { id: 'sup_2', name: rule.eventName }, at: at(MINUTE + 10), attempt: 0 }]);

      // The chain keeps the first event's time through any number of supersedes.
      const third = await insertOne(event(rule, 'sup_3', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE + 10));
      expect(third).toMatchObject({ outcome: 'superseded', pendingTriggerId: second.trigger.id, trigger: { firstEventAt: at(0), evaluateAt: at(7 * MINUTE) } });
      expect((await get(second.trigger.id)).status).toBe('cancelled');
      expect(ids(await pendingOf(rule))).toEqual([third.trigger.id]);

      // Only the survivor is ever claimed.
      const claimed = await claim(at(60 * MINUTE));
      expect(ids(claimed)).toEqual([third.trigger.id]);
    });

    it('supersede: caps the due time at firstEventAt + maxWaitMs, and keeps an earlier one', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const capped = { mode: 'supersede', maxWaitMs: 7 * MINUTE } as const;
      const first = await insertOne(event(rule, 'cap_1', 0, { concurrency: capped }), T0);
      expect(first.trigger.evaluateAt).toEqual(at(5 * MINUTE));
      const second = await insertOne(event(rule, 'cap_2', MINUTE, { concurrency: capped }), at(MINUTE));
      expect(second.trigger.evaluateAt).toEqual(at(6 * MINUTE));
      const third = await insertOne(event(rule, 'cap_3', 4 * MINUTE, { concurrency: capped }), at(4 * MINUTE));
      expect(third).toMatchObject({ outcome: 'superseded', trigger: { evaluateAt: at(7 * MINUTE), firstEventAt: at(0) } });
      expect(await get(third.trigger.id)).toMatchObject({ evaluateAt: at(7 * MINUTE), status: 'pending' });
      // A new event with a short delay is due before the cap: its own due time stands.
      const fourth = await insertOne(event(rule, 'cap_4', 5 * MINUTE, { concurrency: capped, delayMs: 30_000 }), at(5 * MINUTE));
      expect(fourth.trigger.evaluateAt).toEqual(at(5 * MINUTE + 30_000));
      expect(await current().nextDueAt()).toEqual(at(5 * MINUTE + 30_000));
      expect(ids(await claim(at(7 * MINUTE)))).toEqual([fourth.trigger.id]);
    });

    it('supersede: an event as old as or older than the pending one is stored cancelled (stale), naming it; the pending one is unchanged', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const pending = await insertOne(event(rule, 'st_new', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE));
      const older = await insertOne(event(rule, 'st_old', MINUTE, { concurrency: SUPERSEDE }), at(3 * MINUTE));
      expect(older).toMatchObject({ created: true, outcome: 'stale', pendingTriggerId: pending.trigger.id });
      expect(older.trigger).toMatchObject({ status: 'cancelled', entityKey: 'job_1' });
      expect(older.trigger.triggeringEvent.id).toBe('st_old');
      expect(older.trigger.executionHistory).toEqual([{ outcome: 'superseded', reason: 'stale', triggerId: pending.trigger.id, at: at(3 * MINUTE), attempt: 0 }]);
      expect(await get(older.trigger.id)).toEqual(older.trigger);
      const same = await insertOne(event(rule, 'st_same', 2 * MINUTE, { concurrency: SUPERSEDE }), at(4 * MINUTE));
      expect(same).toMatchObject({ created: true, outcome: 'stale', pendingTriggerId: pending.trigger.id, trigger: { status: 'cancelled' } });
      expect(await get(pending.trigger.id)).toEqual(pending.trigger);
      expect(ids(await pendingOf(rule))).toEqual([pending.trigger.id]);
      expect(await allOf(rule)).toHaveLength(3);
      expect(ids(await claim(at(60 * MINUTE)))).toEqual([pending.trigger.id]);
    });

    it('supersede: a redelivery of any event of the chain is recognised (redelivered) and changes nothing', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      await insertOne(event(rule, 'rd_1', 0, { concurrency: SUPERSEDE }), T0);
      await insertOne(event(rule, 'rd_2', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE));
      await insertOne(event(rule, 'rd_0', MINUTE, { concurrency: SUPERSEDE }), at(3 * MINUTE));
      const before = await allOf(rule);
      expect(before.map((t) => [t.triggeringEvent.id, t.status])).toEqual([
        ['rd_0', 'cancelled'],
        ['rd_2', 'pending'],
        ['rd_1', 'cancelled'],
      ]);
      for (const [eventId, ts] of [['rd_1', 0], ['rd_2', 2 * MINUTE], ['rd_0', MINUTE]] as const) {
        const again = await insertOne(event(rule, eventId, ts, { concurrency: SUPERSEDE }), at(10 * MINUTE));
        const stored = before.find((t) => t.triggeringEvent.id === eventId);
        expect(again).toMatchObject({ created: false, outcome: 'redelivered' });
        expect(again.trigger).toEqual(stored);
      }
      expect(await allOf(rule)).toEqual(before);
    });

    it('skipIfPending: an event while one is pending is stored skipped, naming the pending trigger; redeliveries change nothing', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const pending = await insertOne(event(rule, 'sk_1', 0, { concurrency: SKIP }), T0);
      expect(pending).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', entityKey: 'job_1' } });
      const skipped = await insertOne(event(rule, 'sk_2', MINUTE, { concurrency: SKIP }), at(MINUTE));
      expect(skipped).toMatchObject({ created: true, outcome: 'skipped', pendingTriggerId: pending.trigger.id });
      expect(skipped.trigger).toMatchObject({ status: 'skipped', entityKey: 'job_1', attempt: 0 });
      expect(skipped.trigger.triggeringEvent.id).toBe('sk_2');
      expect(skipped.trigger.executionHistory).toEqual([{ outcome: 'skipped', reason: 'pending-exists', triggerId: pending.trigger.id, event: { id: 'sk_2', name: rule.eventName }, at: at(MINUTE), attempt: 0 }]);
      expect(await get(skipped.trigger.id)).toEqual(skipped.trigger);
      // Skipping does not depend on the events' order.
      const older = await insertOne(event(rule, 'sk_0', -MINUTE, { concurrency: SKIP }), at(2 * MINUTE));
      expect(older).toMatchObject({ outcome: 'skipped', pendingTriggerId: pending.trigger.id, trigger: { status: 'skipped' } });

      const before = await allOf(rule);
      for (const [eventId, ts] of [['sk_1', 0], ['sk_2', MINUTE], ['sk_0', -MINUTE]] as const) {
        const again = await insertOne(event(rule, eventId, ts, { concurrency: SKIP }), at(3 * MINUTE));
        expect(again).toMatchObject({ created: false, outcome: 'redelivered' });
        expect(again.trigger).toEqual(before.find((t) => t.triggeringEvent.id === eventId));
      }
      expect(await allOf(rule)).toEqual(before);
      expect(await get(pending.trigger.id)).toEqual(pending.trigger);
      expect(ids(await claim(at(60 * MINUTE)))).toEqual([pending.trigger.id]);
    });

    it('skipIfPending: once the pending trigger is claimed, a new event creates a new pending one', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'skc_1', 0, { concurrency: SKIP, delayMs: 0 }), T0);
      const [claimed] = await claim(T0);
      expect(claimed?.id).toBe(first.trigger.id);
      const next = await insertOne(event(rule, 'skc_2', MINUTE, { concurrency: SKIP }), at(MINUTE));
      expect(next).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending' } });
      expect(next.pendingTriggerId).toBeUndefined();
      const third = await insertOne(event(rule, 'skc_3', 2 * MINUTE, { concurrency: SKIP }), at(2 * MINUTE));
      expect(third).toMatchObject({ outcome: 'skipped', pendingTriggerId: next.trigger.id });
      expect((await get(first.trigger.id)).status).toBe('processing');
    });

    it('decides per rule within one intake batch (one event, several rules), and recognises a repeat in the same batch', async () => {
      if (!keyedConcurrency()) return;
      const [a, b, c] = [ruleRef(), ruleRef(), ruleRef()];
      const batch = (eventId: string, ts: number) => {
        const [ta, tb, tc] = [event(a, eventId, ts, { concurrency: SUPERSEDE }), event(b, eventId, ts, { concurrency: SKIP }), event(c, eventId, ts)];
        // Intake hands the store one event object for all the rules it matched.
        return [ta, { ...tb, triggeringEvent: ta.triggeringEvent }, { ...tc, triggeringEvent: ta.triggeringEvent }];
      };
      const first = await current().insertTriggers(batch('b_1', 0), T0);
      // A trigger without a mode may leave `outcome` out (stores need not report it for the unkeyed path).
      expect(first.map((r) => r.outcome ?? 'created')).toEqual(['created', 'created', 'created']);
      expect(first.slice(0, 2).every((r) => r.outcome !== undefined)).toBe(true);
      const second = await current().insertTriggers(batch('b_2', MINUTE), at(MINUTE));
      expect(second.map((r) => [r.created, r.trigger.status])).toEqual([[true, 'pending'], [true, 'skipped'], [true, 'pending']]);
      expect(second.map((r) => r.outcome ?? 'created')).toEqual(['superseded', 'skipped', 'created']);
      expect(second.slice(0, 2).every((r) => r.outcome !== undefined)).toBe(true);
      expect(second[0]?.pendingTriggerId).toBe(first[0]?.trigger.id);
      expect(second[1]?.pendingTriggerId).toBe(first[1]?.trigger.id);
      const again = await current().insertTriggers(batch('b_2', MINUTE), at(2 * MINUTE));
      expect(again.map((r) => r.created)).toEqual([false, false, false]);
      expect(again.map((r) => r.trigger.id)).toEqual(second.map((r) => r.trigger.id));
      const repeated = await current().insertTriggers([event(a, 'b_3', 2 * MINUTE, { concurrency: SUPERSEDE }), event(a, 'b_3', 2 * MINUTE, { concurrency: SUPERSEDE })], at(2 * MINUTE));
      expect(repeated.map((r) => [r.created, r.outcome])).toEqual([[true, 'superseded'], [false, 'redelivered']]);
      expect(repeated[1]?.trigger.id).toBe(repeated[0]?.trigger.id);
      expect(ids(await pendingOf(a))).toEqual([repeated[0]?.trigger.id]);
      expect(ids(await pendingOf(b))).toEqual([first[1]?.trigger.id]);
      expect(await pendingOf(c)).toHaveLength(2);
    });

    it('the slot is per (account, rule, entity), and triggers inserted without a mode neither take it nor are replaced', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const otherRule = ruleRef();
      const held = await insertOne(event(rule, 'iso_1', 0, { concurrency: SUPERSEDE }), T0);
      const otherEntity = await insertOne(event(rule, 'iso_2', MINUTE, { concurrency: SUPERSEDE, entityKey: 'job_2' }), T0);
      const sameEntityOtherRule = await insertOne(event(otherRule, 'iso_3', MINUTE, { concurrency: SUPERSEDE }), T0);
      const otherAccount = await insertOne(event({ ...rule, accountId: OTHER_ACCOUNT }, 'iso_4', MINUTE, { concurrency: SUPERSEDE }), T0);
      for (const inserted of [otherEntity, sameEntityOtherRule, otherAccount]) expect(inserted).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending' } });

      // Mode `all` (no concurrency) beside a held slot: stored pending, the held one untouched.
      const modeAll = await insertOne(event(rule, 'iso_5', 2 * MINUTE), T0);
      expect(modeAll.trigger.status).toBe('pending');
      expect(['created', undefined]).toContain(modeAll.outcome);
      expect((await get(held.trigger.id)).status).toBe('pending');
      // ... and it did not take a slot either: the next keyed event supersedes the held one only.
      const next = await insertOne(event(rule, 'iso_6', 3 * MINUTE, { concurrency: SUPERSEDE }), T0);
      expect(next).toMatchObject({ outcome: 'superseded', pendingTriggerId: held.trigger.id });
      expect((await get(modeAll.trigger.id)).status).toBe('pending');
      const free = await insertOne(event(rule, 'iso_7', 0, { entityKey: 'job_3' }), T0);
      const afterFree = await insertOne(event(rule, 'iso_8', MINUTE, { entityKey: 'job_3', concurrency: SUPERSEDE }), T0);
      expect(afterFree).toMatchObject({ outcome: 'created' });
      expect((await get(free.trigger.id)).status).toBe('pending');
      expect((await current().getTrigger(OTHER_ACCOUNT, otherAccount.trigger.id))?.status).toBe('pending');
    });

    it('only a pending trigger holds the slot: claim releases it, and events during processing or retrying start a new pending one', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'sl_1', 0, { concurrency: SUPERSEDE, delayMs: 0 }), T0);
      const [claimed] = await claim(T0);
      expect(claimed?.id).toBe(first.trigger.id);
      const duringProcessing = await insertOne(event(rule, 'sl_2', MINUTE, { concurrency: SUPERSEDE }), at(MINUTE));
      expect(duringProcessing).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', firstEventAt: at(MINUTE) } });
      expect((await get(first.trigger.id)).status).toBe('processing');
      const c = claimed as ClaimedTrigger;
      expect(await current().finishAttempt(c.id, c.leaseToken, attemptResult('retrying', at(MINUTE), 1, { evaluateAt: at(60 * MINUTE) }))).toBe(true);
      const whileRetrying = await insertOne(event(rule, 'sl_3', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE));
      expect(whileRetrying).toMatchObject({ outcome: 'superseded', pendingTriggerId: duringProcessing.trigger.id, trigger: { firstEventAt: at(MINUTE) } });
      expect(await get(first.trigger.id)).toMatchObject({ status: 'retrying', evaluateAt: at(60 * MINUTE) });
    });

    it('a user cancel releases the slot; a manual retry back to pending does not take it', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'uc_1', 0, { concurrency: SUPERSEDE }), T0);
      const cancelled = await current().transitionTrigger(ACCOUNT, first.trigger.id, { from: ['pending', 'retrying'], to: 'cancelled', now: at(10), history: history('cancelled', at(10), 0, { by: 'user' }) });
      expect(cancelled.ok).toBe(true);
      const afterCancel = await insertOne(event(rule, 'uc_2', MINUTE, { concurrency: SUPERSEDE, delayMs: 0 }), at(MINUTE));
      expect(afterCancel).toMatchObject({ outcome: 'created', trigger: { status: 'pending' } });

      const [claimed] = await claim(at(MINUTE));
      const c = claimed as ClaimedTrigger;
      expect(c.id).toBe(afterCancel.trigger.id);
      await current().finishAttempt(c.id, c.leaseToken, attemptResult('failed', at(MINUTE + 1), 1));
      const retried = await current().transitionTrigger(ACCOUNT, c.id, { from: ['failed'], to: 'pending', evaluateAt: at(30 * MINUTE), now: at(2 * MINUTE), history: history('retry-requested', at(2 * MINUTE), 1, { by: 'user' }) });
      expect(retried.ok).toBe(true);
      const afterRetry = await insertOne(event(rule, 'uc_3', 3 * MINUTE, { concurrency: SUPERSEDE }), at(3 * MINUTE));
      expect(afterRetry).toMatchObject({ outcome: 'created', trigger: { status: 'pending' } });
      expect(await get(c.id)).toMatchObject({ status: 'pending', evaluateAt: at(30 * MINUTE) });
      const again = await insertOne(event(rule, 'uc_4', 4 * MINUTE, { concurrency: SUPERSEDE }), at(4 * MINUTE));
      expect(again).toMatchObject({ outcome: 'superseded', pendingTriggerId: afterRetry.trigger.id });
      expect((await get(c.id)).status).toBe('pending');
    });

    // Issue orders per round, out of timestamp order, so arrival order and event order disagree.
    const RACE_ORDERS = [
      [3, 7, 0, 5, 1, 6, 2, 4],
      [7, 6, 5, 4, 3, 2, 1, 0],
      [0, 1, 2, 3, 4, 5, 6, 7],
    ] as const;

    it('8 concurrent supersede inserts for one entity through 4 handles leave exactly one pending trigger, holding the newest event (3 rounds)', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const engines = await handles()(4);
      const survivors: string[] = [];
      for (const [round, order] of RACE_ORDERS.entries()) {
        const entityKey = `race_job_${round}`;
        const results = await Promise.all(
          order.map((i, n) => insertOne(event(rule, `race_${round}_${i}`, i * 1_000, { entityKey, concurrency: SUPERSEDE }), at(10 * MINUTE), engines[n % engines.length] ?? current())),
        );
        const all = await allOf(rule, entityKey);
        expect(all).toHaveLength(8);
        const pending = all.filter((t) => t.status === 'pending');
        expect(pending).toHaveLength(1);
        expect(pending[0]?.triggeringEvent.id).toBe(`race_${round}_7`);
        survivors.push(pending[0]?.id ?? '');
        const others = all.filter((t) => t.status !== 'pending');
        expect(others.every((t) => t.status === 'cancelled' && t.executionHistory.length === 1 && t.executionHistory[0]?.outcome === 'superseded')).toBe(true);
        expect(results.every((r) => r.created)).toBe(true);
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
        expect(results.every((r) => r.outcome === 'created' || r.outcome === 'superseded' || r.outcome === 'stale')).toBe(true);
        // Every supersede is written on the trigger it replaced, and every stale one names a trigger of the chain.
        const reasons = others.map((t) => t.executionHistory[0]?.reason);
        expect(reasons.filter((r) => r === 'superseded')).toHaveLength(results.filter((r) => r.outcome === 'superseded').length);
        expect(reasons.filter((r) => r === 'stale')).toHaveLength(results.filter((r) => r.outcome === 'stale').length);
        const chainIds = new Set(ids(all));
        expect(others.every((t) => chainIds.has(t.executionHistory[0]?.triggerId ?? ''))).toBe(true);
      }
      expect(ids(await claim(at(60 * MINUTE))).sort()).toEqual([...survivors].sort());
    });

    it('8 concurrent skipIfPending inserts for one entity through 4 handles leave exactly one pending trigger and 7 skipped naming it (3 rounds)', async () => {
      if (!keyedConcurrency()) return;
      const rule = ruleRef();
      const engines = await handles()(4);
      for (const [round, order] of RACE_ORDERS.entries()) {
        const entityKey = `srace_job_${round}`;
        const results = await Promise.all(
          order.map((i, n) => insertOne(event(rule, `srace_${round}_${i}`, i * 1_000, { entityKey, concurrency: SKIP }), at(10 * MINUTE), engines[n % engines.length] ?? current())),
        );
        const all = await allOf(rule, entityKey);
        expect(all).toHaveLength(8);
        const pending = all.filter((t) => t.status === 'pending');
        expect(pending).toHaveLength(1);
        const pendingId = pending[0]?.id as string;
        const skipped = all.filter((t) => t.status === 'skipped');
        expect(skipped).toHaveLength(7);
        expect(skipped.every((t) => t.executionHistory[0]?.triggerId === pendingId && t.executionHistory[0]?.reason === 'pending-exists')).toBe(true);
        expect(results.filter((r) => r.outcome === 'created').map((r) => r.trigger.id)).toEqual([pendingId]);
        expect(results.filter((r) => r.outcome === 'skipped').every((r) => r.pendingTriggerId === pendingId)).toBe(true);
      }
    });
  });

  describe('triggers: cancel by event (cancelTriggers, capabilities.cancelByEvent)', () => {
    it('has cancelTriggers, or declares cancelByEvent: false and has none', () => {
      const store = current();
      expect(['boolean', 'undefined']).toContain(typeof store.capabilities.cancelByEvent);
      if (cancelByEvent()) expect(typeof store.cancelTriggers).toBe('function');
      else expect(store.cancelTriggers).toBeUndefined();
    });

    const cancelEvent = { id: 'evt_cancel', name: 'job.cancelled' };
    const cancel = (rule: RuleRef, eventTs: number, options: { entityKey?: string; now?: Date; accountId?: string } = {}) => {
      const store = current();
      if (!store.cancelTriggers) throw new Error(`${store.capabilities.name} has no cancelTriggers and does not declare capabilities.cancelByEvent: false`);
      return store.cancelTriggers({
        accountId: options.accountId ?? ACCOUNT,
        ruleId: rule.id,
        entityKey: options.entityKey ?? 'job_1',
        eventTimestamp: at(eventTs),
        event: cancelEvent,
        now: options.now ?? at(6_000),
        by: 'engine-cancel',
      });
    };

    it('cancels the entity\'s pending and retrying triggers with an older event, marks processing ones cancelRequested, and leaves the rest', async () => {
      if (!cancelByEvent()) return;
      const rule = ruleRef();
      const otherRule = ruleRef();
      const far = 60 * MINUTE;
      const pendingOld = await insertOne(event(rule, 'c_pending', 1_000, { delayMs: far }), T0);
      const retryingOld = await insertOne(event(rule, 'c_retrying', 2_000, { delayMs: -2_000 }), T0);
      const processingOld = await insertOne(event(rule, 'c_processing', 3_000, { delayMs: -3_000 }), T0);
      const completedOld = await insertOne(event(rule, 'c_completed', 500, { delayMs: -500 }), T0);
      const sameTime = await insertOne(event(rule, 'c_same', 5_000, { delayMs: far }), T0);
      const newer = await insertOne(event(rule, 'c_newer', 9_000, { delayMs: far }), T0);
      const otherEntity = await insertOne(event(rule, 'c_entity', 1_000, { delayMs: far, entityKey: 'job_2' }), T0);
      const otherRuleSameEntity = await insertOne(event(otherRule, 'c_rule', 1_000, { delayMs: far }), T0);
      const foreign = await insertOne(event({ ...rule, accountId: OTHER_ACCOUNT }, 'c_foreign', 1_000, { delayMs: far }), T0);

      const claimed = await claim(T0);
      expect(ids(claimed).sort()).toEqual(ids([retryingOld, processingOld, completedOld].map((i) => i.trigger)).sort());
      const lease = (id: string) => claimed.find((c) => c.id === id) as ClaimedTrigger;
      const r = lease(retryingOld.trigger.id);
      await current().finishAttempt(r.id, r.leaseToken, attemptResult('retrying', at(100), 1, { evaluateAt: at(far) }));
      const done = lease(completedOld.trigger.id);
      await current().finishAttempt(done.id, done.leaseToken, attemptResult('completed', at(100), 1));
      const p = lease(processingOld.trigger.id);

      const result = await cancel(rule, 5_000);
      expect(ids(result.cancelled).sort()).toEqual([pendingOld.trigger.id, retryingOld.trigger.id].sort());
      expect(result.cancelled.every((t) => t.status === 'cancelled')).toBe(true);
      expect(ids(result.requested)).toEqual([p.id]);
      expect(result.requested[0]).toMatchObject({ status: 'processing', cancelRequested: { event: cancelEvent, at: at(6_000) } });

      for (const [id, attempt] of [[pendingOld.trigger.id, 0], [retryingOld.trigger.id, 1]] as const) {
        const stored = await get(id);
        expect(stored).toMatchObject({ status: 'cancelled', updatedAt: at(6_000) });
        expect(stored.executionHistory.at(-1)).toEqual({ outcome: 'cancelled', reason: 'cancelled-by-event', event: cancelEvent, at: at(6_000), attempt, by: 'engine-cancel' });
        expect(result.cancelled.find((t) => t.id === id)).toEqual(stored);
      }
      const processing = await get(p.id);
      expect(processing).toMatchObject({ status: 'processing', attempt: 1, cancelRequested: { event: cancelEvent, at: at(6_000) } });
      if (processing.leaseExpiresAt !== undefined) expect(processing.leaseExpiresAt).toEqual(p.leaseExpiresAt);
      expect(processing.executionHistory).toEqual([]);
      for (const untouched of [completedOld, sameTime, newer, otherEntity, otherRuleSameEntity]) {
        const stored = await get(untouched.trigger.id);
        expect(stored.status).toBe(untouched === completedOld ? 'completed' : 'pending');
        expect(stored.cancelRequested).toBeUndefined();
      }
      expect((await current().getTrigger(OTHER_ACCOUNT, foreign.trigger.id))?.status).toBe('pending');

      // The worker still holds its lease and finishes with the cancel.
      const entry = history('cancelled', at(7_000), 1, { reason: 'cancelled-by-event', event: cancelEvent, actions: [{ index: 0, type: 'sms', status: 'sent' }, { index: 1, type: 'email', status: 'not-attempted' }] });
      expect(await current().finishAttempt(p.id, p.leaseToken, { status: 'cancelled', sentActions: [0], now: at(7_000), history: entry })).toBe(true);
      expect(await get(p.id)).toMatchObject({ status: 'cancelled', sentActions: [0], executionHistory: [entry] });
      const later = ids(await claim(at(10 * far)));
      expect(later).not.toContain(pendingOld.trigger.id);
      expect(later).not.toContain(retryingOld.trigger.id);
      expect(later).not.toContain(p.id);
      expect(later).toEqual(expect.arrayContaining([sameTime.trigger.id, newer.trigger.id]));
    });

    it('a late, older cancel changes nothing; an unknown entity, rule or account gives empty lists', async () => {
      if (!cancelByEvent()) return;
      const rule = ruleRef();
      const t = await insertOne(event(rule, 'late_1', 10_000), T0);
      expect(await cancel(rule, 9_999)).toEqual({ cancelled: [], requested: [] });
      expect(await cancel(rule, 10_000)).toEqual({ cancelled: [], requested: [] });
      expect(await cancel(rule, 99_000, { entityKey: 'job_404' })).toEqual({ cancelled: [], requested: [] });
      expect(await cancel(ruleRef(), 99_000)).toEqual({ cancelled: [], requested: [] });
      expect(await cancel(rule, 99_000, { accountId: OTHER_ACCOUNT })).toEqual({ cancelled: [], requested: [] });
      expect(await get(t.trigger.id)).toEqual(t.trigger);
    });

    it('releases the pending slot: the next keyed event after a cancel creates a pending trigger', async () => {
      if (!cancelByEvent() || !keyedConcurrency()) return;
      const rule = ruleRef();
      const first = await insertOne(event(rule, 'cs_1', 0, { concurrency: SUPERSEDE }), T0);
      const result = await cancel(rule, MINUTE, { now: at(MINUTE) });
      expect(ids(result.cancelled)).toEqual([first.trigger.id]);
      const next = await insertOne(event(rule, 'cs_2', 2 * MINUTE, { concurrency: SUPERSEDE }), at(2 * MINUTE));
      expect(next).toMatchObject({ outcome: 'created', trigger: { status: 'pending', firstEventAt: at(2 * MINUTE) } });
      expect((await get(first.trigger.id)).executionHistory.map((h) => h.reason)).toEqual(['cancelled-by-event']);
    });
  });
}
