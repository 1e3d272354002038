import { describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  createManualClock,
  createMemoryRuleStore,
  createMemoryTriggerStore,
  createRecordingChannel,
  type RuleSource,
  type RuleInput,
} from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const immediate = { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } } satisfies RuleInput;
const event = { name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload };

describe('rule store and trigger store apart', () => {
  it('runs a rules service on a rule store alone and a trigger service on a trigger store and a rule source', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const rules = createMemoryRuleStore();
    const triggers = createMemoryTriggerStore();
    const rulesService = createAutomationEngine({ ruleStore: rules, clock, actionTypes: ['sms', 'email', 'webhook'] });
    const rule = await rulesService.rules.create('acc_1', immediate);
    expect(rulesService.ruleStore).toBe(rules);
    expect(rulesService.triggerStore).toBeUndefined();

    // The trigger service sees rules only through its source (here the rule store's RuleSource face,
    // in the three-service example a Rules Service client).
    const source: RuleSource = { findRulesForEvent: (a, e) => rules.findRulesForEvent(a, e), getRule: (a, id) => rules.getRule(a, id) };
    const sms = createRecordingChannel();
    const triggerService = createAutomationEngine({ triggerStore: triggers, ruleSource: source, clock, channels: { sms } });
    const [trigger] = await triggerService.ingest(event);
    expect(trigger?.ruleId).toBe(rule.id);
    expect(await triggerService.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(rules.size).toBe(1);
    expect(triggers.size).toBe(1);
  });

  it('answers each missing half with CRM_ERR_CONFIG, not a TypeError', async () => {
    const rulesOnly = createAutomationEngine({ ruleStore: createMemoryRuleStore() });
    await expect(rulesOnly.ingest(event)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('no trigger store') as string });
    await expect(rulesOnly.triggers.list('acc_1')).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    await expect(rulesOnly.runDue()).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    await expect(rulesOnly.start()).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect(rulesOnly.rules.validate(immediate).ok).toBe(true);

    const source: RuleSource = { findRulesForEvent: async () => [], getRule: async () => null };
    const triggersOnly = createAutomationEngine({ triggerStore: createMemoryTriggerStore(), ruleSource: source });
    await expect(triggersOnly.rules.create('acc_1', immediate)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('no rule store') as string });
    await expect(triggersOnly.rules.list('acc_1')).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect(await triggersOnly.ingest(event)).toEqual([]);

    expect(() => createAutomationEngine({ triggerStore: createMemoryTriggerStore() })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('ruleSource') as string }));
  });
});
