import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type ContactPolicyStore, type StoredContactPolicy, type Suppression, type SuppressionKey, type SuppressionStore } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryContactPolicyStore, createMemoryStore, createMemorySuppressionStore } from '@crm-automation/core/memory';
import { coalescedPolicyReads, coalescedSuppressionReads, MAX_COALESCED_KEYS } from '../src/policy/coalesced-reads.js';

const NOW = new Date('2030-01-01T12:00:00Z');

/** A memory policy store that can read in batches, counting single and batched reads. */
function countingPolicies() {
  const inner = createMemoryContactPolicyStore();
  const calls = { single: 0, batches: [] as string[][] };
  let failNext: Error | undefined;
  const store: ContactPolicyStore & Required<Pick<ContactPolicyStore, 'getContactPolicies'>> = {
    getContactPolicy: async (accountId) => {
      calls.single += 1;
      return inner.getContactPolicy(accountId);
    },
    putContactPolicy: (accountId, policy, options) => inner.putContactPolicy(accountId, policy, options),
    getContactPolicies: async (accountIds) => {
      calls.batches.push([...accountIds]);
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      const found = await Promise.all(accountIds.map((id) => inner.getContactPolicy(id)));
      return found.filter((p): p is StoredContactPolicy => p !== null);
    },
  };
  return { store, calls, failOnce: (error: Error) => void (failNext = error) };
}

function countingSuppressions() {
  const inner = createMemorySuppressionStore();
  const batches: SuppressionKey[][] = [];
  const store: SuppressionStore = {
    ...inner,
    findSuppressions: async (keys) => {
      batches.push([...keys]);
      const found = await Promise.all(keys.map((k) => inner.findSuppression(k.accountId, k.channel, k.recipient)));
      return found.filter((s): s is Suppression => s !== null);
    },
  };
  return { store, inner, batches };
}

describe('coalesced contact reads', () => {
  it('answers the reads of one turn with one batched read, each key asked once, as single reads would', async () => {
    const { store, calls } = countingPolicies();
    await store.putContactPolicy('acc_1', { channels: { sms: { caps: [{ max: 1, per: 'day' }] } } }, { now: NOW });
    await store.putContactPolicy('acc_3', { channels: { email: { caps: [{ max: 2, per: 'week' }] } } }, { now: NOW });
    const reads = coalescedPolicyReads(store);
    const answers = await Promise.all(['acc_1', 'acc_2', 'acc_1', 'acc_3', 'acc_1'].map((id) => reads.getContactPolicy(id)));
    expect(calls.batches).toEqual([['acc_1', 'acc_2', 'acc_3']]);
    expect(calls.single).toBe(0);
    expect(answers.map((p) => p?.accountId ?? null)).toEqual(['acc_1', null, 'acc_1', 'acc_3', 'acc_1']);
    expect(answers[0]).toEqual(await store.getContactPolicy('acc_1'));
    expect(answers[3]).toEqual(await store.getContactPolicy('acc_3'));
    // A later turn reads again (no cache): a policy written in between is seen.
    await store.putContactPolicy('acc_2', { channels: { sms: { caps: [{ max: 5, per: 'hour' }] } } }, { now: NOW });
    expect((await reads.getContactPolicy('acc_2'))?.version).toBe(1);
    expect(calls.batches).toHaveLength(2);
  });

  it('fails every read of a failed batch, and the next turn reads afresh', async () => {
    const { store, calls, failOnce } = countingPolicies();
    const reads = coalescedPolicyReads(store);
    failOnce(new Error('connection reset'));
    const settled = await Promise.allSettled([reads.getContactPolicy('acc_1'), reads.getContactPolicy('acc_2')]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(await reads.getContactPolicy('acc_1')).toBeNull();
    expect(calls.batches).toHaveLength(2);
  });

  it(`asks for at most ${MAX_COALESCED_KEYS} keys a batch`, async () => {
    const { store, calls } = countingPolicies();
    const reads = coalescedPolicyReads(store);
    const ids = Array.from({ length: 2 * MAX_COALESCED_KEYS + 7 }, (_, i) => `acc_${i}`);
    expect(await Promise.all(ids.map((id) => reads.getContactPolicy(id)))).toEqual(ids.map(() => null));
    expect(calls.batches.map((b) => b.length)).toEqual([MAX_COALESCED_KEYS, MAX_COALESCED_KEYS, 7]);
  });

  it('matches suppressions by account, channel and recipient, never across them', async () => {
    const { store, batches } = countingSuppressions();
    await store.addSuppression({ accountId: 'acc_1', channel: 'sms', recipient: '+15550001111', reason: 'stop', source: 'inbound-sms', createdAt: NOW });
    const reads = coalescedSuppressionReads(store);
    const found = await Promise.all([
      reads.findSuppression('acc_1', 'sms', '+15550001111'),
      reads.findSuppression('acc_2', 'sms', '+15550001111'),
      reads.findSuppression('acc_1', 'email', '+15550001111'),
      reads.findSuppression('acc_1', 'sms', '+15550002222'),
    ]);
    expect(found.map((s) => s?.reason ?? null)).toEqual(['stop', null, null, null]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(4);
  });

  it('leaves a store without batched reads as it is', () => {
    const policies = createMemoryContactPolicyStore();
    const suppressions = createMemorySuppressionStore();
    expect(coalescedPolicyReads(policies)).toBe(policies);
    expect(coalescedSuppressionReads(suppressions)).toBe(suppressions);
  });

  it('reads the policy and the list of 40 concurrent sends in one batch each, and skips the suppressed ones', async () => {
    const policies = countingPolicies();
    const suppressions = countingSuppressions();
    const clock = createManualClock('2030-01-01T12:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms }, contactPolicies: policies.store, suppressions: suppressions.store, concurrency: 64 });
    await engine.rules.create('acc_1', {
      name: 'Follow-up',
      trigger: { eventName: 'visit.completed' },
      conditions: { all: [] },
      actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Thanks' } }],
    });
    await engine.contactPolicy.set('acc_1', { channels: { sms: { caps: [{ max: 5, per: 'day' }] } } });
    const phones = Array.from({ length: 40 }, (_, i) => `+1555000${String(1000 + i)}`);
    for (const phone of phones.slice(0, 10)) await suppressions.store.addSuppression({ accountId: 'acc_1', channel: 'sms', recipient: phone, reason: 'stop', source: 'inbound-sms', createdAt: NOW });
    await engine.ingestMany(phones.map((phone, i) => ({ id: `e${i}`, name: 'visit.completed', accountId: 'acc_1', timestamp: clock.now().toISOString(), payload: { client: { phone } } })));
    const counts = await engine.runDue();
    expect(counts.skipped).toBe(10);
    expect(sms.sent.map((c) => c.params['recipient']).sort()).toEqual(phones.slice(10).sort());
    expect(policies.calls.single).toBe(0);
    expect(policies.calls.batches.every((b) => b.length === 1)).toBe(true);
    expect(policies.calls.batches.length).toBeLessThan(10);
    expect(suppressions.batches.reduce((n, b) => n + b.length, 0)).toBe(40);
    expect(suppressions.batches.length).toBeLessThan(10);
    await engine.stop();
  });
});
