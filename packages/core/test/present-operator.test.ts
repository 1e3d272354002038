import { describe, expect, it } from 'vitest';
import { createAutomationEngine, CORE_OPERATORS, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';

/** The design doc's SMS rule, saying "the phone is there" with `present` rather than `notEqual: null`. */
const withPresent = {
  ...technicianSmsRule,
  delay: { value: 0, unit: 'minutes' },
  conditions: {
    all: [
      { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
      { fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true },
    ],
  },
} satisfies RuleInput;

const technician = { name: 'Ana', phone: '+15550001111' };

function setup() {
  const clock = createManualClock('2026-03-01T10:00:00Z');
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
  return { sms, engine };
}

async function runWith(rule: RuleInput<'sms'>, job: Record<string, unknown>) {
  const { sms, engine } = setup();
  await engine.rules.create(ACCOUNT, rule);
  const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job } });
  const counts = await engine.runDue();
  const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
  return { counts, stored, sms };
}

describe('missing is not null', () => {
  it('present is one of core\'s operators', () => {
    expect(CORE_OPERATORS).toContain('present');
  });

  it.each([
    ['absent parent', false, { status: 'Done', number: 1, client: { name: 'A' } }],
    ['absent field', false, { status: 'Done', number: 1, client: { name: 'A' }, assignedTechnician: { name: 'Ana' } }],
    ['null field', false, { status: 'Done', number: 1, client: { name: 'A' }, assignedTechnician: { name: 'Ana', phone: null } }],
    ['a value', true, { status: 'Done', number: 1, client: { name: 'A' }, assignedTechnician: technician }],
  ])('present: true with %s: passes = %s', async (_label, passes, job) => {
    const { counts, stored, sms } = await runWith(withPresent, job);
    expect(counts).toMatchObject(passes ? { completed: 1 } : { skipped: 1 });
    expect(sms.sent).toHaveLength(passes ? 1 : 0);
    if (!passes) {
      expect(stored?.executionHistory.at(-1)).toMatchObject({ reason: 'conditions-not-met' });
      expect(stored?.executionHistory.at(-1)?.conditions?.[1]).toMatchObject({ operator: 'present', value: true, result: false });
    }
  });

  it('present: false passes for an absent fact, an absent path and null, and fails for a value', async () => {
    const absent = { ...withPresent, conditions: { all: [{ fact: 'job', path: '$.cancelledAt', operator: 'present', value: false }] }, actions: [{ type: 'sms', params: { recipient: '+15550002222', message: 'x' } }] } satisfies RuleInput;
    expect((await runWith(absent, { status: 'Done' })).counts).toMatchObject({ completed: 1 });
    expect((await runWith(absent, { status: 'Done', cancelledAt: null })).counts).toMatchObject({ completed: 1 });
    expect((await runWith(absent, { status: 'Done', cancelledAt: '2026-03-01' })).counts).toMatchObject({ skipped: 1 });
    const noFact = { ...absent, conditions: { all: [{ fact: 'customer', operator: 'present', value: false }] } } satisfies RuleInput;
    expect((await runWith(noFact, { status: 'Done' })).counts).toMatchObject({ completed: 1 });
  });

  it('notEqual: null still passes for an absent field (why present exists), and the run is skipped, not failed', async () => {
    const { counts, stored, sms } = await runWith({ ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } }, { status: 'Done', number: 1, client: { name: 'A' } });
    expect(counts).toMatchObject({ skipped: 1, failed: 0 });
    expect(stored?.status).toBe('skipped');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'recipient-missing' });
    expect(stored?.executionHistory.at(-1)?.actions).toEqual([
      expect.objectContaining({ index: 0, status: 'not-attempted', error: expect.objectContaining({ code: 'CRM_ERR_RENDER', message: expect.stringContaining('$.assignedTechnician.phone') as string }) as unknown }),
    ]);
    expect(sms.calls).toHaveLength(0);
  });

  it('a missing recipient skips the whole run before anything is sent', async () => {
    const rule = {
      ...technicianSmsRule,
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [] },
      actions: [
        { type: 'sms', params: { recipient: '+15550002222', message: 'office copy' } },
        { type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'hi' } },
      ],
    } satisfies RuleInput;
    const { counts, stored, sms } = await runWith(rule, { status: 'Done', assignedTechnician: { phone: '' } });
    expect(counts).toMatchObject({ skipped: 1 });
    expect(stored?.executionHistory.at(-1)?.actions?.map((a) => [a.status, a.error?.code])).toEqual([['not-attempted', undefined], ['not-attempted', 'CRM_ERR_RENDER']]);
    expect(sms.calls).toHaveLength(0);
  });

  it('dry run reports a missing recipient as a skip', async () => {
    const { engine } = setup();
    const result = await engine.rules.dryRun(ACCOUNT, technicianSmsRule, { payload: { job: { status: 'Done' } } });
    expect(result).toMatchObject({ valid: true, matched: true, skipped: 'recipient-missing' });
  });
});
