import { describe, expect, it } from 'vitest';
import { AutomationError, createAutomationEngine, RuleValidationError, type RuleInput, type TriggerStore } from '@crm-automation/core';
import { createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';

const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() }, facts: { job: async () => ({}) } });

const keyed = { ...technicianSmsRule, trigger: { eventName: 'job.status.changed', key: '$.job.id' } } satisfies RuleInput;

function issuesOf(input: unknown) {
  const result = engine.rules.validate(input);
  if (result.ok) throw new Error('expected the rule to be invalid');
  return result.issues.map((i) => ({ path: i.path, code: i.code }));
}

describe('entity-aware rule validation', () => {
  it('accepts a keyed rule with cancelOn, supersede with maxWait and evaluate current, and keeps the fields', () => {
    const input = {
      ...keyed,
      cancelOn: [{ eventName: 'job.status.changed', conditions: { all: [{ fact: 'job', path: '$.status', operator: 'notEqual', value: 'Done' }] } }, { eventName: 'job.deleted', key: '$.id' }],
      concurrency: { mode: 'supersede', maxWait: { value: 10, unit: 'minutes' } },
      evaluate: { job: 'current' },
    } satisfies RuleInput;
    const result = engine.rules.validate(input);
    expect(result.ok).toBe(true);
    expect(result.ok && result.rule).toMatchObject({ trigger: input.trigger, cancelOn: input.cancelOn, concurrency: input.concurrency, evaluate: input.evaluate });
  });

  it('a rule without the new fields validates to exactly what it did before', () => {
    const result = engine.rules.validate(technicianSmsRule);
    expect(result.ok && Object.keys(result.rule).sort()).toEqual(['actions', 'conditions', 'delay', 'description', 'enabled', 'name', 'trigger']);
  });

  it.each([
    ['a wildcard', '$.jobs[*].id'],
    ['recursive descent', '$..id'],
    ['a union', "$['a','b']"],
    ['a slice', '$.jobs[0:2]'],
    ['the whole payload', '$'],
    ['no $', 'job.id'],
    ['a filter', '$.jobs[?(@.id)]'],
  ])('refuses a trigger.key with %s, at trigger.key', (_label, key) => {
    expect(issuesOf({ ...keyed, trigger: { eventName: 'job.status.changed', key } })).toEqual([{ path: 'trigger.key', code: 'invalid_path' }]);
  });

  it('refuses cancelOn and a non-all concurrency without trigger.key, at trigger.key (once)', () => {
    expect(issuesOf({ ...technicianSmsRule, cancelOn: [{ eventName: 'job.deleted' }] })).toEqual([{ path: 'trigger.key', code: 'key_required' }]);
    expect(issuesOf({ ...technicianSmsRule, concurrency: { mode: 'skipIfPending' } })).toEqual([{ path: 'trigger.key', code: 'key_required' }]);
    expect(issuesOf({ ...technicianSmsRule, cancelOn: [{ eventName: 'job.deleted' }], concurrency: { mode: 'supersede' } })).toEqual([{ path: 'trigger.key', code: 'key_required' }]);
    // `all` is today's behaviour and needs no key.
    expect(engine.rules.validate({ ...technicianSmsRule, concurrency: { mode: 'all' } }).ok).toBe(true);
  });

  it('refuses maxWait shorter than the delay, and maxWait outside supersede, at concurrency.maxWait', () => {
    expect(issuesOf({ ...keyed, concurrency: { mode: 'supersede', maxWait: { value: 4, unit: 'minutes' } } })).toEqual([{ path: 'concurrency.maxWait', code: 'max_wait_too_short' }]);
    expect(engine.rules.validate({ ...keyed, concurrency: { mode: 'supersede', maxWait: { value: 300, unit: 'seconds' } } }).ok).toBe(true);
    expect(issuesOf({ ...keyed, concurrency: { mode: 'skipIfPending', maxWait: { value: 1, unit: 'hours' } } })).toEqual([{ path: 'concurrency.maxWait', code: 'max_wait_needs_supersede' }]);
    expect(issuesOf({ ...keyed, concurrency: { mode: 'debounce' } })).toEqual([{ path: 'concurrency.mode', code: 'invalid_value' }]);
  });

  it('refuses more than 10 cancelOn entries, and checks their event names, keys and conditions like the rule\'s', () => {
    const many = Array.from({ length: 11 }, () => ({ eventName: 'job.deleted' }));
    expect(issuesOf({ ...keyed, cancelOn: many })).toEqual([{ path: 'cancelOn', code: 'too_big' }]);
    expect(issuesOf({
      ...keyed,
      cancelOn: [
        { eventName: 'job deleted!' },
        { eventName: 'job.deleted', key: '$..id' },
        { eventName: 'job.deleted', conditions: { all: [{ fact: 'job', operator: 'bigger', value: 1 }] } },
        { eventName: 'job.deleted', unknown: true },
      ],
    })).toEqual([
      { path: 'cancelOn[0].eventName', code: 'invalid_format' },
      { path: 'cancelOn[1].key', code: 'invalid_path' },
      { path: 'cancelOn[2].conditions.all[0].operator', code: 'unknown_operator' },
      { path: 'cancelOn[3]', code: 'unrecognized_keys' },
    ]);
  });

  it('cancelOn conditions spend the rule\'s depth and condition budgets', () => {
    const small = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() }, limits: { maxConditions: 3, maxDepth: 2 } });
    const leaf = { fact: 'job', path: '$.status', operator: 'equal', value: 'Open' };
    const refused = small.rules.validate({ ...keyed, cancelOn: [{ eventName: 'job.deleted', conditions: { all: [leaf, leaf] } }] });
    expect(!refused.ok && refused.issues.map((i) => [i.path, i.code])).toEqual([['cancelOn', 'too_many_conditions']]);
    const deep = small.rules.validate({ ...keyed, cancelOn: [{ eventName: 'job.deleted', conditions: { all: [{ all: [{ all: [leaf] }] }] } }] });
    expect(!deep.ok && deep.issues.map((i) => [i.path, i.code])).toEqual([['cancelOn[0].conditions', 'too_deep']]);
  });

  it('refuses an evaluate that is not event, current or a per-fact map', () => {
    expect(issuesOf({ ...keyed, evaluate: 'now' })).toEqual([{ path: 'evaluate', code: 'invalid_union' }]);
    expect(issuesOf({ ...keyed, evaluate: { job: 'later' } })).toEqual([{ path: 'evaluate', code: 'invalid_union' }]);
  });

  it('refuses a fact evaluated current without a loader, naming the fact, at create and update', async () => {
    const noCustomer = { ...keyed, evaluate: { job: 'current', customer: 'current' } } satisfies RuleInput;
    const error = await engine.rules.create(ACCOUNT, noCustomer).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuleValidationError);
    expect((error as RuleValidationError).code).toBe('CRM_ERR_RULE_INVALID');
    expect((error as RuleValidationError).issues).toEqual([{ path: 'evaluate.customer', code: 'no_fact_loader', message: expect.stringContaining('"customer"') as string }]);

    const saved = await engine.rules.create(ACCOUNT, { ...keyed, evaluate: 'current' });
    const bare = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() } });
    // `'current'` marks every fact the rule names: here `job`, in its conditions and recipient.
    const all = await bare.rules.create(ACCOUNT, { ...keyed, evaluate: 'current' }).catch((e: unknown) => e);
    expect((all as RuleValidationError).issues).toEqual([{ path: 'evaluate', code: 'no_fact_loader', message: expect.stringContaining('"job"') as string }]);
    const updated = await engine.rules.update(ACCOUNT, saved.id, noCustomer).catch((e: unknown) => e);
    expect((updated as RuleValidationError).issues?.[0]?.path).toBe('evaluate.customer');
    // Marking facts as evaluated on the event needs no loader.
    expect(bare.rules.validate({ ...keyed, evaluate: { job: 'event' } }).ok).toBe(true);
  });

  it('a rules-only engine (no trigger store, so no loaders of its own) does not check evaluate against loaders', () => {
    const rulesService = createAutomationEngine({ ruleStore: createMemoryRuleStore() });
    expect(rulesService.rules.validate({ ...keyed, evaluate: 'current' }).ok).toBe(true);
  });

  it('refuses a cancelOn rule with CRM_ERR_CONFIG when the trigger store cannot cancel', async () => {
    const full = createMemoryTriggerStore();
    const { cancelTriggers: _cannot, ...rest } = full;
    const noCancel: TriggerStore = rest;
    const limited = createAutomationEngine({ ruleStore: createMemoryRuleStore(), triggerStore: noCancel, channels: { sms: createRecordingChannel() } });
    const error = await limited.rules.create(ACCOUNT, { ...keyed, cancelOn: [{ eventName: 'job.deleted' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AutomationError);
    expect((error as AutomationError).code).toBe('CRM_ERR_CONFIG');
    await expect(limited.rules.create(ACCOUNT, keyed)).resolves.toMatchObject({ trigger: keyed.trigger });
  });

  it('refuses a facts loader that is not a function, at creation', () => {
    const create = (facts: unknown) => () => createAutomationEngine({ store: createMemoryStore(), facts: facts as never });
    expect(create({ job: 'https://crm/jobs' })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('facts.job') as string }) as Error);
    expect(create([])).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }) as Error);
    expect(create({ job: async () => null })).not.toThrow();
    expect(() => createAutomationEngine({ store: createMemoryStore(), factTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }) as Error);
  });

  it('the present operator is built in, and takes a boolean value', () => {
    expect(engine.rules.validate({ ...technicianSmsRule, conditions: { all: [{ fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true }] } }).ok).toBe(true);
    expect(engine.rules.validate({ ...technicianSmsRule, conditions: { all: [{ fact: 'job', path: '$.x', operator: 'not:present', value: false }] } }).ok).toBe(true);
    expect(issuesOf({ ...technicianSmsRule, conditions: { all: [{ fact: 'job', path: '$.x', operator: 'present', value: 'yes' }] } })).toEqual([{ path: 'conditions.all[0].value', code: 'invalid_value' }]);
  });

  it('the JSON Schema describes the new fields', () => {
    const schema = engine.rules.jsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['cancelOn', 'concurrency', 'evaluate']));
    expect(schema.properties['trigger']?.properties).toHaveProperty('key');
  });
});
