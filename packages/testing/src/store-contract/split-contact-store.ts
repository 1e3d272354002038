import { expect } from 'vitest';
import { createAutomationEngine, type ContactCounter, type ContactPolicyStore, type SendThrottle, type SuppressionStore } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';

/** The four contact policy ports in one object, as a standalone contact store gives them. */
export type ContactPortsStore = ContactPolicyStore & SuppressionStore & ContactCounter & SendThrottle;

/**
 * Checks that a standalone contact store (`createPostgresContactStore`, `createMongoContactStore`) is
 * what an engine with split stores fires by: rules and triggers elsewhere (a memory store here), the
 * policy, the suppression list and the cap counter in `contact`. A STOP skips the next text; a cap
 * of 1 a day skips the second one to another recipient; START lets the one after through.
 */
export async function expectEngineFiresByContactStore(contact: ContactPortsStore): Promise<void> {
  const clock = createManualClock('2030-01-15T15:00:00Z');
  const sms = createRecordingChannel({ name: 'twilio' });
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms }, contactPolicies: contact, suppressions: contact, contactCounter: contact, sendThrottle: contact });
  const account = 'acc_split_contact';
  await engine.rules.create(account, {
    name: 'Visit follow-up',
    trigger: { eventName: 'visit.completed' },
    conditions: { all: [] },
    actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'How was your visit?' } }],
  });
  await engine.contactPolicy.set(account, { channels: { sms: { caps: [{ max: 1, per: 'day' }], throttle: { perSecond: 100, burst: 10 } } } });
  let n = 0;
  const fire = async (phone: string) => {
    const [created] = await engine.ingest({ id: `split-${++n}`, name: 'visit.completed', accountId: account, timestamp: clock.now().toISOString(), payload: { client: { phone } } });
    if (!created) throw new Error('the rule did not match the visit');
    await engine.runDue();
    return engine.triggers.get(account, created.id);
  };
  await engine.suppressions.add(account, { channel: 'sms', recipient: '+15550001111', reason: 'stop', source: 'inbound-sms', detail: 'SM1' });
  expect(await contact.findSuppression(account, 'sms', '+15550001111')).toMatchObject({ reason: 'stop', source: 'inbound-sms' });
  expect((await fire('+15550001111'))?.executionHistory.at(-1)).toMatchObject({ reason: 'suppressed', actions: [{ status: 'skipped', reason: 'suppressed' }] });
  expect((await fire('+15550002222'))?.status).toBe('completed');
  expect((await fire('+15550002222'))?.executionHistory.at(-1)).toMatchObject({ actions: [{ status: 'skipped', reason: 'capped' }] });
  expect(await engine.suppressions.remove(account, 'sms', '+15550001111', { reason: 'stop', source: 'inbound-sms' })).toBe(true);
  expect((await fire('+15550001111'))?.status).toBe('completed');
  expect(sms.sent.map((c) => c.params['recipient'])).toEqual(['+15550002222', '+15550001111']);
  expect((await contact.suppressionChanges(account, {})).items.map((c) => c.action)).toEqual(['added', 'removed']);
  await engine.stop();
}

/**
 * Checks a store's batched reads (`getContactPolicies`, `findSuppressions`) against its single reads:
 * the same answers, nothing across accounts or channels, odd keys not found rather than an error.
 */
export async function expectBatchedContactReads(store: ContactPortsStore): Promise<void> {
  const { getContactPolicies, findSuppressions } = store;
  if (typeof getContactPolicies !== 'function' || typeof findSuppressions !== 'function') throw new Error('the store has no batched contact reads');
  const now = new Date('2030-01-01T00:00:00.000Z');
  await store.putContactPolicy('acc_batch_a', { channels: { sms: { caps: [{ max: 3, per: 'day' }] } } }, { now });
  await store.putContactPolicy('acc_batch_b', { channels: { email: { quietHours: { from: '21:00', to: '08:00' } } } }, { now });
  const policies = await getContactPolicies.call(store, ['acc_batch_a', 'acc_batch_missing', 'acc_batch_b', 'acc\u0000x', '']);
  const byAccount = new Map(policies.map((p) => [p.accountId, p]));
  expect([...byAccount.keys()].sort()).toEqual(['acc_batch_a', 'acc_batch_b']);
  expect(byAccount.get('acc_batch_a')).toEqual(await store.getContactPolicy('acc_batch_a'));
  expect(byAccount.get('acc_batch_b')).toEqual(await store.getContactPolicy('acc_batch_b'));
  expect(await getContactPolicies.call(store, [])).toEqual([]);

  await store.addSuppression({ accountId: 'acc_batch_a', channel: 'sms', recipient: '+15550001111', reason: 'stop', source: 'inbound-sms', createdAt: now });
  await store.addSuppression({ accountId: 'acc_batch_a', channel: 'email', recipient: 'a@example.com', reason: 'bounce', source: 'email-event', createdAt: now });
  await store.addSuppression({ accountId: 'acc_batch_b', channel: 'sms', recipient: '+15550002222', reason: 'manual', source: 'api', createdAt: now });
  const keys = [
    { accountId: 'acc_batch_a', channel: 'sms', recipient: '+15550001111' },
    { accountId: 'acc_batch_a', channel: 'sms', recipient: '+15550002222' },
    { accountId: 'acc_batch_b', channel: 'sms', recipient: '+15550001111' },
    { accountId: 'acc_batch_a', channel: 'email', recipient: 'a@example.com' },
    { accountId: 'acc_batch_b', channel: 'sms', recipient: '+15550002222' },
    { accountId: 'acc_batch_a', channel: 'sms', recipient: '+1555\u00000001111' },
  ];
  const found = await findSuppressions.call(store, keys);
  const id = (k: { accountId: string; channel: string; recipient: string }) => `${k.accountId}|${k.channel}|${k.recipient}`;
  expect(found.map(id).sort()).toEqual(['acc_batch_a|email|a@example.com', 'acc_batch_a|sms|+15550001111', 'acc_batch_b|sms|+15550002222']);
  for (const entry of found) expect(entry).toEqual(await store.findSuppression(entry.accountId, entry.channel, entry.recipient));
  expect(await findSuppressions.call(store, [])).toEqual([]);
}
