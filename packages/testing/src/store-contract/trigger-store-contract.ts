// One file: the trigger store contract is the single definition of a correct trigger store; its
// cases share fixtures and are read as one specification (rules and ledger have suites of their own).
import { describe, expect, it } from 'vitest';
import { isAutomationError, type AttemptResult, type ClaimedTrigger, type Trigger, type TriggerStore } from '@crm-automation/core';
import {
  ACCOUNT,
  at,
  attemptResult,
  history,
  ids,
  LEASE_MS,
  newTrigger,
  OTHER_ACCOUNT,
  ruleRef,
  sorted,
  storePerTest,
  T0,
  WEIRD_IDS,
  type ContractFactory,
  type OpenHandles,
  type RuleRef,
} from './fixtures.js';
import { describeKeyedTriggerCases } from './keyed-trigger-contract.js';
import { describeScheduledTriggerCases } from './scheduled-trigger-contract.js';

export interface TriggerStoreContractOptions {
  /** Parallel `claimDueTriggers` calls in the exclusivity test. Default 12. */
  concurrentClaims?: number | undefined;
  /** Ids of the right general form that this store could never have issued. */
  malformedIds?: readonly string[] | undefined;
}

/**
 * The behaviour every {@link TriggerStore} must have, as a vitest suite. Call it from a test file of
 * the adapter with a factory that returns a fresh, empty store (or `{ store, cleanup }`). What a store
 * cannot do is declared in `store.capabilities`, never skipped here.
 *
 * @example
 * describeTriggerStoreContract('memory', () => createMemoryTriggerStore());
 */
export function describeTriggerStoreContract<S extends TriggerStore>(name: string, factory: ContractFactory<S>, options: TriggerStoreContractOptions = {}): void {
  const concurrentClaims = options.concurrentClaims ?? 12;
  const notFoundIds = [...WEIRD_IDS, ...(options.malformedIds ?? [])];

  describe(`trigger store contract: ${name}`, () => {
    let store: S;
    let handles: OpenHandles<S>;
    storePerTest(factory, (opened, more) => {
      store = opened;
      handles = more;
    });

    const insertDue = async (rule: RuleRef, count: number, prefix = 'evt', evaluateAt: (i: number) => Date = () => T0) => {
      const inserted = await store.insertTriggers(Array.from({ length: count }, (_, i) => newTrigger(rule, `${prefix}_${i}`, evaluateAt(i))), T0);
      return inserted.map((i) => i.trigger);
    };
    const claim = (now: Date, limit = 100, owner = 'worker-a') => store.claimDueTriggers({ now, limit, leaseMs: LEASE_MS, owner });
    const claimAll = async (now: Date, owner = 'worker-a') => {
      const all: ClaimedTrigger[] = [];
      for (;;) {
        const batch = await claim(now, 50, owner);
        if (batch.length === 0) return all;
        all.push(...batch);
      }
    };
    const expectConfigError = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
    };

    it('declares a name and optional capabilities with the right types', () => {
      expect(typeof store.capabilities.name).toBe('string');
      expect(store.capabilities.name.length).toBeGreaterThan(0);
      expect(['boolean', 'undefined']).toContain(typeof store.capabilities.ttlRetention);
      expect(['boolean', 'undefined']).toContain(typeof store.capabilities.keyedConcurrency);
      expect(['boolean', 'undefined']).toContain(typeof store.capabilities.cancelByEvent);
    });

    describe('triggers: intake', () => {
      it('stores new triggers as pending with attempt 0 and an empty history, keeping the rule id opaque', async () => {
        const rule = ruleRef();
        const [inserted] = await store.insertTriggers([newTrigger(rule, 'evt_1', at(300_000))], T0);
        expect(inserted?.created).toBe(true);
        const trigger = inserted?.trigger as Trigger;
        expect(typeof trigger.id).toBe('string');
        expect(trigger.id.length).toBeGreaterThan(0);
        expect(trigger).toMatchObject({ accountId: ACCOUNT, ruleId: rule.id, ruleVersion: 1, status: 'pending', evaluateAt: at(300_000), attempt: 0, executionHistory: [], sentActions: [], createdAt: T0, updatedAt: T0 });
        expect(trigger.triggeringEvent).toEqual(newTrigger(rule, 'evt_1', T0).triggeringEvent);
        expect(await store.getTrigger(ACCOUNT, trigger.id)).toEqual(trigger);
      });

      it('keeps the trace context a trigger was created with, and hands it to the claimer', async () => {
        const rule = ruleRef();
        const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
        const [inserted] = await store.insertTriggers([{ ...newTrigger(rule, 'evt_traced', T0), trace }], T0);
        expect(inserted?.trigger.trace).toEqual(trace);
        expect((await store.getTrigger(ACCOUNT, inserted?.trigger.id as string))?.trace).toEqual(trace);
        const [claimed] = await claim(T0);
        expect(claimed?.trace).toEqual(trace);
        const [untraced] = await store.insertTriggers([newTrigger(rule, 'evt_untraced', T0)], T0);
        expect(untraced?.trigger.trace).toBeUndefined();
      });

      it('accepts an empty batch', async () => {
        expect(await store.insertTriggers([], T0)).toEqual([]);
      });

      it('ignores a redelivered event: same (account, event id, rule) gives created: false and the first trigger', async () => {
        const rule = ruleRef();
        const otherRule = ruleRef();
        const [first] = await store.insertTriggers([newTrigger(rule, 'evt_dup', T0)], T0);
        const again = await store.insertTriggers([newTrigger(rule, 'evt_dup', at(999)), newTrigger(otherRule, 'evt_dup', T0)], at(1_000));
        expect(again[0]?.trigger).toEqual(first?.trigger);
        expect(again[0]?.created).toBe(false);
        // Stores report what an insert did, or (without keyed concurrency) leave it out.
        expect(['redelivered', undefined]).toContain(again[0]?.outcome);
        expect(again[1]?.created).toBe(true);
        const inOneBatch = await store.insertTriggers([newTrigger(rule, 'evt_twice', T0), newTrigger(rule, 'evt_twice', T0)], T0);
        expect(inOneBatch.map((i) => i.created)).toEqual([true, false]);
        expect(inOneBatch[1]?.trigger.id).toBe(inOneBatch[0]?.trigger.id);
        const all = await store.listTriggers(ACCOUNT, { limit: 100 });
        expect(all.items).toHaveLength(3);
      });

      it('creates one trigger when the same event is inserted by several intakes at once', async () => {
        const rule = ruleRef();
        const results = await Promise.all(Array.from({ length: 8 }, () => store.insertTriggers([newTrigger(rule, 'evt_race', T0)], T0)));
        const flat = results.flat();
        expect(flat.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(flat.map((r) => r.trigger.id)).size).toBe(1);
        expect((await store.listTriggers(ACCOUNT, {})).items).toHaveLength(1);
      });

      it('keeps the dedupe key per account', async () => {
        const rule = ruleRef();
        const foreign = ruleRef(OTHER_ACCOUNT);
        const shared = { ...foreign, id: rule.id };
        const results = await store.insertTriggers([newTrigger(rule, 'evt_shared', T0), newTrigger(shared, 'evt_shared', T0)], T0);
        expect(results.map((r) => r.created)).toEqual([true, true]);
      });

      it('scopes triggers by account and treats malformed, weird and unknown ids as not found', async () => {
        const rule = ruleRef();
        const [trigger, gone] = await insertDue(rule, 2);
        await store.transitionTrigger(ACCOUNT, gone?.id as string, { from: ['pending'], to: 'cancelled', now: T0, history: history('cancelled', T0, 0) });
        await store.purgeTriggers({ statuses: ['cancelled'], olderThan: at(1) });
        expect(await store.getTrigger(OTHER_ACCOUNT, trigger?.id as string)).toBeNull();
        expect((await store.listTriggers(OTHER_ACCOUNT, {})).items).toEqual([]);
        for (const id of [...notFoundIds, gone?.id as string]) {
          expect(await store.getTrigger(ACCOUNT, id)).toBeNull();
          expect(await store.transitionTrigger(ACCOUNT, id, { from: ['pending'], to: 'cancelled', now: T0, history: history('cancelled', T0, 0) })).toEqual({ ok: false, reason: 'not-found' });
          expect(await store.finishAttempt(id, 'token', attemptResult('completed', T0, 1))).toBe(false);
        }
        for (const cursor of WEIRD_IDS.slice(1)) expect(Array.isArray((await store.listTriggers(ACCOUNT, { cursor })).items)).toBe(true);
        expect(await store.transitionTrigger(OTHER_ACCOUNT, trigger?.id as string, { from: ['pending'], to: 'cancelled', now: T0, history: history('cancelled', T0, 0) })).toEqual({ ok: false, reason: 'not-found' });
        expect((await store.getTrigger(ACCOUNT, trigger?.id as string))?.status).toBe('pending');
      });

      it('refuses a due time that is not a valid date, storing nothing of the batch, and keeps other triggers in order', async () => {
        const rule = ruleRef();
        await insertDue(rule, 2, 'ok', (i) => at([2_000, 1_000][i] ?? 0));
        for (const bad of [new Date(Number.NaN), new Date(8.64e15 + 1), 'soon' as unknown as Date, undefined as unknown as Date]) {
          await expectConfigError(store.insertTriggers([newTrigger(rule, 'fine', at(1)), { ...newTrigger(rule, 'bad', at(0)), evaluateAt: bad }], T0));
        }
        expect((await store.listTriggers(ACCOUNT, {})).items).toHaveLength(2);
        expect(await store.nextDueAt()).toEqual(at(1_000));
        const [first] = await claim(at(5_000), 1);
        await expectConfigError(store.finishAttempt(first?.id as string, first?.leaseToken as string, attemptResult('retrying', at(5_001), 1, { evaluateAt: new Date(Number.NaN) })));
        expect(await store.finishAttempt(first?.id as string, first?.leaseToken as string, attemptResult('completed', at(5_002), 1))).toBe(true);
        const [second] = await claim(at(5_000), 1);
        expect(second?.evaluateAt).toEqual(at(2_000));
        await expectConfigError(store.claimDueTriggers({ now: new Date(Number.NaN), limit: 10, leaseMs: LEASE_MS, owner: 'w' }));
      });
    });

    describe('triggers: claiming', () => {
      it('claims only due triggers, earliest first, with a lease and an incremented attempt', async () => {
        const rule = ruleRef();
        const triggers = await insertDue(rule, 5, 'due', (i) => at([3_000, 1_000, 2_000, 10_000, 0][i] ?? 0));
        const claimed = await claim(at(3_000), 2);
        expect(ids(claimed)).toEqual([triggers[4]?.id, triggers[1]?.id]);
        for (const c of claimed) {
          expect(c).toMatchObject({ status: 'processing', attempt: 1, leaseExpiresAt: at(3_000 + LEASE_MS), updatedAt: at(3_000) });
          expect(typeof c.leaseToken).toBe('string');
          expect(c.leaseToken.length).toBeGreaterThanOrEqual(16);
        }
        const rest = await claim(at(3_000), 10);
        expect(ids(rest)).toEqual([triggers[2]?.id, triggers[0]?.id]);
        expect(await claim(at(3_000), 10)).toEqual([]);
        const stored = await store.getTrigger(ACCOUNT, claimed[0]?.id as string);
        expect(stored).toMatchObject({ status: 'processing', attempt: 1, leaseExpiresAt: at(3_000 + LEASE_MS) });
        expect(stored && 'leaseToken' in stored).toBe(false);
        expect(await store.claimDueTriggers({ now: at(3_000), limit: 0, leaseMs: LEASE_MS, owner: 'w' })).toEqual([]);
      });

      it('never hands the same trigger to two concurrent claimers', async () => {
        const rule = ruleRef();
        const total = 120;
        await insertDue(rule, total, 'race', (i) => at(i));
        const rounds = await Promise.all(Array.from({ length: concurrentClaims }, (_, w) => claim(at(total), 15, `worker-${w}`)));
        const first = rounds.flat();
        expect(new Set(ids(first)).size).toBe(first.length);
        const rest = await claimAll(at(total));
        const everything = [...ids(first), ...ids(rest)];
        expect(everything).toHaveLength(total);
        expect(new Set(everything).size).toBe(total);
        expect([...first, ...rest].every((t) => t.attempt === 1)).toBe(true);
      });

      it('keeps a lease exclusive until it expires, even for a claimer whose clock runs ahead, then lets another worker take over', async () => {
        const rule = ruleRef();
        const [trigger] = await insertDue(rule, 1);
        const [first] = await claim(T0, 10, 'worker-a');
        expect(first?.id).toBe(trigger?.id);
        // Worker B's clock is 5 s ahead: the lease is still valid for it.
        expect(await claim(at(5_000), 10, 'worker-b')).toEqual([]);
        expect(await claim(at(LEASE_MS - 1), 10, 'worker-b')).toEqual([]);
        const [takeover] = await claim(at(LEASE_MS), 10, 'worker-b');
        expect(takeover).toMatchObject({ id: trigger?.id, status: 'processing', attempt: 2, leaseExpiresAt: at(2 * LEASE_MS) });
        expect(takeover?.leaseToken).not.toBe(first?.leaseToken);
        expect(await store.nextDueAt()).toEqual(at(2 * LEASE_MS));

        // The first worker comes back: its outcome is refused, the new holder's is kept.
        expect(await store.finishAttempt(first?.id as string, first?.leaseToken as string, attemptResult('completed', at(LEASE_MS + 1), 1, { sentActions: [0, 1] }))).toBe(false);
        expect(await store.finishAttempt(takeover?.id as string, takeover?.leaseToken as string, attemptResult('completed', at(LEASE_MS + 2), 2, { sentActions: [1] }))).toBe(true);
        const stored = await store.getTrigger(ACCOUNT, trigger?.id as string);
        expect(stored).toMatchObject({ status: 'completed', attempt: 2, sentActions: [1], updatedAt: at(LEASE_MS + 2) });
        expect(stored?.executionHistory).toHaveLength(1);
      });

      it('claims expired leases before due triggers', async () => {
        const rule = ruleRef();
        const [early] = await insertDue(rule, 1, 'early', () => T0);
        await claim(T0, 1);
        await insertDue(rule, 3, 'late', () => at(1_000));
        const [next] = await claim(at(LEASE_MS + 5_000), 1);
        expect(next?.id).toBe(early?.id);
        expect(next?.attempt).toBe(2);
      });
    });

    describe('triggers: recording outcomes', () => {
      it('records a completion under the lease token: status, history, sent actions, lease cleared', async () => {
        const rule = ruleRef();
        await insertDue(rule, 1);
        const [claimed] = await claim(T0);
        const c = claimed as ClaimedTrigger;
        expect(await store.finishAttempt(c.id, 'not-the-token', attemptResult('completed', at(10), 1))).toBe(false);
        const entry = history('completed', at(100), 1, { ruleVersion: 1, actions: [{ index: 0, type: 'sms', status: 'sent', result: { id: 'SM1' }, durationMs: 12 }], conditions: [{ path: 'all[0]', fact: 'job', factPath: '$.status', operator: 'equal', value: 'Done', factResult: 'Done', result: true }] });
        expect(await store.finishAttempt(c.id, c.leaseToken, { status: 'completed', sentActions: [0, 1], now: at(100), history: entry })).toBe(true);
        const stored = await store.getTrigger(ACCOUNT, c.id);
        expect(stored).toMatchObject({ status: 'completed', attempt: 1, updatedAt: at(100), executionHistory: [entry] });
        expect(sorted(stored?.sentActions ?? [])).toEqual([0, 1]);
        expect(stored?.leaseExpiresAt).toBeUndefined();
        // The lease is gone: the same token cannot write twice.
        expect(await store.finishAttempt(c.id, c.leaseToken, attemptResult('failed', at(200), 1))).toBe(false);
        expect((await store.getTrigger(ACCOUNT, c.id))?.status).toBe('completed');
        expect(await claim(at(10 * LEASE_MS))).toEqual([]);
      });

      it('schedules a retry that is not claimable before its time, appends history and accumulates sent actions', async () => {
        const rule = ruleRef();
        await insertDue(rule, 1);
        const [first] = await claim(T0);
        const retryAt = at(60_000);
        expect(await store.finishAttempt(first?.id as string, first?.leaseToken as string, attemptResult('retrying', at(1_000), 1, { evaluateAt: retryAt, sentActions: [0] }))).toBe(true);
        expect(await store.getTrigger(ACCOUNT, first?.id as string)).toMatchObject({ status: 'retrying', evaluateAt: retryAt, attempt: 1 });
        expect(await store.nextDueAt()).toEqual(retryAt);
        expect(await claim(at(30_000))).toEqual([]);
        expect(await claim(at(59_999))).toEqual([]);
        const [second] = await claim(retryAt);
        expect(second).toMatchObject({ id: first?.id, attempt: 2, status: 'processing' });
        expect(second?.sentActions).toEqual([0]);
        expect(await store.finishAttempt(second?.id as string, second?.leaseToken as string, attemptResult('completed', at(61_000), 2, { sentActions: [1, 0] }))).toBe(true);
        const stored = await store.getTrigger(ACCOUNT, first?.id as string);
        expect(sorted(stored?.sentActions ?? [])).toEqual([0, 1]);
        expect(stored?.executionHistory.map((h) => [h.outcome, h.attempt])).toEqual([['retrying', 1], ['completed', 2]]);
        expect(stored?.executionHistory[0]?.at).toEqual(at(1_000));
      });

      it('records a cancelled outcome like any final status: history, sent actions, lease cleared, never claimed again', async () => {
        const rule = ruleRef();
        await insertDue(rule, 1);
        const [claimed] = await claim(T0);
        const c = claimed as ClaimedTrigger;
        const entry = history('cancelled', at(100), 1, { reason: 'cancelled-by-event', event: { id: 'evt_cancel', name: 'job.cancelled' }, actions: [{ index: 0, type: 'sms', status: 'sent' }, { index: 1, type: 'email', status: 'not-attempted' }] });
        expect(await store.finishAttempt(c.id, c.leaseToken, { status: 'cancelled', sentActions: [0], now: at(100), history: entry })).toBe(true);
        const stored = await store.getTrigger(ACCOUNT, c.id);
        expect(stored).toMatchObject({ status: 'cancelled', attempt: 1, updatedAt: at(100), executionHistory: [entry], sentActions: [0] });
        expect(stored?.leaseExpiresAt).toBeUndefined();
        expect(await store.finishAttempt(c.id, c.leaseToken, attemptResult('completed', at(200), 1))).toBe(false);
        expect(await claim(at(10 * LEASE_MS))).toEqual([]);
        expect(await store.nextDueAt()).toBeNull();
      });

      it('retries at the time of the outcome when a retrying result has no evaluateAt', async () => {
        const rule = ruleRef();
        await insertDue(rule, 1);
        const [first] = await claim(T0);
        await store.finishAttempt(first?.id as string, first?.leaseToken as string, attemptResult('retrying', at(500), 1));
        expect((await store.getTrigger(ACCOUNT, first?.id as string))?.evaluateAt).toEqual(at(500));
        expect(await claim(at(500))).toHaveLength(1);
      });
    });

    describe('triggers: user transitions', () => {
      it('cancels a pending trigger once, refuses other states, and a cancelled trigger is never claimed', async () => {
        const rule = ruleRef();
        const [a, b] = await insertDue(rule, 2);
        const cancel = (id: string, now = at(10)) => store.transitionTrigger(ACCOUNT, id, { from: ['pending', 'retrying'], to: 'cancelled', now, history: history('cancelled', now, 0, { by: 'user' }) });
        const result = await cancel(a?.id as string);
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(result.trigger).toMatchObject({ id: a?.id, status: 'cancelled', updatedAt: at(10) });
          expect(result.trigger.executionHistory.map((h) => h.outcome)).toEqual(['cancelled']);
        }
        expect(await cancel(a?.id as string)).toEqual({ ok: false, reason: 'conflict', current: 'cancelled' });
        const [claimed] = await claim(T0);
        expect(claimed?.id).toBe(b?.id);
        expect(await cancel(b?.id as string)).toEqual({ ok: false, reason: 'conflict', current: 'processing' });
        expect(await claim(at(10 * LEASE_MS))).toHaveLength(1);
        expect((await store.getTrigger(ACCOUNT, a?.id as string))?.status).toBe('cancelled');
      });

      it('puts a failed trigger back to pending at a new time, and it is claimed again', async () => {
        const rule = ruleRef();
        const [t] = await insertDue(rule, 1);
        const [claimed] = await claim(T0);
        await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, attemptResult('failed', at(100), 1));
        expect(await store.claimDueTriggers({ now: at(10 * LEASE_MS), limit: 10, leaseMs: LEASE_MS, owner: 'w' })).toEqual([]);
        await expectConfigError(store.transitionTrigger(ACCOUNT, t?.id as string, { from: ['failed'], to: 'pending', evaluateAt: new Date(Number.NaN), now: at(4_000), history: history('retry-requested', at(4_000), 1) }));
        const retry = await store.transitionTrigger(ACCOUNT, t?.id as string, { from: ['failed'], to: 'pending', evaluateAt: at(5_000), now: at(4_000), history: history('retry-requested', at(4_000), 1, { by: 'user' }) });
        expect(retry.ok && retry.trigger).toMatchObject({ status: 'pending', evaluateAt: at(5_000), updatedAt: at(4_000) });
        expect(await store.transitionTrigger(ACCOUNT, t?.id as string, { from: ['failed'], to: 'pending', now: at(4_001), history: history('retry-requested', at(4_001), 1) })).toEqual({ ok: false, reason: 'conflict', current: 'pending' });
        expect(await claim(at(4_999))).toEqual([]);
        const [again] = await claim(at(5_000));
        expect(again).toMatchObject({ id: t?.id, attempt: 2 });
        expect(again?.executionHistory.map((h) => h.outcome)).toEqual(['failed', 'retry-requested']);
      });
    });

    describe('triggers: nextDueAt', () => {
      it('is null with nothing waiting, the earliest due time otherwise, and counts lease expiries', async () => {
        expect(await store.nextDueAt()).toBeNull();
        const rule = ruleRef();
        await insertDue(rule, 3, 'n', (i) => at([50_000, 20_000, 90_000][i] ?? 0));
        expect(await store.nextDueAt()).toEqual(at(20_000));
        const [claimed] = await claim(at(20_000), 1);
        expect(await store.nextDueAt()).toEqual(at(50_000));
        await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, attemptResult('completed', at(20_001), 1));
        const [second] = await claim(at(50_000), 1);
        expect(await store.nextDueAt()).toEqual(at(50_000 + LEASE_MS));
        await store.finishAttempt(second?.id as string, second?.leaseToken as string, attemptResult('skipped', at(50_001), 1));
        expect(await store.nextDueAt()).toEqual(at(90_000));
        const [third] = await claim(at(90_000), 1);
        await store.finishAttempt(third?.id as string, third?.leaseToken as string, attemptResult('failed', at(90_001), 1));
        expect(await store.nextDueAt()).toBeNull();
      });
    });

    describe('triggers: retention', () => {
      it('purges finished triggers of the given statuses last updated before the cutoff, and only those', async () => {
        const rule = ruleRef();
        const triggers = await insertDue(rule, 6, 'p', () => T0);
        const claimed = await claim(T0, 6);
        const byId = new Map(claimed.map((c) => [c.id, c]));
        const finish = (i: number, status: AttemptResult['status'], time: Date) => {
          const c = byId.get(triggers[i]?.id as string) as ClaimedTrigger;
          return store.finishAttempt(c.id, c.leaseToken, attemptResult(status, time, 1, status === 'retrying' ? { evaluateAt: at(10 * 86_400_000) } : {}));
        };
        await finish(0, 'completed', at(1_000));
        await finish(1, 'skipped', at(2_000));
        await finish(2, 'completed', at(100_000));
        await finish(3, 'failed', at(1_000));
        await finish(4, 'retrying', at(1_000));
        // triggers[5] stays processing.
        expect(await store.purgeTriggers({ statuses: ['completed', 'skipped'], olderThan: at(50_000) })).toBe(2);
        const left = (await store.listTriggers(ACCOUNT, { limit: 100 })).items;
        expect(ids(left).sort()).toEqual(ids([triggers[2], triggers[3], triggers[4], triggers[5]].filter((t): t is Trigger => t !== undefined)).sort());
        expect(await store.purgeTriggers({ statuses: [], olderThan: at(10 ** 10) })).toBe(0);
        // A purged trigger no longer blocks its event: the same event can be ingested again.
        const [again] = await store.insertTriggers([newTrigger(rule, 'p_0', at(200_000))], at(200_000));
        expect(again?.created).toBe(true);
      });
    });

    describe('triggers: optional batched outcomes and wake-ups', () => {
      it('writes several outcomes in one call, each under its own lease token (finishAttempts), or declares it cannot', async () => {
        if (!store.finishAttempts) {
          expect(store.finishAttempts).toBeUndefined();
          return;
        }
        const rule = ruleRef();
        await insertDue(rule, 4, 'batch', (i) => at(i));
        const claimed = await claim(at(10), 4);
        const [a, b, c, d] = claimed as [ClaimedTrigger, ClaimedTrigger, ClaimedTrigger, ClaimedTrigger];
        const saved = await store.finishAttempts([
          { id: a.id, leaseToken: a.leaseToken, result: attemptResult('completed', at(20), 1, { sentActions: [0] }) },
          { id: b.id, leaseToken: 'not-the-token', result: attemptResult('completed', at(20), 1) },
          { id: c.id, leaseToken: c.leaseToken, result: attemptResult('retrying', at(20), 1, { evaluateAt: at(60_000) }) },
          { id: d.id, leaseToken: d.leaseToken, result: attemptResult('failed', at(20), 1) },
          { id: 'nope', leaseToken: 'x', result: attemptResult('completed', at(20), 1) },
        ]);
        expect(saved).toEqual([true, false, true, true, false]);
        expect((await store.getTrigger(ACCOUNT, a.id))?.status).toBe('completed');
        expect((await store.getTrigger(ACCOUNT, b.id))?.status).toBe('processing');
        expect(await store.getTrigger(ACCOUNT, c.id)).toMatchObject({ status: 'retrying', evaluateAt: at(60_000) });
        expect((await store.getTrigger(ACCOUNT, d.id))?.status).toBe('failed');
        expect(await store.finishAttempts([])).toEqual([]);
        await expectConfigError(store.finishAttempts([{ id: b.id, leaseToken: b.leaseToken, result: attemptResult('retrying', at(30), 1, { evaluateAt: new Date(Number.NaN) }) }]));
      });

      it('tells watchers the due time of triggers stored afterwards (watchDue), or declares it cannot', async () => {
        if (!store.watchDue) {
          expect(store.watchDue).toBeUndefined();
          return;
        }
        const seen: Date[] = [];
        const unwatch = await store.watchDue((dueAt) => seen.push(dueAt));
        const rule = ruleRef();
        await store.insertTriggers([newTrigger(rule, 'w_late', at(5_000)), newTrigger(rule, 'w_early', at(2_000))], T0);
        const deadline = Date.now() + 10_000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(seen.length).toBeGreaterThan(0);
        expect(Math.min(...seen.map((d) => d.getTime()))).toBeLessThanOrEqual(at(2_000).getTime());
        await unwatch();
        const before = seen.length;
        await store.insertTriggers([newTrigger(rule, 'w_after', at(1_000))], T0);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(seen.length).toBe(before);
      });
    });

    describe('triggers: listing', () => {
      it('lists newest first, filtered by status, rule and evaluateAt range, in pages that cover everything once', async () => {
        const ruleA = ruleRef();
        const ruleB = ruleRef();
        const created: Trigger[] = [];
        for (let i = 0; i < 9; i++) {
          const rule = i % 3 === 0 ? ruleB : ruleA;
          const [inserted] = await store.insertTriggers([newTrigger(rule, `l_${i}`, at(i * 1_000))], at(i));
          created.push(inserted?.trigger as Trigger);
        }
        const foreign = ruleRef(OTHER_ACCOUNT);
        await store.insertTriggers([newTrigger(foreign, 'l_x', T0)], T0);
        const [claimed] = await claim(at(0), 1);
        expect(claimed?.id).toBe(created[0]?.id);

        const newestFirst = ids(created).reverse();
        const all = await store.listTriggers(ACCOUNT, { limit: 100 });
        expect(ids(all.items)).toEqual(newestFirst);
        expect(all.nextCursor).toBeUndefined();

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listTriggers(ACCOUNT, { limit: 4, ...(cursor ? { cursor } : {}) });
          seen.push(...ids(page.items));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor && pages < 10);
        expect(seen).toEqual(newestFirst);
        expect(pages).toBe(3);

        expect(ids((await store.listTriggers(ACCOUNT, { status: 'processing' })).items)).toEqual([created[0]?.id]);
        expect((await store.listTriggers(ACCOUNT, { status: ['pending', 'processing'] })).items).toHaveLength(9);
        expect((await store.listTriggers(ACCOUNT, { status: ['completed'] })).items).toEqual([]);
        const byRule = await store.listTriggers(ACCOUNT, { ruleId: ruleB.id });
        expect(ids(byRule.items)).toEqual([created[6], created[3], created[0]].map((t) => t?.id));
        expect((await store.listTriggers(ACCOUNT, { ruleId: 'not-an-id' })).items).toEqual([]);
        const range = await store.listTriggers(ACCOUNT, { from: at(2_000), to: at(5_000) });
        expect(ids(range.items)).toEqual([created[4], created[3], created[2]].map((t) => t?.id));
        const combined = await store.listTriggers(ACCOUNT, { ruleId: ruleA.id, status: 'pending', from: at(4_000), limit: 2 });
        expect(ids(combined.items)).toEqual([created[8], created[7]].map((t) => t?.id));
        expect(combined.nextCursor).toBeDefined();
        const rest = await store.listTriggers(ACCOUNT, { ruleId: ruleA.id, status: 'pending', from: at(4_000), limit: 2, cursor: combined.nextCursor });
        expect(ids(rest.items)).toEqual([created[5], created[4]].map((t) => t?.id));
      });
    });

    describeKeyedTriggerCases(() => store, () => handles);
    describeScheduledTriggerCases(() => store, () => handles);
  });
}
