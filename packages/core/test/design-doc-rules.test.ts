import { describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
} from '@crm-automation/core';
import { doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_12345';
const EVENT_TIME = '2025-07-06T21:42:00.000Z';

function setup() {
  const clock = createManualClock(EVENT_TIME);
  const sms = createRecordingChannel();
  const email = createRecordingChannel();
  const webhook = createRecordingChannel();
  const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms, email, webhook }, clock });
  return { clock, sms, email, webhook, engine };
}

describe("the design doc's rules, end to end", () => {
  it('texts the technician five minutes after the job is Done, not before', async () => {
    const { clock, sms, engine } = setup();
    const rule = await engine.rules.create(ACCOUNT, technicianSmsRule);
    const triggers = await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload, timestamp: EVENT_TIME });

    expect(triggers).toHaveLength(1);
    expect(triggers[0]?.evaluateAt.toISOString()).toBe('2025-07-06T21:47:00.000Z');
    expect(triggers[0]?.status).toBe('pending');

    await clock.advance(5 * 60_000 - 1);
    expect((await engine.runDue()).claimed).toBe(0);
    expect(sms.sent).toHaveLength(0);

    await clock.advance(1);
    const counts = await engine.runDue();
    expect(counts).toMatchObject({ claimed: 1, completed: 1 });
    expect(sms.sent).toHaveLength(1);
    const command = sms.sent[0];
    expect(command?.params).toEqual({ recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' });
    expect(command?.metadata).toEqual({
      source: 'automation-engine',
      ruleId: rule.id,
      triggerId: triggers[0]?.id,
      accountId: ACCOUNT,
      actionIndex: 0,
      idempotencyKey: `${triggers[0]?.id}:0`,
      // The delivery ledger's record of this send (the memory store keeps a ledger).
      deliveryId: expect.any(String) as string,
    });
    const stored = await engine.triggers.get(ACCOUNT, triggers[0]?.id ?? '');
    expect(stored?.status).toBe('completed');
    expect(stored?.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'sent', type: 'sms' });
  });

  it('sends the email and the webhook at once for a high-value commercial job', async () => {
    const { email, webhook, engine } = setup();
    await engine.rules.create(ACCOUNT, highValueJobRule);
    await engine.publish({ name: 'job.created', accountId: ACCOUNT, payload: highValueJobPayload(2500, 'Commercial') });
    const counts = await engine.runDue();

    expect(counts).toMatchObject({ claimed: 1, completed: 1 });
    expect(email.sent.map((c) => c.params)).toEqual([
      {
        recipient: 'manager@CRM.com',
        subject: 'New High-Value Job: #J-9001',
        templateId: 'new-high-value-job-template',
        templateData: highValueJobPayload(2500, 'Commercial'),
      },
    ]);
    expect(webhook.sent.map((c) => c.params)).toEqual([
      {
        url: 'https://hooks.crm.com/new-lead',
        method: 'POST',
        headers: {},
        payload: { source: 'CRM Automation', jobId: 'job_hv_1', clientName: 'Acme Corp', value: '2500' },
      },
    ]);
    expect(webhook.sent[0]?.metadata.actionIndex).toBe(1);
  });

  it.each([
    ['a job of 1999', 1999, 'Commercial', 'conditions.all[0]', 1999],
    ['a residential client', 5000, 'Residential', 'conditions.all[1]', 'Residential'],
  ])('sends nothing for %s and records why', async (_label, total, type, failedPath, seen) => {
    const { email, webhook, engine } = setup();
    await engine.rules.create(ACCOUNT, highValueJobRule);
    const [trigger] = await engine.ingest({ name: 'job.created', accountId: ACCOUNT, payload: highValueJobPayload(total, type) });
    const counts = await engine.runDue();

    expect(counts).toMatchObject({ claimed: 1, skipped: 1, completed: 0 });
    expect(email.calls).toHaveLength(0);
    expect(webhook.calls).toHaveLength(0);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    const entry = stored?.executionHistory.at(-1);
    expect(stored?.status).toBe('skipped');
    expect(entry?.reason).toBe('conditions-not-met');
    const failed = entry?.conditions?.find((c) => c.path === failedPath);
    expect(failed).toMatchObject({ result: false, factResult: seen });
  });

  it('fires on its own once started, without a cron minute', async () => {
    const { clock, sms, engine } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    await engine.start();
    try {
      await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload, timestamp: EVENT_TIME });
      await clock.advance(4 * 60_000 + 59_000);
      expect(sms.sent).toHaveLength(0);
      // The loop sleeps until the due time, so it fires within one second of evaluateAt.
      await clock.advance(1_000);
      expect(sms.sent).toHaveLength(1);
      expect(sms.sent[0]?.params['message']).toBe('Hi Jane Doe, job #J-5541 for John Smith has been completed.');
    } finally {
      await engine.stop();
    }
  });
});
