import fc from 'fast-check';
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

  it('counts the characters inside template expressions across the whole rule, comments not counted', () => {
    const limit = DEFAULT_RULE_LIMITS.maxTemplateExpressionChars;
    // One expression of `inner` characters between its braces, in each spelling Handlebars reads.
    const spell = fc.constantFrom(
      (inner: number) => `{{${'a.'.repeat((inner - 1) / 2)}b}}`,
      (inner: number) => `{{{${'a.'.repeat((inner - 3) / 2)}b}}}`,
      (inner: number) => `{{~${'a.'.repeat((inner - 3) / 2)}b~}}`,
    );
    const place = fc.constantFrom(
      (templates: string[]) => [{ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: templates.join(' ') } }],
      (templates: string[]) => [{ type: 'webhook', params: { url: 'https://example.com/', payload: templates } }],
      (templates: string[]) => templates.map((t) => ({ type: 'webhook', params: { url: 'https://example.com/', headers: { 'x-a': t } } })),
    );
    fc.assert(
      fc.property(spell, place, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 1_200 }), (expression, actions, count, half) => {
        const inner = 2 * half + 3; // odd, so every spelling fills it exactly
        const templates = Array.from({ length: count }, () => expression(inner));
        const chars = count * inner;
        const doc = { ...base, actions: actions(templates) };
        fc.pre(count <= DEFAULT_RULE_LIMITS.maxActions && JSON.stringify(doc).length <= DEFAULT_RULE_LIMITS.maxBytes);
        const result = engine.rules.validate(doc);
        if (chars > limit) {
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.issues).toEqual([expect.objectContaining({ path: '', code: 'templates_too_large' })]);
        } else {
          expect(result.ok).toBe(true);
        }
      }),
      { numRuns: 120 },
    );
    // Comments cost the parser one token: a long one does not count.
    const commented = `{{!-- ${'{{a.b.c.d.e.f.g.h.i.j}} '.repeat(900)} --}}{{! ${'x'.repeat(limit)} }}{{a}}`;
    expect(engine.rules.validate({ ...base, actions: [{ type: 'email', params: { recipient: 'a@example.com', subject: 's', html: commented } }] }).ok).toBe(true);
  }, 30_000);

  it('takes limits from the engine options, each a positive integer', () => {
    const small = createAutomationEngine({ store: createMemoryStore(), limits: { maxTemplateExpressions: 2 } });
    const result = small.rules.validate({ ...base, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: '{{a}}{{b}}{{c}}' } }] });
    expect(result.ok).toBe(false);
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() => createAutomationEngine({ store: createMemoryStore(), limits: { maxBytes: bad as number } })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    }
  });
});
