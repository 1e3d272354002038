import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NewTrigger } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';

// The memory store is robust to a bad date whoever hands it one (a custom intake, a remote rule
// source, a bug): a typed refusal of the whole call, nothing half written, other accounts' runs due
// in order. The engine's own checks keep such dates away; these tests go around them.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = new Date(NOW);
const trigger = (accountId: string, eventId: string, dueIn: number, extra: Partial<NewTrigger> = {}): NewTrigger => ({
  accountId,
  ruleId: 'r',
  ruleVersion: 1,
  evaluateAt: new Date(NOW + dueIn),
  triggeringEvent: { id: eventId, name: 'e', timestamp: new Date(NOW), payload: {} },
  ...extra,
});
const invalidDates: unknown[] = [new Date(Number.NaN), new Date(8.64e15 + 1), 'tomorrow', NOW, null, undefined, {}];

async function seeded() {
  const store = createMemoryStore();
  await store.insertTriggers([trigger('good', 'g1', 60_000), trigger('good', 'g2', 120_000)], at);
  // A keyed pending run another event may supersede.
  await store.insertTriggers([trigger('acc', 'k1', 60_000, { entityKey: 'job-1', concurrency: { mode: 'supersede', maxWaitMs: 600_000 } })], at);
  return store;
}

async function claimAll(store: Awaited<ReturnType<typeof seeded>>, atMs: number) {
  const claimed = await store.claimDueTriggers({ now: new Date(atMs), limit: 100, leaseMs: 30_000, owner: 'test' });
  return claimed.map((c) => `${c.accountId}/${c.triggeringEvent.id}@${c.evaluateAt.toISOString()}`);
}

const expectConfig = (promise: Promise<unknown>) => expect(promise).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });

describe('memory store and bad dates', () => {
  const cases: Array<[string, (bad: unknown) => NewTrigger]> = [
    ['evaluateAt', (bad) => trigger('acc', 'x', 0, { evaluateAt: bad as Date })],
    ['triggeringEvent.timestamp', (bad) => ({ ...trigger('acc', 'x', 0), triggeringEvent: { id: 'x', name: 'e', timestamp: bad as Date, payload: {} } })],
    ['a keyed event timestamp (supersede order)', (bad) => ({ ...trigger('acc', 'x', 0, { entityKey: 'job-1', concurrency: { mode: 'supersede' } }), triggeringEvent: { id: 'x', name: 'e', timestamp: bad as Date, payload: {} } })],
  ];
  it.each(cases)('refuses a bad %s for the whole batch, storing nothing', async (_label, make) => {
    for (const bad of invalidDates) {
      const store = await seeded();
      const size = { ...store.size };
      // The good trigger first: a batch refused halfway would have stored it.
      await expectConfig(store.insertTriggers([trigger('acc', `ok-${String(bad)}`, 1_000), make(bad)], at));
      expect(store.size).toEqual(size);
      expect(await claimAll(store, NOW + 60_000)).toEqual(['good/g1@2026-06-01T12:01:00.000Z', 'acc/k1@2026-06-01T12:01:00.000Z']);
    }
  });

  it('refuses a maxWaitMs that is not a duration without superseding the pending run', async () => {
    for (const maxWaitMs of [Number.NaN, -1, -1e300, 'long' as unknown as number]) {
      const store = await seeded();
      const later = { ...trigger('acc', 'k2', 90_000, { entityKey: 'job-1', concurrency: { mode: 'supersede', maxWaitMs } }), triggeringEvent: { id: 'k2', name: 'e', timestamp: new Date(NOW + 1), payload: {} } };
      await expectConfig(store.insertTriggers([later], at));
      const [pending] = (await store.listTriggers('acc', { entityKey: 'job-1' })).items;
      expect(pending).toMatchObject({ status: 'pending', triggeringEvent: { id: 'k1' } });
      expect(await claimAll(store, NOW + 60_000)).toContain('acc/k1@2026-06-01T12:01:00.000Z');
    }
  });

  it('refuses a bad intake time, claim time, lease, cutoff or outcome date, and goes on in order', async () => {
    const store = await seeded();
    for (const bad of invalidDates) {
      await expectConfig(store.insertTriggers([trigger('acc', 'x', 0)], bad as Date));
      await expectConfig(store.claimDueTriggers({ now: bad as Date, limit: 10, leaseMs: 1_000, owner: 'test' }));
      await expectConfig(store.purgeTriggers({ statuses: ['completed', 'cancelled', 'pending'], olderThan: bad as Date }));
      await expectConfig(Promise.resolve(store.cancelTriggers?.({ accountId: 'acc', ruleId: 'r', entityKey: 'job-1', eventTimestamp: new Date(NOW + 1), event: { id: 'c', name: 'c' }, now: bad as Date, by: 'test' })));
    }
    // A lease that would end past the date range.
    await expectConfig(store.claimDueTriggers({ now: new Date(NOW + 60_000), limit: 10, leaseMs: 8.64e15, owner: 'test' }));
    const [first] = await store.claimDueTriggers({ now: new Date(NOW + 60_000), limit: 1, leaseMs: 30_000, owner: 'test' });
    expect(first).toBeDefined();
    if (!first) return;
    const history = { at: new Date(NOW), attempt: 1, outcome: 'retrying' as const };
    // An absent retry time (undefined, null) means now; every other bad value is refused.
    for (const bad of invalidDates.filter((d) => d !== undefined && d !== null)) {
      await expectConfig(store.finishAttempt(first.id, first.leaseToken, { status: 'retrying', now: new Date(NOW), evaluateAt: bad as Date, history, sentActions: [] }));
      await expectConfig(store.finishAttempt(first.id, first.leaseToken, { status: 'completed', now: bad as Date, history, sentActions: [] }));
      await expectConfig(Promise.resolve(store.finishAttempts?.([{ id: first.id, leaseToken: first.leaseToken, result: { status: 'completed', now: bad as Date, history, sentActions: [] } }])));
    }
    // Still held by its lease, then finished normally; the rest come out in due order.
    expect(await store.finishAttempt(first.id, first.leaseToken, { status: 'completed', now: new Date(NOW + 60_000), history, sentActions: [] })).toBe(true);
    expect(await claimAll(store, NOW + 120_000)).toEqual(['acc/k1@2026-06-01T12:01:00.000Z', 'good/g2@2026-06-01T12:02:00.000Z']);
  });

  it('refuses a list filter bound that is not a date, rather than filtering nothing', async () => {
    const store = await seeded();
    for (const bad of invalidDates.filter((d) => d !== undefined)) {
      await expectConfig(store.listTriggers('good', { from: bad as Date }));
      await expectConfig(store.listTriggers('good', { to: bad as Date }));
    }
    expect((await store.listTriggers('good', { from: new Date(NOW + 90_000) })).items.map((t) => t.triggeringEvent.id)).toEqual(['g2']);
  });

  it('keeps due order across any mix of good and refused batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_600_000 }), fc.option(fc.constantFrom(...invalidDates), { freq: 3 })), { minLength: 1, maxLength: 40 }),
        async (entries) => {
          const store = createMemoryStore();
          const expected: number[] = [];
          for (const [index, [dueIn, bad]] of entries.entries()) {
            const good = trigger(`acc-${index % 3}`, `e${index}`, dueIn);
            const batch = bad === null ? [good] : [good, { ...good, triggeringEvent: { ...good.triggeringEvent, id: `bad${index}` }, evaluateAt: bad as Date }];
            const result = await store.insertTriggers(batch, at).catch((e: unknown) => e);
            if (bad === null) expected.push(NOW + dueIn);
            else expect(result).toMatchObject({ code: 'CRM_ERR_CONFIG' });
          }
          const claimed = await store.claimDueTriggers({ now: new Date(NOW + 3_600_000), limit: 1_000, leaseMs: 1_000, owner: 'test' });
          expect(claimed.map((c) => c.evaluateAt.getTime())).toEqual([...expected].sort((a, b) => a - b));
          expect(await store.nextDueAt()).toEqual(expected.length === 0 ? null : new Date(NOW + 3_600_000 + 1_000));
        },
      ),
      { numRuns: 200 },
    );
  });
});
