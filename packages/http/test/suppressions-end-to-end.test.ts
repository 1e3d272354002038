// The suppression list fed by what providers post, through the real engine (memory store), its
// Twilio and SendGrid gateways against vendor-shaped fakes, and the receipt routes on loopback: a
// STOP reply, a bounce, a spam report, an unsubscribe and Twilio's 21610 each keep the next message
// from being sent.
import { afterEach, describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, type AutomationEngine, type Delivery, type RuleInput, type SuppressionChange } from '@crm-automation/core';
import { suppressionsFromReceipts, type SuppressionWriter } from '@crm-automation/http';
import { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from '../../channels/test/support/fake-twilio.js';
import { ACCOUNT, emailRule, jobDone, smsRule, startDeliveryStack, type DeliveryStack } from './support/delivery-stack.js';
import { postAsTwilio, signAsTwilio } from './support/twilio-signing.js';

/** The number the Twilio gateway sends from, which clients reply to. */
const OUR_NUMBER = '+15550001111';
/** The technician the SMS rule texts. */
const TECHNICIAN = '+15557654321';
const MANAGER = 'manager@crm.example';

/** Compile-time: the engine's suppression list is what the inbound route and the adapter write to. */
const writerOf = (engine: AutomationEngine): SuppressionWriter => engine.suppressions;

describe('the suppression list fed by providers, through the real engine and receipt routes', () => {
  let stack: DeliveryStack;
  let hookFailures: unknown[];
  afterEach(() => stack?.close());

  const start = async () => {
    hookFailures = [];
    stack = await startDeliveryStack({
      twilioInbound: (engine) => ({
        // The engine exists once the routes are served; each call writes to its suppression list.
        suppressions: { add: (...args) => writerOf(engine()).add(...args), remove: (...args) => writerOf(engine()).remove(...args) },
        accountFor: (to, accountSid) => (to === OUR_NUMBER && accountSid === TWILIO_ACCOUNT_SID ? ACCOUNT : undefined),
      }),
      receipts: {
        onSuppression: async (notice) => {
          try {
            await suppressionsFromReceipts(stack.engine.suppressions)(notice);
          } catch (error) {
            hookFailures.push(error);
            throw error;
          }
        },
      },
    });
    return stack;
  };

  /** One run of `rule` for a fresh event: the outcome of its one action, and the send if there was one. */
  const runOnce = async (rule: RuleInput) => {
    const { engine } = stack;
    const saved = await engine.rules.create(ACCOUNT, { ...rule, name: `${rule.name} ${Math.random().toString(36).slice(2, 8)}` });
    const trigger = (await engine.ingest(jobDone())).find((t) => t.ruleId === saved.id);
    await engine.runDue();
    const after = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    const action = after?.executionHistory.at(-1)?.actions?.[0];
    const sends = await engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    await engine.rules.delete(ACCOUNT, saved.id);
    return { status: after?.status, action, send: sends.at(-1) as Delivery | undefined };
  };

  const inbound = (body: string, from = TECHNICIAN) => ({
    AccountSid: TWILIO_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    Body: body,
    From: from,
    MessageSid: `SM${Math.random().toString(16).slice(2).padEnd(32, '0')}`,
    NumMedia: '0',
    To: OUR_NUMBER,
  });
  const changes = async (channel: string): Promise<SuppressionChange[]> => (await stack.engine.suppressions.changes(ACCOUNT, { channel })).items;

  it('STOP from the technician: the next text is skipped (suppressed); START: the one after is sent', async () => {
    await start();
    const url = `${stack.receiptsUrl}/receipts/twilio/inbound`;
    expect((await runOnce(smsRule)).action).toMatchObject({ status: 'sent' });
    expect(stack.twilio.messages).toHaveLength(1);

    const stop = await postAsTwilio(url, TWILIO_AUTH_TOKEN, inbound('Stop'));
    expect(stop.status, stop.body).toBe(200);
    expect(stop.body).toContain('<Response/>');
    expect(await stack.engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN)).toMatchObject({ reason: 'stop', source: 'inbound-sms', by: 'twilio' });

    const held = await runOnce(smsRule);
    expect(held.action).toMatchObject({ status: 'skipped', reason: 'suppressed' });
    expect(held.status).toBe('skipped');
    expect(stack.twilio.messages).toHaveLength(1);

    // A forged START changes nothing: still suppressed.
    const forged = await postAsTwilio(url, TWILIO_AUTH_TOKEN, inbound('START'), signAsTwilio('not-the-auth-token', url, inbound('START')));
    expect(forged.status).toBe(403);
    expect(await stack.engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN)).not.toBeNull();

    expect((await postAsTwilio(url, TWILIO_AUTH_TOKEN, inbound(' start '))).status).toBe(200);
    expect(await stack.engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN)).toBeNull();
    expect((await runOnce(smsRule)).action).toMatchObject({ status: 'sent' });
    expect(stack.twilio.messages).toHaveLength(2);

    expect((await changes('sms')).map((c) => [c.action, c.reason, c.source, c.by])).toEqual([
      ['added', 'stop', 'inbound-sms', 'twilio'],
      ['removed', 'stop', 'inbound-sms', 'twilio'],
    ]);
  });

  it('a text that is no keyword, or to a number of no account, changes nothing', async () => {
    await start();
    const url = `${stack.receiptsUrl}/receipts/twilio/inbound`;
    expect((await postAsTwilio(url, TWILIO_AUTH_TOKEN, inbound('stop by at 5?'))).status).toBe(200);
    expect((await postAsTwilio(url, TWILIO_AUTH_TOKEN, { ...inbound('STOP'), To: '+15550002222' })).status).toBe(200);
    expect(await changes('sms')).toEqual([]);
    expect((await runOnce(smsRule)).action).toMatchObject({ status: 'sent' });
  });

  it("Twilio's 21610 on an undelivered text suppresses the number (provider-opt-out); another undelivered code does not", async () => {
    await start();
    const first = await runOnce(smsRule);
    const unreachable = await stack.twilio.statusCallback(first.send?.providerId ?? '', 'undelivered', { errorCode: '30003' });
    expect(JSON.parse(unreachable.body)).toEqual({ applied: true });
    expect(await stack.engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN)).toBeNull();

    const second = await runOnce(smsRule);
    expect(second.action).toMatchObject({ status: 'sent' });
    const optedOut = await stack.twilio.statusCallback(second.send?.providerId ?? '', 'undelivered', { errorCode: '21610' });
    expect(JSON.parse(optedOut.body)).toEqual({ applied: true });
    const suppression = await stack.engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN);
    expect(suppression).toMatchObject({ reason: 'provider-opt-out', source: 'provider-error', by: 'twilio' });
    expect(suppression?.detail).toContain('21610');
    expect(suppression?.detail).toContain(second.send?.id ?? 'no delivery id');

    expect((await runOnce(smsRule)).action).toMatchObject({ status: 'skipped', reason: 'suppressed' });
    expect(stack.twilio.messages).toHaveLength(2);
    expect(hookFailures).toEqual([]);
  });

  it('SendGrid: a hard bounce → bounce, a spam report → spam-report, unsubscribes → unsubscribe; a blocked bounce → nothing', async () => {
    await start();
    const webhook = `${stack.receiptsUrl}/receipts/sendgrid`;
    const mailOf = (send: Delivery | undefined) => {
      const mail = stack.sendgrid.mails.find((m) => m.custom_args?.['deliveryId'] === send?.id);
      if (!mail) throw new Error('the email did not reach the fake');
      return mail;
    };
    // A blocked bounce is the receiving server's policy, not a dead address.
    const blocked = await runOnce(emailRule);
    expect(blocked.action).toMatchObject({ status: 'sent' });
    expect((await stack.sendgrid.postEvents(webhook, [stack.sendgrid.eventFor(mailOf(blocked.send), 'bounce', { type: 'blocked', reason: 'policy' })])).status).toBe(200);
    expect((await stack.engine.deliveries.get(ACCOUNT, blocked.send?.id ?? ''))?.state).toBe('bounced');
    expect(await changes('email')).toEqual([]);

    const sent = await runOnce(emailRule);
    expect(sent.action).toMatchObject({ status: 'sent' });
    const mail = mailOf(sent.send);
    // Each event for another address of the same send, so each shows its own reason.
    const events = [
      stack.sendgrid.eventFor(mail, 'spamreport', { email: 'Spam@CRM.example' }),
      stack.sendgrid.eventFor(mail, 'unsubscribe', { email: 'unsub@crm.example' }),
      stack.sendgrid.eventFor(mail, 'group_unsubscribe', { email: 'group@crm.example', asm_group_id: 42 }),
      stack.sendgrid.eventFor(mail, 'bounce', { type: 'bounce', reason: '550 5.1.1 no such user' }),
    ];
    const answer = await stack.sendgrid.postEvents(webhook, events);
    expect(answer.status, answer.body).toBe(200);
    const listed = (await stack.engine.suppressions.list(ACCOUNT, { channel: 'email' })).items;
    expect(Object.fromEntries(listed.map((s) => [s.recipient, [s.reason, s.source, s.by]]))).toEqual({
      'spam@crm.example': ['spam-report', 'email-event', 'sendgrid'],
      'unsub@crm.example': ['unsubscribe', 'email-event', 'sendgrid'],
      'group@crm.example': ['unsubscribe', 'email-event', 'sendgrid'],
      [MANAGER]: ['bounce', 'email-event', 'sendgrid'],
    });
    expect(listed.find((s) => s.recipient === MANAGER)?.detail).toContain('550 5.1.1');

    // The bounced address is written to no more; the SMS channel is untouched.
    const next = await runOnce(emailRule);
    expect(next.action).toMatchObject({ status: 'skipped', reason: 'suppressed' });
    expect(stack.sendgrid.mails).toHaveLength(2);
    expect(await changes('sms')).toEqual([]);
    // Posted again, nothing new is recorded (the list is idempotent per recipient).
    await stack.sendgrid.postEvents(webhook, events.slice(0, 3));
    expect(await changes('email')).toHaveLength(4);
    expect(hookFailures).toEqual([]);
  });
});

describe('suppressionsFromReceipts over an engine on the memory store', () => {
  const at = new Date('2026-06-01T12:00:00Z');

  it('writes nothing for a notice without an account or a recipient, and says which', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: {} });
    const unwritable: Array<[string, string]> = [];
    const hook = suppressionsFromReceipts(engine.suppressions, { onUnwritable: (notice, why) => void unwritable.push([notice.reason, why]) });
    await hook({ reason: 'bounce', provider: 'sendgrid', channel: 'email', recipient: MANAGER, at });
    await hook({ reason: 'spamreport', provider: 'sendgrid', channel: 'email', accountId: ACCOUNT, at });
    // Not about consent: neither written nor reported.
    await hook({ reason: 'undelivered', provider: 'twilio', channel: 'sms', recipient: TECHNICIAN, accountId: ACCOUNT, detail: '30006', at });
    expect(unwritable).toEqual([
      ['bounce', 'no-account'],
      ['spamreport', 'no-recipient'],
    ]);
    expect((await engine.suppressions.changes(ACCOUNT)).items).toEqual([]);
    await hook({ reason: 'undelivered', provider: 'twilio', channel: 'sms', recipient: TECHNICIAN, accountId: ACCOUNT, detail: '21610', deliveryId: 'd1', at });
    expect(await engine.suppressions.lookup(ACCOUNT, 'sms', TECHNICIAN)).toMatchObject({ reason: 'provider-opt-out', source: 'provider-error', by: 'twilio', detail: '21610; delivery d1' });
  });

  it('rejects when the list refuses the entry (the receipt routes log it), and needs a list to write to', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: {} });
    const hook = suppressionsFromReceipts(engine.suppressions);
    await expect(hook({ reason: 'bounce', provider: 'sendgrid', channel: 'email', recipient: 'not an address', accountId: ACCOUNT, at })).rejects.toMatchObject({ code: 'CRM_ERR_POLICY_INVALID' });
    expect(() => suppressionsFromReceipts({} as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});
