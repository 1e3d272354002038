import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import { doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';

function setup() {
  const clock = createManualClock('2026-05-01T12:00:00Z');
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
  return { engine, sms };
}

describe('dry runs', () => {
  it('shows the rendered command and when it would be sent, and sends nothing', async () => {
    const { engine, sms } = setup();
    const rule = await engine.rules.create('acc_1', technicianSmsRule);
    const result = await engine.rules.dryRun('acc_1', rule.id, { payload: doneJobPayload, timestamp: '2026-05-01T11:00:00Z' });
    expect(result).toMatchObject({ valid: true, matched: true, eventMatches: true, enabled: true, evaluateAt: new Date('2026-05-01T11:05:00Z') });
    expect(result?.valid && result.commands).toEqual([
      {
        index: 0,
        type: 'sms',
        command: {
          type: 'sms',
          params: { recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' },
          metadata: { source: 'automation-engine', ruleId: rule.id, triggerId: 'dry-run', accountId: 'acc_1', actionIndex: 0, idempotencyKey: 'dry-run:0' },
        },
      },
    ]);
    expect(sms.calls).toHaveLength(0);
    expect((await engine.triggers.list('acc_1')).items).toHaveLength(0);
  });

  it('tries an unsaved rule and reports the failing condition with the value it saw', async () => {
    const { engine } = setup();
    const result = await engine.rules.dryRun('acc_1', highValueJobRule, { payload: highValueJobPayload(1999, 'Commercial'), name: 'job.updated' });
    expect(result).toMatchObject({ valid: true, matched: false, eventMatches: false, commands: [] });
    expect(result?.valid && result.conditions[0]).toMatchObject({ factPath: '$.total', factResult: 1999, result: false });
  });

  it('reports validation issues of an unsaved rule, and null for a rule of another account', async () => {
    const { engine } = setup();
    expect(await engine.rules.dryRun('acc_1', { ...technicianSmsRule, actions: [] }, { payload: {} })).toMatchObject({
      valid: false,
      issues: [{ path: 'actions', code: 'too_small' }],
    });
    const rule = await engine.rules.create('acc_1', technicianSmsRule);
    expect(await engine.rules.dryRun('acc_2', rule.id, { payload: doneJobPayload })).toBeNull();
  });

  it('reports a render error per action instead of failing the whole run', async () => {
    const { engine } = setup();
    const result = await engine.rules.dryRun('acc_1', { ...technicianSmsRule, conditions: { all: [] } }, { payload: { job: {} } });
    expect(result?.valid && result.commands[0]).toMatchObject({ index: 0, type: 'sms', error: { code: 'CRM_ERR_RENDER' } });
  });
});
