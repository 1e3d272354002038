import { describe, expect, it } from 'vitest';
import { asUntrustedRule, createAutomationEngine, createMemoryStore, createRecordingChannel, RuleValidationError, isAutomationError } from '@crm-automation/core';
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';

const engine = createAutomationEngine({
  store: createMemoryStore(),
  channels: { push: { ...createRecordingChannel(), paramsSchema: { safeParse: (v: unknown) => (typeof v === 'object' && v !== null && 'token' in v ? { success: true } : { success: false, error: { issues: [{ path: ['token'], message: 'token is required' }] } }) } } },
  operators: { startsWith: (a, b) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b) },
});

function issuesOf(input: unknown) {
  const result = engine.rules.validate(input);
  if (result.ok) throw new Error('expected the rule to be invalid');
  return result.issues;
}

const withAction = (action: unknown) => ({ ...technicianSmsRule, actions: [action] });
const withConditions = (conditions: unknown) => ({ ...technicianSmsRule, conditions });

describe('rule validation', () => {
  it("accepts both of the design doc's rules", () => {
    expect(engine.rules.validate(technicianSmsRule).ok).toBe(true);
    expect(engine.rules.validate(highValueJobRule).ok).toBe(true);
  });

  it("accepts the design doc's document with its accountId, and fills defaults", () => {
    const result = engine.rules.validate({ ...technicianSmsRule, accountId: 'acc_12345', enabled: undefined, delay: undefined });
    expect(result.ok && result.rule).toMatchObject({ enabled: true, delay: { value: 0, unit: 'minutes' } });
    expect(result.ok && 'accountId' in result.rule).toBe(false);
  });

  it('rejects the Markdown-wrapped webhook URL as printed in the design doc, on that field', () => {
    const printed = structuredClone(highValueJobRule);
    (printed.actions[1]?.params as { url: string }).url = '[https://hooks.crm.com/new-lead](https://hooks.crm.com/new-lead)';
    const issues = issuesOf(printed);
    expect(issues).toEqual([
      { path: 'actions[1].params.url', code: 'invalid_url', message: expect.stringContaining('Markdown link') as string },
    ]);
  });

  it('reports every problem at once, each with a path and a code', () => {
    const issues = issuesOf({
      name: '',
      trigger: { eventName: 'job.created' },
      delay: { value: 400, unit: 'days' },
      conditions: { all: [{ fact: 'job', path: '$.total', operator: 'bigger', value: 1 }, { fact: 'job', operator: 'equal' }] },
      actions: [
        { type: 'fax', params: {} },
        { type: 'sms', params: { recipient: '555-1234', message: 'Hi {{#if}}' } },
        { type: 'email', params: { recipient: 'manager@crm.com', subject: 'Hello' } },
        { type: 'webhook', params: { url: 'ftp://example.com/x' } },
      ],
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.code]));
    expect(byPath).toMatchObject({
      name: 'too_small',
      delay: 'delay_too_long',
      'conditions.all[0].operator': 'unknown_operator',
      'conditions.all[1].value': 'missing_value',
      'actions[0].type': 'unknown_action_type',
      'actions[1].params.recipient': 'invalid_recipient',
      'actions[1].params.message': 'template_syntax',
      'actions[2].params.body': 'missing_body',
      'actions[3].params.url': 'invalid_url',
    });
    expect(issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it.each([
    [{ subject: '' }, ['actions[0].params.subject']],
    [{ subject: ' \t ' }, ['actions[0].params.subject']],
    [{ subject: '', templateId: 'd-1', body: undefined }, []],
    [{ subject: 'Hello {{job.id}}' }, []],
  ])('refuses a blank email subject unless a templateId carries one: %j', (params, paths) => {
    const base: Record<string, unknown> = { recipient: 'manager@crm.com', subject: 'Hello', body: 'Hi' };
    const result = engine.rules.validate(withAction({ type: 'email', params: { ...base, ...params } }));
    const issues = result.ok ? [] : result.issues;
    expect(issues.filter((i) => i.code === 'missing_subject').map((i) => i.path)).toEqual(paths);
  });

  it('throws a RuleValidationError with a stable code from rules.create', async () => {
    const error = await engine.rules.create('acc_1', asUntrustedRule(withAction({ type: 'sms', params: { message: 'x' } }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuleValidationError);
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_RULE_INVALID');
    expect((error as RuleValidationError).issues).toEqual([
      { path: 'actions[0].params.recipient', code: 'required', message: expect.any(String) as string },
    ]);
  });

  it('refuses an accountId that differs from the account the rule is saved to', async () => {
    const error = (await engine.rules.create('acc_1', { ...technicianSmsRule, accountId: 'acc_2' }).catch((e: unknown) => e)) as RuleValidationError;
    expect(error.issues.map((i) => i.path)).toEqual(['accountId']);
  });

  it('accepts every built-in operator, decorators and custom operators; nested all/any/not', () => {
    const ops = ['equal', 'notEqual', 'in', 'notIn', 'contains', 'doesNotContain', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive', 'everyFact:equal', 'not:in', 'startsWith'];
    const result = engine.rules.validate(
      withConditions({ any: [{ all: ops.map((operator) => ({ fact: 'job', path: '$.x', operator, value: 1 })) }, { not: { fact: 'job', operator: 'equal', value: null } }] }),
    );
    expect(result.ok).toBe(true);
    expect(issuesOf(withConditions({ all: [{ fact: 'job', operator: 'bogus:equal', value: 1 }] }))[0]?.code).toBe('unknown_operator');
  });

  it('rejects malformed groups and shared condition references', () => {
    expect(issuesOf(withConditions({ all: [], any: [] }))[0]).toMatchObject({ path: 'conditions', code: 'invalid_group' });
    expect(issuesOf(withConditions({ condition: 'shared' }))[0]).toMatchObject({ code: 'unsupported' });
    expect(issuesOf(withConditions({ all: [{ fact: 'job', path: 'status', operator: 'equal', value: 1 }] }))[0]).toMatchObject({
      path: 'conditions.all[0].path',
      code: 'invalid_path',
    });
    expect(issuesOf(withConditions({ all: [{ fact: 'job', path: '$..[?(@.x)]', operator: 'equal', value: 1 }] }))[0]?.code).toBe('invalid_path');
  });

  it('enforces size limits: depth, number of conditions, bytes, actions', () => {
    let deep: unknown = { fact: 'job', operator: 'equal', value: 1 };
    for (let i = 0; i < 20; i++) deep = { not: deep };
    expect(issuesOf(withConditions(deep))).toEqual([{ path: 'conditions', code: 'too_deep', message: expect.any(String) as string }]);

    const many = { all: Array.from({ length: 101 }, () => ({ fact: 'job', operator: 'equal', value: 1 })) };
    expect(issuesOf(withConditions(many)).map((i) => i.code)).toContain('too_many_conditions');

    expect(issuesOf({ ...technicianSmsRule, description: 'x'.repeat(70_000) })[0]?.code).toBe('too_large');

    const actions = Array.from({ length: 21 }, () => technicianSmsRule.actions[0]);
    expect(issuesOf({ ...technicianSmsRule, actions })[0]).toMatchObject({ path: 'actions', code: 'too_big' });
  });

  it('validates delays: units and the 365-day bound', () => {
    expect(issuesOf({ ...technicianSmsRule, delay: { value: 5, unit: 'weeks' } })[0]?.path).toBe('delay.unit');
    expect(engine.rules.validate({ ...technicianSmsRule, delay: { value: 365, unit: 'days' } }).ok).toBe(true);
    expect(issuesOf({ ...technicianSmsRule, delay: { value: -1, unit: 'minutes' } })[0]?.path).toBe('delay.value');
  });

  it('validates params per action type, including custom gateway schemas', () => {
    expect(engine.rules.validate(withAction({ type: 'push', params: { token: 'abc', text: '{{job.id}}' } })).ok).toBe(true);
    expect(issuesOf(withAction({ type: 'push', params: {} }))).toEqual([{ path: 'actions[0].params.token', code: 'invalid', message: 'token is required' }]);
    expect(engine.rules.validate(withAction({ type: 'email', params: { recipient: 'a@b.co', subject: 'Hi', body: 'text' } })).ok).toBe(true);
    expect(issuesOf(withAction({ type: 'email', params: { recipient: 'a@b.co', subject: 'Hi\r\nBcc: x@y.z', body: 'x' } }))[0]?.code).toBe('header_injection');
    expect(issuesOf(withAction({ type: 'webhook', params: { url: 'https://user:pw@example.com/' } }))[0]?.code).toBe('invalid_url');
    expect(issuesOf(withAction({ type: 'webhook', params: { url: 'https://{{job.host}}/x' } }))[0]?.code).toBe('invalid_url');
    expect(engine.rules.validate(withAction({ type: 'webhook', params: { url: 'https://example.com/jobs/{{job.id}}', method: 'PUT', headers: { 'X-Token': 'abc' } } })).ok).toBe(true);
    expect(issuesOf(withAction({ type: 'webhook', params: { url: 'https://example.com', headers: { Host: 'evil' } } }))[0]?.path).toBe('actions[0].params.headers.Host');
  });

  it('rejects templates that do not compile, partials and unknown helpers', () => {
    const sms = (message: string) => withAction({ type: 'sms', params: { recipient: '+15557654321', message } });
    expect(issuesOf(sms('Hi {{name'))[0]?.code).toBe('template_syntax');
    expect(issuesOf(sms('Hi {{> secret}}'))[0]?.code).toBe('template_syntax');
    expect(issuesOf(sms('Hi {{exec "rm -rf"}}'))[0]?.code).toBe('template_syntax');
    expect(engine.rules.validate(sms('{{#if job.vip}}VIP {{/if}}{{job.name}}')).ok).toBe(true);
  });

  it('rejects unknown keys (typos) instead of ignoring them', () => {
    expect(issuesOf({ ...technicianSmsRule, delays: { value: 1, unit: 'minutes' } })[0]).toMatchObject({ code: 'unrecognized_keys' });
  });
});
