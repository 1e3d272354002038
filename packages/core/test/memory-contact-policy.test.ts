import { describe, expect, it } from 'vitest';
import { createAutomationEngine, VersionConflictError, type ContactCounter, type CounterBucket, type RuleInput, type SuppressionStore } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryContactCounter, createMemoryContactPolicyStore, createMemoryStore, createMemorySuppressionStore } from '@crm-automation/core/memory';

const NOW = new Date('2026-01-15T18:00:00Z');
const bucket = (key: string, max: number, expiresAt = new Date('2026-01-17T08:00:00Z')): CounterBucket => ({ key, max, expiresAt });
const reserve = (counter: ContactCounter, holder: string, buckets: CounterBucket[], now = NOW, accountId = 'acc_1') =>
  counter.reserve({ accountId, channel: 'sms', recipient: '+15550001111', buckets, holder, now });

describe('memory contact counter', () => {
  it('takes a unit in every bucket or in none, and a second reserve by the same holder is a no-op', async () => {
    const counter = createMemoryContactCounter();
    const hour = bucket('sms|+15550001111|hour|2026-01-15T10:00', 1);
    const day = bucket('sms|+15550001111|day|2026-01-15', 2);
    expect(await reserve(counter, 't1:0', [hour, day])).toEqual({ ok: true });
    expect(await reserve(counter, 't1:0', [hour, day])).toEqual({ ok: true });
    // The hour is full: nothing is taken in the day either.
    expect(await reserve(counter, 't2:0', [hour, day])).toEqual({ ok: false, full: hour.key });
    const laterHour = bucket('sms|+15550001111|hour|2026-01-15T11:00', 1);
    expect(await reserve(counter, 't3:0', [laterHour, day])).toEqual({ ok: true });
    expect(await reserve(counter, 't4:0', [bucket('sms|+15550001111|hour|2026-01-15T12:00', 1), day])).toEqual({ ok: false, full: day.key });
    // Another account counts apart.
    expect(await reserve(counter, 't5:0', [hour, day], NOW, 'acc_2')).toEqual({ ok: true });
  });

  it('gives a holder its unit back on release, and forgets a bucket once it expires', async () => {
    const counter = createMemoryContactCounter();
    const day = bucket('sms|+15550001111|day|2026-01-15', 1, new Date('2026-01-16T00:00:00Z'));
    expect(await reserve(counter, 't1:0', [day])).toEqual({ ok: true });
    await counter.release({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', bucketKeys: [day.key], holder: 'someone-else' });
    expect(await reserve(counter, 't2:0', [day])).toEqual({ ok: false, full: day.key });
    await counter.release({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', bucketKeys: [day.key], holder: 't1:0' });
    expect(await reserve(counter, 't2:0', [day])).toEqual({ ok: true });
    expect(await reserve(counter, 't3:0', [day], new Date('2026-01-16T00:00:00Z'))).toEqual({ ok: true });
  });
});

describe('memory suppression store', () => {
  const entry = (recipient: string, at: string) => ({ accountId: 'acc_1', channel: 'sms', recipient, reason: 'stop' as const, source: 'inbound-sms' as const, createdAt: new Date(at) });

  it('is idempotent on (account, channel, recipient) and keeps every change in order', async () => {
    const store: SuppressionStore = createMemorySuppressionStore();
    expect((await store.addSuppression(entry('+15550001111', '2026-01-15T18:00:00Z'))).created).toBe(true);
    const again = await store.addSuppression({ ...entry('+15550001111', '2026-01-15T19:00:00Z'), reason: 'manual' });
    expect(again).toMatchObject({ created: false, suppression: { reason: 'stop', createdAt: new Date('2026-01-15T18:00:00Z') } });
    expect(await store.findSuppression('acc_1', 'email', '+15550001111')).toBeNull();
    expect(await store.findSuppression('acc_2', 'sms', '+15550001111')).toBeNull();
    expect(await store.removeSuppression('acc_1', 'sms', '+15550001111', { at: new Date('2026-01-15T20:00:00Z'), reason: 'stop', source: 'inbound-sms' })).toBe(true);
    expect(await store.removeSuppression('acc_1', 'sms', '+15550001111', { at: new Date('2026-01-15T21:00:00Z'), reason: 'stop', source: 'inbound-sms' })).toBe(false);
    await store.addSuppression(entry('+15550001111', '2026-01-15T22:00:00Z'));
    const changes = await store.suppressionChanges('acc_1', { limit: 2 });
    expect(changes.items.map((c) => `${c.action} ${c.at.toISOString()}`)).toEqual(['added 2026-01-15T18:00:00.000Z', 'removed 2026-01-15T20:00:00.000Z']);
    const rest = await store.suppressionChanges('acc_1', { limit: 2, cursor: changes.nextCursor });
    expect(rest.items.map((c) => c.action)).toEqual(['added']);
    expect(rest.nextCursor).toBeUndefined();
    expect((await store.suppressionChanges('acc_2', {})).items).toEqual([]);
  });

  it('hands out copies', async () => {
    const store = createMemorySuppressionStore();
    const { suppression } = await store.addSuppression(entry('+15550001111', '2026-01-15T18:00:00Z'));
    suppression.reason = 'manual';
    expect((await store.findSuppression('acc_1', 'sms', '+15550001111'))?.reason).toBe('stop');
  });
});

describe('memory contact policy store', () => {
  it('versions each put and refuses a stale expectedVersion', async () => {
    const store = createMemoryContactPolicyStore();
    const policy = { channels: { sms: { caps: [{ max: 3, per: 'day' as const }] } } };
    expect(await store.putContactPolicy('acc_1', policy, { now: NOW, expectedVersion: 0 })).toMatchObject({ accountId: 'acc_1', version: 1, updatedAt: NOW });
    await expect(store.putContactPolicy('acc_1', policy, { now: NOW, expectedVersion: 0 })).rejects.toBeInstanceOf(VersionConflictError);
    expect((await store.putContactPolicy('acc_1', policy, { now: NOW })).version).toBe(2);
    const read = await store.getContactPolicy('acc_1');
    read?.channels['sms']?.caps?.push({ max: 1, per: 'hour' });
    expect((await store.getContactPolicy('acc_1'))?.channels['sms']?.caps).toHaveLength(1);
    expect(await store.getContactPolicy('acc_2')).toBeNull();
  });
});

describe('an engine with the contact policy switched off', () => {
  it('makes no policy, suppression or counter call on the way to a send', async () => {
    const store = createMemoryStore();
    const calls: string[] = [];
    for (const method of ['getContactPolicy', 'findSuppression', 'reserve', 'release', 'addSuppression'] as const) {
      const original = store[method] as (...args: unknown[]) => unknown;
      (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        calls.push(method);
        return original(...args);
      };
    }
    const clock = createManualClock(NOW);
    const sms = createRecordingChannel();
    const run = async (engine: ReturnType<typeof createAutomationEngine>, id: string) => {
      await engine.ingest({ id, name: 'visit.completed', accountId: 'acc_1', timestamp: NOW.toISOString(), payload: { phone: '+15550001111' } });
      await engine.runDue();
    };
    const rule = { name: 'r', trigger: { eventName: 'visit.completed' }, conditions: { all: [] }, actions: [{ type: 'sms', params: { recipient: '{{phone}}', message: 'hi' } }] } satisfies RuleInput;
    const off = createAutomationEngine({ store, clock, channels: { sms }, contactPolicies: false, suppressions: false, contactCounter: false });
    await off.rules.create('acc_1', rule);
    await store.addSuppression({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', reason: 'stop', source: 'api', createdAt: NOW });
    calls.length = 0;
    await run(off, 'e1');
    expect(calls).toEqual([]);
    expect(sms.sent).toHaveLength(1);
    // The same store with the policy on: the suppression holds.
    const on = createAutomationEngine({ store, clock, channels: { sms } });
    await run(on, 'e2');
    // The policy is read alongside the look-up (one round trip on a store over a network), even for a send the list then skips.
    expect([...calls].sort()).toEqual(['findSuppression', 'getContactPolicy']);
    expect(sms.sent).toHaveLength(1);
  });
});
