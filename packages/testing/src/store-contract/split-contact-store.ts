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
