import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, DEFAULT_RULE_LIMITS } from '@crm-automation/core';

const base = { name: 'r', trigger: { eventName: 'e' }, conditions: { all: [{ fact: 'a', operator: 'equal', value: 1 }] } };
const engine = createAutomationEngine({ store: createMemoryStore(), actionTypes: ['sms', 'email', 'webhook'] });

describe('rule limits', () => {
  it.each([
    ['one email body', (n: number) => [{ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: '{{a}}'.repeat(n) } }]],
    ['spread over webhook payload strings', (n: number) => [{ type: 'webhook', params: { url: 'https://example.com/', payload: Array.from({ length: n }, () => '{{a}}') } }]],
    ['spread over actions and headers', (n: number) => Array.from({ length: 10 }, () => ({ type: 'webhook', params: { url: 'https://example.com/', headers: { 'x-a': '{{a}}'.repeat(Math.ceil(n / 10)) } } }))],
  ])('counts template expressions across the whole rule (%s)', (_label, actions) => {
    const limit = DEFAULT_RULE_LIMITS.maxTemplateExpressions;
    const over = engine.rules.validate({ ...base, actions: actions(limit + 10) });
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.issues).toEqual([expect.objectContaining({ path: '', code: 'too_many_expressions' })]);
    expect(engine.rules.validate({ ...base, actions: actions(Math.floor(limit / 2)) }).ok).toBe(true);
  });

  it('takes limits from the engine options, each a positive integer', () => {
    const small = createAutomationEngine({ store: createMemoryStore(), limits: { maxTemplateExpressions: 2 } });
    const result = small.rules.validate({ ...base, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: '{{a}}{{b}}{{c}}' } }] });
    expect(result.ok).toBe(false);
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() => createAutomationEngine({ store: createMemoryStore(), limits: { maxBytes: bad as number } })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    }
  });
});
