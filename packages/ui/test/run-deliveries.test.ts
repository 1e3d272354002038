import { DELIVERY_STATES as ENGINE_DELIVERY_STATES, GatewayError } from '@crm-automation/core';
import { createRecordingChannel, doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiError, createApiClient, type ApiClient } from '../app/api/client.js';
import { DELIVERY_STATES, type Delivery, type DeliveryState, type Rule, type Trigger } from '../app/api/types.js';
import { canResolve, DELIVERY_STATE_LABELS, deliveryEventText, deliveryMeaning, deliveryTone, resendConfirmation, resolvedText, resolveFailureText } from '../app/model/deliveries.js';
import { rulesApiPerTest } from './rules-api-answers.js';

const openRulesApi = rulesApiPerTest();

/**
 * A rules service whose SMS gateway timed out on the run's first send (the send is `unknown`), and the
 * app's own API client on it, as the run view uses them.
 */
async function runWithUnknownSend(): Promise<{ client: ApiClient; viewer: ApiClient; trigger: Trigger; sms: ReturnType<typeof createRecordingChannel>; engine: Awaited<ReturnType<typeof openRulesApi>>['engine'] }> {
  const sms = createRecordingChannel({ name: 'twilio' });
  const api = await openRulesApi({ channels: { sms } });
  const rule = await api.call<Rule>('POST', '/rules', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
  sms.failNext(new GatewayError('twilio did not answer within 10 s', { retryable: true, ambiguous: true, provider: 'twilio' }));
  await api.call('POST', '/events', { name: 'job.status.changed', payload: doneJobPayload });
  await api.engine.runDue();
  const base = await api.origin();
  const client = createApiClient({ base, apiKey: api.apiKey });
  const viewer = createApiClient({ base, apiKey: api.readOnlyKey });
  const [trigger] = (await client.listTriggers({ ruleId: rule.id })).items;
  if (!trigger) throw new Error('the event started no run');
  return { client, viewer, trigger, sms, engine: api.engine };
}

describe("a run's sends", () => {
  it('come from the ledger with state, provider, recipient, error and timeline, and an unknown one asks for an operator', async () => {
    const { client, trigger } = await runWithUnknownSend();
    expect(trigger.status).toBe('completed');
    const { items } = await client.triggerDeliveries(trigger.id);
    expect(items).toHaveLength(1);
    const [send] = items as [Delivery];
    expect(send).toMatchObject({ triggerId: trigger.id, actionIndex: 0, attempt: 1, type: 'sms', provider: 'twilio', recipient: '+15557654321', state: 'unknown', error: { message: 'twilio did not answer within 10 s' } });
    expect([DELIVERY_STATE_LABELS[send.state], deliveryTone(send.state), canResolve(send)]).toEqual(['Unknown', 'warning', true]);
    expect(deliveryMeaning(send.state)).toContain('It is not sent again on its own.');
    expect(send.events.map(deliveryEventText)).toEqual(['Sending, by the engine', expect.stringMatching(/^Unknown, by the engine/)]);
    // The run's history names the same send.
    expect(trigger.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'unknown', deliveryId: send.id });
    expect(resendConfirmation(send, 'SMS')).toBe('Send this SMS to +15557654321 again? If twilio did take the first one, the recipient gets it twice.');
  });

  it('"Mark as sent" settles it as accepted with who and the note; a second try is told it has an outcome already', async () => {
    const { client, trigger, sms } = await runWithUnknownSend();
    const [send] = (await client.triggerDeliveries(trigger.id)).items;
    const resolved = await client.resolveDelivery(send?.id ?? '', { as: 'sent', note: 'in the Twilio console' });
    expect(resolved.state).toBe('accepted');
    expect(canResolve(resolved)).toBe(false);
    expect(deliveryEventText(resolved.events.at(-1) ?? resolved.events[0] ?? { at: '', state: 'intent', source: 'engine' })).toMatch(/^Accepted, by an operator \(.*in the Twilio console.*\)$/);
    expect(resolvedText('sent')).toBe('Marked as sent.');
    expect(sms.sent).toHaveLength(0);

    const again = await client.resolveDelivery(send?.id ?? '', { as: 'resend' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect(again).toMatchObject({ status: 409, code: 'CRM_ERR_HTTP_DELIVERY_STATE' });
    expect(resolveFailureText(again, 'resend')).toBe('It has an outcome already, so it was not sent again.');
    expect((await client.getDelivery(send?.id ?? '')).state).toBe('accepted');
  });

  it('"Send again" abandons it and runs the trigger again, which sends the action once more', async () => {
    const { client, trigger, sms, engine } = await runWithUnknownSend();
    const [send] = (await client.triggerDeliveries(trigger.id)).items;
    const resolved = await client.resolveDelivery(send?.id ?? '', { as: 'resend' });
    expect([resolved.state, DELIVERY_STATE_LABELS[resolved.state], deliveryTone(resolved.state)]).toEqual(['abandoned', 'Abandoned', 'neutral']);
    expect((await client.getTrigger(trigger.id)).status).toBe('pending');
    await engine.runDue();
    await engine.runDue();
    expect(sms.sent.map((c) => c.metadata.triggerId)).toEqual([trigger.id]);
    const after = (await client.triggerDeliveries(trigger.id)).items;
    expect(after.map((d) => [d.attempt, d.state, DELIVERY_STATE_LABELS[d.state]])).toEqual([
      [1, 'abandoned', 'Abandoned'],
      [2, 'accepted', 'Accepted'],
    ]);
    expect(after.map(canResolve)).toEqual([false, false]);
  });

  it('refuses a user without the triggers:write scope, saying so, and leaves the send unknown', async () => {
    const { viewer, trigger } = await runWithUnknownSend();
    const [send] = (await viewer.triggerDeliveries(trigger.id)).items;
    const refused = await viewer.resolveDelivery(send?.id ?? '', { as: 'sent' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 403 });
    expect(resolveFailureText(refused, 'sent')).toBe('Your API key cannot change runs (it lacks the triggers:write scope).');
    expect((await viewer.getDelivery(send?.id ?? '')).state).toBe('unknown');
  });

  it("a run of another account's trigger, or of none, has no sends to show", async () => {
    const { client } = await runWithUnknownSend();
    const missing = await client.triggerDeliveries('no-such-trigger').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404 });
    expect(resolveFailureText(await client.resolveDelivery('no-such-delivery', { as: 'sent' }).catch((e: unknown) => e), 'sent')).toBe('This send no longer exists (it may have been purged).');
  });
});

describe('delivery states', () => {
  it("are the engine's, each with a word and a tone", () => {
    expect([...DELIVERY_STATES].sort()).toEqual([...ENGINE_DELIVERY_STATES].sort());
    expectTypeOf<Delivery['state']>().toEqualTypeOf<DeliveryState>();
    for (const state of DELIVERY_STATES) {
      expect(DELIVERY_STATE_LABELS[state]).toMatch(/^[A-Z]/);
      expect(['success', 'danger', 'warning', 'neutral', 'progress']).toContain(deliveryTone(state));
      expect(deliveryMeaning(state).length).toBeGreaterThan(10);
    }
  });
});
