import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/rules/compiled-rule.js';
import type { Rule } from '../src/rules/rule.js';
import { compileTemplate, compileTemplateRenderer, compileWithHandlebars, RenderBudget, TEMPLATE_LIMITS, withRenderBudget } from '../src/rules/templates.js';

/*
 * Templates of text and plain references render without Handlebars (templates.ts, `renderPlain`).
 * Held here to Handlebars itself, same environment and options: the same output or the same error,
 * on hand-picked edge cases and on generated templates and contexts.
 */

type Outcome = { ok: true; value: string } | { ok: false; code: unknown; message: string };

function outcome(render: () => string): Outcome {
  try {
    return { ok: true, value: render() };
  } catch (error) {
    return { ok: false, code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
}

/** Renders `source` both ways on `context`, in a budget and standalone, and expects the same outcome. */
function expectSame(source: string, context: unknown): Outcome {
  const plain = compileTemplateRenderer(source);
  const reference = compileWithHandlebars(source);
  const ctx = context as Record<string, unknown>;
  const expected = outcome(() => reference(ctx));
  expect(outcome(() => plain.render(ctx)), source).toEqual(expected);
  expect(outcome(() => withRenderBudget(new RenderBudget(), () => plain.render(ctx)))).toEqual(outcome(() => withRenderBudget(new RenderBudget(), () => reference(ctx))));
  return expected;
}

const PLAIN = [
  'Hi {{job.assignedTechnician.name}}, job #{{job.number}} for {{job.client.name}} has been completed.',
  '{{a}}',
  '{{a}}{{b}}',
  '{{a}}{{b}} and {{c}}',
  '{{a}}{{! a comment }}{{b}}',
  '{{a}}{{!-- a {{long}} comment --}}x{{b}}',
  '{{{a}}} and {{&b}}',
  '  {{~a~}}  , {{~ b }} !',
  'line\n  {{! standalone }}\n{{a}}',
  '\\{{a}} is literal, {{b}} is not',
  '{{a.length}} {{s.length}} {{n.toFixed}}',
  '{{a.constructor}} {{a.__proto__}} {{a.toString}} {{a.hasOwnProperty}} {{proto.inherited}}',
  '{{fn}} {{fn.x}} {{obj.fn}}',
  '{{job.missing.deep}} {{nothing}} {{nul.x}}',
  '{{arr}} {{obj}} {{date}} {{t}} {{f}} {{zero}} {{nan}} {{big}}',
  '{{ a }}{{   b   }}',
  '{{$x}} {{_y}} {{a_b.c$}}',
];

/** Contexts that reach every branch: nulls, primitives mid-path, functions, prototypes, odd values. */
function contexts(): unknown[] {
  const proto = { inherited: 'from the prototype' };
  const withProto = Object.assign(Object.create(proto) as Record<string, unknown>, { own: 1 });
  return [
    {
      job: { number: 'J-1', client: { name: 'Ann' }, assignedTechnician: { name: 'Bo', phone: '+1' } },
      a: 1,
      b: 2,
      c: 'three',
      s: 'text',
      n: 5,
      arr: [1, [2, 3], null],
      obj: { x: 1 },
      date: new Date(0),
      t: true,
      f: false,
      zero: 0,
      nan: Number.NaN,
      big: 10n,
      nul: null,
      fn: function (this: { a?: unknown }) {
        return `called on a=${String(this.a)}`;
      },
      proto: withProto,
    },
    { a: 'x', b: 'y', job: { number: 7 } },
    { a: 1.5, b: -1 },
    { a: null, b: undefined },
    { a: [], b: {} },
    { a: { valueOf: () => 40 }, b: 2 },
    { a: { toString: () => 'custom' }, b: { valueOf: () => 'v' } },
    { a: Object.create(null) as unknown, b: 'no prototype before' },
    { a: Symbol('s') },
    { a: 'x'.repeat(TEMPLATE_LIMITS.maxOutputChars), b: 'y' },
    {
      fn: () => {
        throw new Error('the function threw');
      },
    },
    {
      get a(): unknown {
        throw new Error('the getter threw');
      },
    },
    { a: { constructor: 'own constructor' }, obj: { fn: () => 'not called on obj' } },
    withProto,
    Object.create({ a: 'inherited a' }) as unknown,
    [],
    'a string context',
    42,
    null,
    undefined,
  ];
}

describe('plain templates render as Handlebars renders them', () => {
  it('takes the plain path for text and plain references only', () => {
    for (const source of PLAIN) expect(compileTemplateRenderer(source).handlebars, source).toBe(false);
    for (const source of ['{{#if a}}x{{/if}}', '{{#each items}}{{this}}{{/each}}', '{{lookup a "b"}}', '{{this}}', '{{this.a}}', '{{./a}}', '{{../a}}', '{{@root.a}}', '{{a.[b c]}}', '{{a/b}}', '{{items.0}}', '{{a-b}}', '{{if}}', '{{log}}', '{{a b}}', '{{a x=1}}', '{{"literal"}}', '{{1}}', '{{> partial}}', '{{#with a}}{{b}}{{/with}}', '{{a', 'unclosed {{#if a}}']) {
      expect(compileTemplateRenderer(source).handlebars, source).toBe(true);
    }
  });

  it('gives the same output and the same errors on the edge cases', () => {
    const seen = new Set<string>();
    for (const source of PLAIN) {
      for (const context of contexts()) {
        const result = expectSame(source, context);
        seen.add(result.ok ? 'ok' : String(result.code));
      }
    }
    // The cases reach the output limit and the typed runtime errors, not only successful renders.
    expect([...seen].sort()).toEqual(['CRM_ERR_RENDER', 'ok']);
    expect(compileTemplate('{{a}}{{b}}')({ a: 1, b: 2 })).toBe('3');
    expect(compileTemplate('{{a}}-{{b}}')({ a: 1, b: 2 })).toBe('1-2');
  });

  it('gives the same output on generated templates and contexts', () => {
    const segment = fc.constantFrom('a', 'b', 'job', 'name', 'length', 'constructor', '__proto__', 'toString', 'x', 'valueOf');
    const reference = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `{{${parts.join('.')}}}`);
    const text = fc.constantFrom('', ' ', 'Hi ', ', ', '#', '\n', '{{! c }}', '{{~ x ~}}', '  ');
    const template = fc.array(fc.oneof(reference, text), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''));
    const leaf = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('', 'text', null, undefined, true, false, 0.5), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }));
    const value = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.dictionary(segment, tie('node'), { maxKeys: 3 })),
    })).node;
    const context = fc.dictionary(segment, value, { maxKeys: 4 });
    fc.assert(
      fc.property(template, context, (source, ctx) => {
        if (compileTemplateRenderer(source).handlebars) return;
        expectSame(source, ctx);
      }),
      { numRuns: 2_000 },
    );
  });

  it('renders a rule action of plain templates as before: the same params and the same render errors', () => {
    const rule = {
      id: '64a5b8e8f1b2c3d4e5f6a7b1',
      accountId: 'acc',
      version: 1,
      name: 'plain',
      enabled: true,
      trigger: { eventName: 'job.done' },
      conditions: { all: [] },
      actions: [
        { type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.phone' }, message: 'Job {{job.number}}{{job.total}}' } },
        { type: 'sms', params: { recipient: '{{job.phone}}', message: 'x{{job.big}}' } },
        { type: 'sms', params: { recipient: '{{job.phone}}', message: '{{#each job.items}}{{this}}{{/each}}' } },
      ],
      createdAt: new Date(0),
      updatedAt: new Date(0),
    } as unknown as Rule;
    const compiled = compileRule(rule, new Map());
    const payload = { job: { number: 1, total: 2, phone: '+15550001111', big: 'y'.repeat(TEMPLATE_LIMITS.maxOutputChars), items: [1, 2] } };
    expect(compiled.render(0, payload)).toEqual({ type: 'sms', params: { recipient: '+15550001111', message: 'Job 12' } });
    expect(() => compiled.render(1, payload)).toThrow(/actions\[1\] of rule .* could not be rendered: a template rendered 262145 characters; the limit is 262144/);
    expect(compiled.render(2, payload)).toEqual({ type: 'sms', params: { recipient: '+15550001111', message: '12' } });
    expect(() => compiled.render(0, { job: { number: 1 } })).toThrow(/recipient resolved to nothing/);
  });
});
