import { describe, expect, it } from 'vitest';
import { createAutomationEngine, GatewayError, type ContactPolicy, type RuleInput } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createAutomationMetrics, instrumentEngine } from '@crm-automation/metrics';
import { createManualClock, createRecordingChannel } from '@crm-automation/testing/doubles';

const PHONE = '+15550001111';
const EMAIL = 'ann@example.com';

// Two actions, so the channel of a decision has to come from its action index: sms first, email second.
const followUp = {
  name: 'Visit follow-up',
  trigger: { eventName: 'visit.completed' },
  conditions: { all: [] },
  actions: [
    { type: 'sms', params: { recipient: PHONE, message: 'How was your visit?' } },
    { type: 'email', params: { recipient: EMAIL, subject: 'Your visit', body: 'How was it?' } },
  ],
} satisfies RuleInput;

/** An engine on the memory store (which carries the policy, suppression and counter ports), instrumented. */
function setup(start: string) {
  const clock = createManualClock(start);
  const sms = createRecordingChannel({ name: 'twilio' });
  const email = createRecordingChannel({ name: 'sendgrid' });
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email } });
  const metrics = createAutomationMetrics({ processMetrics: false });
  const instrumentation = instrumentEngine(engine, { metrics });
  let n = 0;
  const visit = async (accountId: string) => {
    await engine.ingest({ id: `e${++n}`, name: 'visit.completed', accountId, timestamp: clock.now().toISOString(), payload: {} });
    return engine.runDue();
  };
  const series = async (prefix: string) =>
    (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith(prefix))
      .sort();
  return { clock, sms, email, engine, metrics, instrumentation, visit, series };
}

describe('contact policy metrics', () => {
  it('counts quiet-hours deferrals by account and channel, not as retries', async () => {
    // 22:00 in New York: inside the email quiet hours; sms has none.
    const { engine, visit, series, sms, email } = setup('2026-01-15T03:00:00Z');
    const night: ContactPolicy = { channels: { email: { quietHours: { from: '21:00', to: '08:00', timeZone: 'America/New_York' } } } };
    await engine.contactPolicy.set('acc_1', night);
    await engine.rules.create('acc_1', followUp);
    await visit('acc_1');

    // The sms (index 0) went out; the email (index 1) waits for 08:00.
    expect(sms.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(0);
    expect(await series('crm_contact_deferred_total{')).toEqual(['crm_contact_deferred_total{account_id="acc_1",channel="email",reason="quiet-hours"} 1']);
    expect(await series('crm_contact_skipped_total{')).toEqual([]);
    expect(await series('crm_triggers_finished_total{')).toEqual(['crm_triggers_finished_total{status="retrying",reason="quiet-hours"} 1']);
    // Waiting for a window to end is not a failure being retried.
    expect(await series('crm_trigger_retries_total')).toEqual(['crm_trigger_retries_total 0']);
  });

  it('counts cap skips and cap deferrals on the channel of the capped action', async () => {
    const { engine, visit, series, email } = setup('2026-01-15T15:00:00Z');
    const oncePerDay = (overCap: 'skip' | 'defer'): ContactPolicy => ({ channels: { email: { caps: [{ max: 1, per: 'day' }], timeZone: 'America/New_York', overCap } } });
    await engine.contactPolicy.set('acc_1', oncePerDay('skip'));
    await engine.contactPolicy.set('acc_2', oncePerDay('defer'));
    await engine.rules.create('acc_1', followUp);
    await engine.rules.create('acc_2', followUp);
    for (const account of ['acc_1', 'acc_2', 'acc_1', 'acc_2', 'acc_1']) await visit(account);

    // One email per account got through; acc_1's two others were skipped, acc_2's other one deferred.
    expect(email.sent).toHaveLength(2);
    expect(await series('crm_contact_skipped_total{')).toEqual(['crm_contact_skipped_total{account_id="acc_1",channel="email",reason="capped"} 2']);
    expect(await series('crm_contact_deferred_total{')).toEqual(['crm_contact_deferred_total{account_id="acc_2",channel="email",reason="capped"} 1']);
  });

  it('counts suppressed skips, and suppression changes by account, channel, action, reason and source', async () => {
    const { engine, visit, series, sms } = setup('2026-01-15T15:00:00Z');
    await engine.rules.create('acc_1', followUp);
    await engine.rules.create('acc_2', followUp);
    await engine.suppressions.add('acc_1', { channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms', detail: 'SM1' });
    // Already suppressed: no change, nothing counted.
    await engine.suppressions.add('acc_1', { channel: 'sms', recipient: PHONE, reason: 'stop', source: 'inbound-sms' });
    await engine.suppressions.add('acc_1', { channel: 'email', recipient: EMAIL, reason: 'unsubscribe', source: 'email-event' });
    await visit('acc_1');
    expect(sms.sent).toHaveLength(0);
    expect(await series('crm_contact_skipped_total{')).toEqual([
      'crm_contact_skipped_total{account_id="acc_1",channel="email",reason="suppressed"} 1',
      'crm_contact_skipped_total{account_id="acc_1",channel="sms",reason="suppressed"} 1',
    ]);
    // Every action skipped: the run is skipped for the same reason.
    expect(await series('crm_triggers_skipped_total{')).toEqual(['crm_triggers_skipped_total{reason="suppressed"} 1']);

    // START lifts the STOP; the next run sends the sms.
    expect(await engine.suppressions.remove('acc_1', 'sms', PHONE, { reason: 'stop', source: 'inbound-sms', detail: 'START' })).toBe(true);
    expect(await engine.suppressions.remove('acc_1', 'sms', PHONE, { source: 'api' })).toBe(false);
    await visit('acc_1');
    expect(sms.sent).toHaveLength(1);

    // The provider says acc_2's recipient opted out (Twilio 21610): added by the engine, the send skipped.
    sms.failNext(new GatewayError('Attempt to send to unsubscribed recipient', { provider: 'twilio', status: 400, providerCode: 21610 }));
    await visit('acc_2');

    expect(await series('crm_suppression_changes_total{')).toEqual([
      'crm_suppression_changes_total{account_id="acc_1",channel="email",action="added",reason="unsubscribe",source="email-event"} 1',
      'crm_suppression_changes_total{account_id="acc_1",channel="sms",action="added",reason="stop",source="inbound-sms"} 1',
      'crm_suppression_changes_total{account_id="acc_1",channel="sms",action="removed",reason="stop",source="inbound-sms"} 1',
      'crm_suppression_changes_total{account_id="acc_2",channel="sms",action="added",reason="provider-opt-out",source="provider-error"} 1',
    ]);
    expect(await series('crm_contact_skipped_total{')).toEqual([
      'crm_contact_skipped_total{account_id="acc_1",channel="email",reason="suppressed"} 2',
      'crm_contact_skipped_total{account_id="acc_1",channel="sms",reason="suppressed"} 1',
      'crm_contact_skipped_total{account_id="acc_2",channel="sms",reason="suppressed"} 1',
    ]);
  });

  it('counts nothing after detach', async () => {
    const { engine, visit, series, instrumentation } = setup('2026-01-15T15:00:00Z');
    await engine.rules.create('acc_1', followUp);
    instrumentation.detach();
    await engine.suppressions.add('acc_1', { channel: 'sms', recipient: PHONE, reason: 'manual', source: 'api' });
    await visit('acc_1');
    expect(await series('crm_suppression_changes_total{')).toEqual([]);
    expect(await series('crm_contact_skipped_total{')).toEqual([]);
  });
});
