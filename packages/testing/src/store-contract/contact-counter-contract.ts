// The cap counter's contract on its own: a counter may live apart from the store (Redis next to a
// memory or SQL store), so its cases run on a bare `ContactCounter`; the contact policy contract runs
// them on every whole store too. The engine-level case is here, with a helper both contracts share.
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type AutomationStore, type ContactCounter, type CounterBucket, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { ACCOUNT, OTHER_ACCOUNT, at, storePerTest, type ContractFactory, type OpenHandles } from './fixtures.js';

const PHONE = '+15550001111';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dayKey = (recipient = PHONE, day = '2030-01-01') => `sms|${recipient}|day|${day}`;
const weekKey = (recipient = PHONE, week = '2029-12-31') => `sms|${recipient}|week|${week}`;
const bucket = (key: string, max: number, expiresAt = at(2 * DAY)): CounterBucket => ({ key, max, expiresAt });

/** What one engine of the cap case runs on: a store, and the counter to use when it is not the store's own. */
export interface CapCaseEngine {
  store: AutomationStore;
  contactCounter?: ContactCounter | undefined;
}

const capRule: RuleInput = {
  name: 'Visit follow-up',
  trigger: { eventName: 'visit.completed' },
  conditions: { all: [{ fact: 'visit', path: '$.status', operator: 'equal', value: 'done' }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'How was your visit?' } }],
};

/**
 * The engine-level cap case: one engine per entry (all on one data set), a cap of 3 per day in
 * America/Los_Angeles, 50 triggers to one recipient spread over the engines, run at once: exactly 3
 * sends and 47 runs skipped `capped`; the next local day has a fresh cap.
 */
export async function expectCapOfThreeAcrossEngines(setups: readonly CapCaseEngine[]): Promise<void> {
  const clock = createManualClock('2026-01-15T18:00:00Z');
  const workers = setups.map(({ store, contactCounter }, i) => {
    const sms = createRecordingChannel({ name: `engine-${i}-sms` });
    const engine = createAutomationEngine({ store, clock, channels: { sms }, instanceId: `engine-${i}`, ...(contactCounter ? { contactCounter } : {}) });
    return { engine, sms };
  });
  try {
    const [first] = workers;
    if (!first) throw new Error('no engine');
    await first.engine.rules.create(ACCOUNT, capRule);
    await first.engine.contactPolicy.set(ACCOUNT, { channels: { sms: { caps: [{ max: 3, per: 'day' }], timeZone: 'America/Los_Angeles' } } });
    for (let i = 0; i < 50; i++) {
      const worker = workers[i % workers.length] ?? first;
      await worker.engine.ingest({ id: `burst-${i}`, name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
    }
    const counts = await Promise.all(workers.map((w) => w.engine.runDue()));
    expect(counts.reduce((n, c) => n + c.claimed, 0)).toBe(50);
    expect(counts.reduce((n, c) => n + c.completed, 0)).toBe(3);
    expect(workers.reduce((n, w) => n + w.sms.sent.length, 0)).toBe(3);
    expect(workers.reduce((n, w) => n + w.sms.calls.length, 0)).toBe(3);
    const all = await first.engine.triggers.list(ACCOUNT, { limit: 100 });
    expect(all.items).toHaveLength(50);
    expect(all.items.filter((t) => t.status === 'completed')).toHaveLength(3);
    expect(all.items.filter((t) => t.status === 'skipped' && t.executionHistory[t.executionHistory.length - 1]?.reason === 'capped')).toHaveLength(47);
    // The next local day (midnight in Los Angeles is 08:00 UTC) has a fresh cap.
    await clock.set('2026-01-16T08:00:00Z');
    await first.engine.ingest({ id: 'next-day', name: 'visit.completed', accountId: ACCOUNT, timestamp: clock.now().toISOString(), payload: { visit: { status: 'done' }, client: { phone: PHONE } } });
    expect((await first.engine.runDue()).completed).toBe(1);
  } finally {
    await Promise.all(workers.map((w) => w.engine.stop()));
  }
}

/**
 * The behaviour every `ContactCounter` must have, as a vitest suite: reserves all-or-nothing over a
 * send's buckets, one unit per holder, releases of the holder's own units only, accounts and keys
 * apart, buckets forgotten at their `expiresAt` (by the request's `now`), and counts that hold when
 * taken at once through 4 handles (4 processes for a counter over a server, via `openAnother`). The
 * last case runs 4 engines on one memory store, each counting caps on a handle of its own.
 *
 * @example
 * describeContactCounterContract('memory', () => createMemoryContactCounter());
 */
export function describeContactCounterContract<S extends ContactCounter>(name: string, factory: ContractFactory<S>): void {
  describe(`contact counter contract: ${name}`, () => {
    let counter: S;
    let handles: OpenHandles<S>;
    storePerTest(factory, (opened, more) => {
      counter = opened;
      handles = more;
    });

    const reserve = (holder: string, buckets: CounterBucket[], now = at(HOUR), on: ContactCounter = counter, accountId = ACCOUNT) =>
      on.reserve({ accountId, channel: 'sms', recipient: PHONE, buckets, holder, now });
    const release = (holder: string, bucketKeys: string[], on: ContactCounter = counter, accountId = ACCOUNT) => on.release({ accountId, channel: 'sms', recipient: PHONE, bucketKeys, holder });

    it('takes a unit in every bucket or in none: a full bucket is named and the others keep their count', async () => {
      const buckets = () => [bucket(dayKey(), 2), bucket(weekKey(), 3)];
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-2', buckets())).toEqual({ ok: true });
      expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
      // The bucket with room listed first: it must not keep the unit of a refused reserve either.
      expect(await reserve('send-3', [bucket(weekKey(), 3), bucket(dayKey(), 2)])).toEqual({ ok: false, full: dayKey() });
      // The refused reserves took nothing in the week bucket: one unit is left there.
      expect(await reserve('send-4', [bucket(weekKey(), 3)])).toEqual({ ok: true });
      expect(await reserve('send-5', [bucket(weekKey(), 3)])).toEqual({ ok: false, full: weekKey() });
      // Listed the other way round, the week bucket is the full one now, and the day bucket gains nothing.
      expect(await reserve('send-6', [bucket(weekKey(), 3), bucket(dayKey(), 3)])).toEqual({ ok: false, full: weekKey() });
      expect(await reserve('send-7', [bucket(dayKey(), 3)])).toEqual({ ok: true });
      expect(await reserve('send-8', [bucket(dayKey(), 3)])).toEqual({ ok: false, full: dayKey() });
    });

    it('counts a holder once: a second reserve by the same holder is ok and takes nothing, even in a full bucket', async () => {
      const buckets = () => [bucket(dayKey(), 2), bucket(weekKey(), 5)];
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-2', buckets())).toEqual({ ok: true });
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-2', buckets())).toEqual({ ok: true });
      expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
      // Week: send-1 and send-2 only.
      for (const holder of ['send-4', 'send-5', 'send-6']) expect(await reserve(holder, [bucket(weekKey(), 5)])).toEqual({ ok: true });
      expect(await reserve('send-7', [bucket(weekKey(), 5)])).toEqual({ ok: false, full: weekKey() });
    });

    it('gives a released unit back in each bucket named; releasing what a holder does not hold changes nothing', async () => {
      const buckets = () => [bucket(dayKey(), 1), bucket(weekKey(), 1)];
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: dayKey() });
      await release('send-2', [dayKey(), weekKey()]);
      await release('send-9', [dayKey(), weekKey(), 'sms|+15550009999|day|2030-01-01']);
      await release('send-1', [dayKey()], counter, OTHER_ACCOUNT);
      expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: dayKey() });
      // Released in the day bucket only: the week bucket still holds send-1.
      await release('send-1', [dayKey()]);
      expect(await reserve('send-2', buckets())).toEqual({ ok: false, full: weekKey() });
      await release('send-1', [weekKey()]);
      expect(await reserve('send-2', buckets())).toEqual({ ok: true });
      expect(await reserve('send-1', buckets())).toEqual({ ok: false, full: dayKey() });
      await release('send-2', [dayKey(), weekKey()]);
      await release('send-2', [dayKey(), weekKey()]);
      expect(await reserve('send-1', buckets())).toEqual({ ok: true });
      expect(await reserve('send-3', buckets())).toEqual({ ok: false, full: dayKey() });
    });

    it('keeps accounts and bucket keys apart', async () => {
      expect(await reserve('send-1', [bucket(dayKey(), 1)])).toEqual({ ok: true });
      expect(await reserve('send-2', [bucket(dayKey(), 1)], at(HOUR), counter, OTHER_ACCOUNT)).toEqual({ ok: true });
      expect(await reserve('send-3', [bucket(dayKey(), 1)], at(HOUR), counter, OTHER_ACCOUNT)).toEqual({ ok: false, full: dayKey() });
      expect(await reserve('send-4', [bucket(dayKey('+15550002222'), 1)])).toEqual({ ok: true });
      expect(await reserve('send-5', [bucket(dayKey(PHONE, '2030-01-02'), 1)])).toEqual({ ok: true });
      expect(await reserve('send-6', [bucket(dayKey(), 1)])).toEqual({ ok: false, full: dayKey() });
      // A holder id is only unique within an account: the same id elsewhere is another send.
      expect(await reserve('send-1', [bucket(dayKey('+15550003333'), 1)], at(HOUR), counter, OTHER_ACCOUNT)).toEqual({ ok: true });
      expect(await reserve('send-7', [bucket(dayKey('+15550003333'), 1)], at(HOUR), counter, OTHER_ACCOUNT)).toEqual({ ok: false, full: dayKey('+15550003333') });
    });

    it('forgets a bucket at its expiresAt: a reserve then starts the key afresh, with the new request’s expiry', async () => {
      const firstEnd = at(DAY);
      const secondEnd = at(3 * DAY);
      expect(await reserve('send-1', [bucket(dayKey(), 1, firstEnd)], at(HOUR))).toEqual({ ok: true });
      expect(await reserve('send-2', [bucket(dayKey(), 1, firstEnd)], at(DAY - 1))).toEqual({ ok: false, full: dayKey() });
      // At expiresAt the old bucket is gone: the key counts from zero, with the expiry this reserve gives.
      expect(await reserve('send-2', [bucket(dayKey(), 1, secondEnd)], firstEnd)).toEqual({ ok: true });
      expect(await reserve('send-3', [bucket(dayKey(), 1, secondEnd)], at(2 * DAY))).toEqual({ ok: false, full: dayKey() });
      expect(await reserve('send-3', [bucket(dayKey(), 1, at(5 * DAY))], at(3 * DAY - 1))).toEqual({ ok: false, full: dayKey() });
      expect(await reserve('send-3', [bucket(dayKey(), 1, at(5 * DAY))], secondEnd)).toEqual({ ok: true });
      // An expired bucket does not make its neighbours in the same request fail or skip.
      expect(await reserve('send-4', [bucket(weekKey(), 2, at(10 * DAY))], at(3 * DAY))).toEqual({ ok: true });
      expect(await reserve('send-5', [bucket(dayKey(), 1, at(7 * DAY)), bucket(weekKey(), 2, at(10 * DAY))], at(5 * DAY))).toEqual({ ok: true });
      expect(await reserve('send-6', [bucket(weekKey(), 2, at(10 * DAY))], at(5 * DAY))).toEqual({ ok: false, full: weekKey() });
    });

    it('holds a max of 3 with 50 holders reserving at once through 4 handles: exactly 3 ok, the others take nothing', async () => {
      const engines = await handles(4);
      const buckets = () => [bucket(weekKey(), 10), bucket(dayKey(), 3)];
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(`send-${i}`, buckets(), at(HOUR), engines[i % engines.length] ?? counter)));
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.full === dayKey())).toBe(true);
      // The 47 refused reserves took nothing in the week bucket: 7 units are left there.
      const week = await Promise.all(Array.from({ length: 12 }, (_, i) => reserve(`later-${i}`, [bucket(weekKey(), 10)], at(HOUR), engines[i % engines.length] ?? counter)));
      expect(week.filter((r) => r.ok)).toHaveLength(7);
    });

    it('counts one holder once when its retries race through 4 handles', async () => {
      const engines = await handles(4);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => reserve('send-1', [bucket(dayKey(), 2)], at(HOUR), engines[i % engines.length] ?? counter)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await reserve('send-2', [bucket(dayKey(), 2)])).toEqual({ ok: true });
      expect(await reserve('send-3', [bucket(dayKey(), 2)])).toEqual({ ok: false, full: dayKey() });
    });

    it('holds a cap of 3 per day with 4 engines on one store, each counting on a handle of its own: 50 triggers, exactly 3 sends', async () => {
      // The shared memory store gives rules, triggers and the policy; only the counter is under test.
      const shared = createMemoryStore();
      await expectCapOfThreeAcrossEngines((await handles(4)).map((contactCounter) => ({ store: shared, contactCounter })));
    });
  });
}
