import { afterAll, describe, expect, it } from 'vitest';
import type { NewTrigger, TriggerStore } from '@crm-automation/core';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { describeTriggerStoreContract } from '@crm-automation/testing';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MINUTE = 60_000;

function keyed(eventId: string, ts: number, options: { entityKey?: string; concurrency?: NewTrigger['concurrency']; delayMs?: number } = {}): NewTrigger {
  return {
    accountId: 'acc_1',
    ruleId: 'rule_1',
    ruleVersion: 1,
    evaluateAt: at(ts + (options.delayMs ?? 5 * MINUTE)),
    triggeringEvent: { id: eventId, name: 'job.status.changed', timestamp: at(ts), payload: { job: { id: options.entityKey ?? 'job_1' } } },
    entityKey: options.entityKey ?? 'job_1',
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  };
}

async function insertOne(store: TriggerStore, input: NewTrigger, now: Date) {
  const [inserted] = await store.insertTriggers([input], now);
  if (!inserted) throw new Error('no insert result');
  return inserted;
}

// The contract again, with each engine on a handle object of its own over one state, so the
// several-handles path of the contract (and its closing of extra handles) runs on every unit run.
let handlesOpened = 0;
let handlesClosed = 0;
describeTriggerStoreContract('memory, one handle per engine', () => {
  const store = createMemoryTriggerStore();
  return {
    store,
    openAnother: () => {
      handlesOpened += 1;
      return { ...store, close: async () => void (handlesClosed += 1) };
    },
  };
});
afterAll(() => {
  expect(handlesOpened).toBeGreaterThan(0);
  expect(handlesClosed).toBe(handlesOpened);
});

describe('memory trigger store: keyed rules beyond the contract', () => {
  it('stores a retry written after a cancel was requested as cancelled, in the same write, and never claims it again', async () => {
    const store = createMemoryTriggerStore();
    const { trigger } = await insertOne(store, keyed('e1', 0, { delayMs: 0 }), T0);
    const [claimed] = await store.claimDueTriggers({ now: T0, limit: 10, leaseMs: 30_000, owner: 'w' });
    expect(claimed?.id).toBe(trigger.id);
    const cancel = await store.cancelTriggers({ accountId: 'acc_1', ruleId: 'rule_1', entityKey: 'job_1', eventTimestamp: at(1), event: { id: 'c1', name: 'job.cancelled' }, now: at(2), by: 'engine-x' });
    expect(cancel.requested.map((t) => t.id)).toEqual([trigger.id]);
    const ok = await store.finishAttempt(trigger.id, claimed?.leaseToken ?? '', {
      status: 'retrying',
      evaluateAt: at(MINUTE),
      sentActions: [],
      now: at(3),
      history: { at: at(3), attempt: 1, outcome: 'retrying', reason: 'gateway-timeout' },
    });
    expect(ok).toBe(true);
    const stored = await store.getTrigger('acc_1', trigger.id);
    expect(stored?.status).toBe('cancelled');
    expect(stored?.executionHistory.map((h) => [h.outcome, h.reason])).toEqual([
      ['retrying', 'gateway-timeout'],
      ['cancelled', 'cancelled-by-event'],
    ]);
    expect(stored?.executionHistory[1]?.event).toEqual({ id: 'c1', name: 'job.cancelled' });
    expect(await store.claimDueTriggers({ now: at(10 * MINUTE), limit: 10, leaseMs: 30_000, owner: 'w' })).toEqual([]);
    expect(await store.nextDueAt()).toBeNull();
  });

  it('wakes watchers only for triggers stored pending, not for stale or skipped ones', async () => {
    const store = createMemoryTriggerStore();
    const seen: Date[] = [];
    await store.watchDue?.((dueAt) => seen.push(dueAt));
    await insertOne(store, keyed('w1', MINUTE, { concurrency: { mode: 'supersede' } }), T0);
    expect(seen).toEqual([at(6 * MINUTE)]);
    await insertOne(store, keyed('w0', 0, { concurrency: { mode: 'supersede' }, delayMs: 0 }), T0);
    await insertOne(store, keyed('s1', 0, { entityKey: 'job_2', concurrency: { mode: 'skipIfPending' } }), T0);
    await insertOne(store, keyed('s2', MINUTE, { entityKey: 'job_2', concurrency: { mode: 'skipIfPending' }, delayMs: -MINUTE }), T0);
    expect(seen).toEqual([at(6 * MINUTE), at(5 * MINUTE)]);
  });

  it('forgets purged triggers in the entity indexes: listing, the pending slot and cancel', async () => {
    const store = createMemoryTriggerStore();
    const first = await insertOne(store, keyed('p1', 0, { concurrency: { mode: 'supersede' } }), T0);
    await insertOne(store, keyed('p2', 0, { entityKey: 'job_2' }), T0);
    expect(await store.purgeTriggers({ statuses: ['pending'], olderThan: at(1) })).toBe(2);
    expect((await store.listTriggers('acc_1', { entityKey: 'job_1' })).items).toEqual([]);
    expect((await store.listTriggers('acc_1', { entityKey: 'job_2' })).items).toEqual([]);
    const next = await insertOne(store, keyed('p3', MINUTE, { concurrency: { mode: 'supersede' } }), at(MINUTE));
    expect(next).toMatchObject({ outcome: 'created' });
    expect(next.pendingTriggerId).toBeUndefined();
    const cancel = await store.cancelTriggers({ accountId: 'acc_1', ruleId: 'rule_1', entityKey: 'job_1', eventTimestamp: at(10 * MINUTE), event: { id: 'c', name: 'job.cancelled' }, now: at(10 * MINUTE), by: 'e' });
    expect(cancel.cancelled.map((t) => t.id)).toEqual([next.trigger.id]);
    expect(cancel.cancelled.map((t) => t.id)).not.toContain(first.trigger.id);
    expect((await store.listTriggers('acc_1', { entityKey: 'job_1' })).items.map((t) => t.id)).toEqual([next.trigger.id]);
  });

  it('a trigger given a concurrency mode but no entity key behaves as mode all', async () => {
    const store = createMemoryTriggerStore();
    const { entityKey: _none, ...unkeyed } = keyed('u1', 0, { concurrency: { mode: 'supersede' } });
    const a = await insertOne(store, unkeyed, T0);
    const b = await insertOne(store, { ...unkeyed, triggeringEvent: { ...unkeyed.triggeringEvent, id: 'u2', timestamp: at(MINUTE) } }, T0);
    expect([a.outcome, b.outcome]).toEqual(['created', 'created']);
    expect([a.trigger.status, b.trigger.status]).toEqual(['pending', 'pending']);
    expect(a.trigger.firstEventAt).toBeUndefined();
  });

  it('the combined store exposes cancelTriggers and declares both capabilities', async () => {
    const store = createMemoryStore();
    expect(store.capabilities).toMatchObject({ keyedConcurrency: true, cancelByEvent: true });
    expect(createMemoryTriggerStore().capabilities).toMatchObject({ keyedConcurrency: true, cancelByEvent: true });
    await store.insertTriggers([keyed('m1', 0)], T0);
    const result = await store.cancelTriggers?.({ accountId: 'acc_1', ruleId: 'rule_1', entityKey: 'job_1', eventTimestamp: at(1), event: { id: 'c', name: 'job.cancelled' }, now: at(2), by: 'e' });
    expect(result?.cancelled).toHaveLength(1);
  });

  it('the rule store drops a rule from an event name it no longer starts or cancels on', async () => {
    const rules = createMemoryRuleStore();
    const draft = {
      name: 'r',
      enabled: true,
      trigger: { eventName: 'job.status.changed', key: '$.job.id' },
      delay: { value: 5, unit: 'minutes' as const },
      conditions: { all: [] },
      actions: [],
      cancelOn: [{ eventName: 'job.cancelled' }, { eventName: 'job.cancelled', key: '$.id' }],
    };
    const rule = await rules.insertRule('acc_1', draft, T0);
    expect((await rules.findRulesForEvent('acc_1', 'job.cancelled')).map((r) => r.id)).toEqual([rule.id]);
    await rules.replaceRule('acc_1', rule.id, { ...draft, trigger: { eventName: 'job.cancelled' }, cancelOn: [] }, { now: at(1) });
    expect((await rules.findRulesForEvent('acc_1', 'job.cancelled')).map((r) => r.id)).toEqual([rule.id]);
    expect(await rules.findRulesForEvent('acc_1', 'job.status.changed')).toEqual([]);
  });
});
