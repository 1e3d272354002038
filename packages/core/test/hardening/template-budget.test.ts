import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkTemplateSource,
  compileTemplate,
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
  isAutomationError,
  TEMPLATE_LIMITS,
  type RuleInput,
} from '@crm-automation/core';

/** `{{#each path}}` nested `depth` times around `body`, each level iterating the same array. */
function nestedEach(depth: number, body: string, path = 'job.items'): string {
  let open = '';
  let close = '';
  for (let level = 0; level < depth; level++) {
    open += `{{#each ${level === 0 ? '' : '@root.'}${path}}}`;
    close += '{{/each}}';
  }
  return open + body + close;
}

function renderOutcome(source: string, context: Record<string, unknown>): { ok: true; output: string } | { ok: false; code: string } {
  try {
    return { ok: true, output: compileTemplate(source)(context) };
  } catch (error) {
    if (!isAutomationError(error)) throw error;
    return { ok: false, code: error.code };
  }
}

describe('render budget', () => {
  afterEach(() => vi.restoreAllMocks());

  it('renders nested loops exactly when their iterations fit the budget, and refuses them with CRM_ERR_RENDER otherwise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 60 }), fc.constantFrom('x', '{{this}}', '{{@index}},', 'ab{{@root.job.name}}'), (depth, size, body) => {
        const items = Array.from({ length: size }, (_, i) => i);
        const source = nestedEach(depth, body);
        expect(checkTemplateSource(source)).toBeNull();
        // Iterations of d nested loops over n items: n + n^2 + ... + n^d.
        let iterations = 0;
        for (let d = 1; d <= depth; d++) iterations += size ** d;
        const outcome = renderOutcome(source, { job: { items, name: 'J' } });
        if (iterations <= TEMPLATE_LIMITS.maxIterations) {
          expect(outcome.ok).toBe(true);
          if (outcome.ok && body === 'x') expect(outcome.output).toHaveLength(size ** depth);
        } else {
          expect(outcome).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('stops the issue\'s nested each over 50 items, and over 1,000 items, as a render failure', () => {
    const sms = nestedEach(4, '{{this}}');
    for (const size of [50, 1_000]) {
      const items = Array.from({ length: size }, (_, i) => `item-${i}`);
      expect(renderOutcome(sms, { job: { items } })).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
    }
  });

  it('bounds what loops produce, so a loop over a large value cannot amplify it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1_000, max: 200_000 }), (size, chars) => {
        const big = 'y'.repeat(chars);
        const outcome = renderOutcome('{{#each job.items}}{{../job.big}}{{/each}}', { job: { items: Array.from({ length: size }, () => 1), big } });
        if (size * chars <= TEMPLATE_LIMITS.maxOutputChars) expect(outcome).toEqual({ ok: true, output: big.repeat(size) });
        else expect(outcome).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
      }),
      { numRuns: 100 },
    );
  });

  it('bounds the output of one template without loops', () => {
    const source = '{{job.big}}'.repeat(900);
    expect(checkTemplateSource(source)).toBeNull();
    expect(renderOutcome(source, { job: { big: 'z'.repeat(100_000) } })).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
    expect(renderOutcome(source, { job: { big: 'z' } })).toEqual({ ok: true, output: 'z'.repeat(900) });
  });

  it('counts sections over arrays ({{#items}}, saved before they were refused) against the same budget', () => {
    // Save-time refuses sections; rules stored earlier still render under the budget.
    const source = '{{#job.items}}{{#../job.items}}{{#../../job.items}}x{{/../../job.items}}{{/../job.items}}{{/job.items}}';
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(checkTemplateSource(source)?.code).toBe('template_syntax');
    expect(renderOutcome(source, { job: { items } })).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
  });

  it('never writes tenant text to the console: the log helper does not exist', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    for (const source of ['{{log "secret"}}', '{{log job}}', '{{#if job}}{{log "x" level="error"}}{{/if}}']) {
      expect(checkTemplateSource(source)).toMatchObject({ code: 'template_syntax' });
    }
    // Rendering a value called `log` reads the field; it never calls a helper.
    expect(compileTemplate('{{job.log}}')({ job: { log: 'entry' } })).toBe('entry');
    expect(log).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });
});

describe('save-time template checks', () => {
  const refused: Array<[string, string]> = [
    ['{{#if}}x{{/if}}', 'template_syntax'],
    ['{{#unless}}x{{/unless}}', 'template_syntax'],
    ['{{#each}}x{{/each}}', 'template_syntax'],
    ['{{#with}}x{{/with}}', 'template_syntax'],
    ['{{#if a b}}x{{/if}}', 'template_syntax'],
    ['{{#each a b}}x{{/each}}', 'template_syntax'],
    ['{{~#if~}}x{{~/if~}}', 'template_syntax'],
    ['{{#if a}}x{{else if}}y{{/if}}', 'template_syntax'],
    ['{{helperMissing}}', 'template_syntax'],
    ['{{helperMissing "a"}}', 'template_syntax'],
    ['{{blockHelperMissing}}', 'template_syntax'],
    ['{{#blockHelperMissing a}}x{{/blockHelperMissing}}', 'template_syntax'],
    ['{{#helperMissing a}}x{{/helperMissing}}', 'template_syntax'],
    ['{{log}}', 'template_syntax'],
    ['{{#log a}}x{{/log}}', 'template_syntax'],
    ['{{lookup}}', 'template_syntax'],
    ['{{lookup a}}', 'template_syntax'],
    ['{{lookup a "b" "c"}}', 'template_syntax'],
    ['{{if a}}', 'template_syntax'],
    ['{{each a}}', 'template_syntax'],
    ['{{(lookup a "b")}}', 'template_syntax'],
    ['{{#items}}x{{/items}}', 'template_syntax'],
    ['{{^items}}x{{/items}}', 'template_syntax'],
    ['{{#"literal"}}x{{/"literal"}}', 'template_syntax'],
    ['{{> partial}}', 'template_syntax'],
    ['{{#> layout}}x{{/layout}}', 'template_syntax'],
    ['{{#*inline "p"}}x{{/inline}}', 'template_syntax'],
    ['{{*decorator}}', 'template_syntax'],
    ['{{exec "rm -rf /"}}', 'template_syntax'],
    ['{{{{raw}}}}{{x}}{{{{/raw}}}}', 'template_syntax'],
    ['{{lookup (lookup (lookup (lookup (lookup (lookup a "b") "c") "d") "e") "f") "g"}}', 'template_too_deep'],
    ['Hi {{name', 'template_syntax'],
  ];

  it.each(refused)('refuses %s (%s)', (source, code) => {
    expect(checkTemplateSource(source)).toMatchObject({ code });
  });

  const accepted = [
    'plain text',
    'Hi {{job.client.name}}',
    '{{{job.raw}}}',
    '{{#if job.vip}}VIP{{else}}regular{{/if}}',
    '{{#if a}}1{{else if b}}2{{else if c}}3{{else if d}}4{{else if e}}5{{else if f}}6{{else if g}}7{{else}}8{{/if}}',
    '{{#unless job.done}}open{{/unless}}',
    '{{#each job.items}}{{@index}}:{{this.name}} {{/each}}',
    '{{#each job.items as |item i|}}{{i}}={{item}}{{/each}}',
    '{{#with job.client}}{{name}}{{/with}}',
    '{{lookup job "number"}}',
    '{{lookup (lookup job "client") "name"}}',
    '{{#if job.total includeZero=true}}t{{/if}}',
    '{{! a comment with {{#if}} inside is ignored }}ok',
    '{{!-- {{#each}} --}}ok',
    '\\{{escaped}}',
    '{{@root.job.number}}',
  ];

  it.each(accepted)('accepts %s, and it renders', (source) => {
    expect(checkTemplateSource(source)).toBeNull();
    const context = { job: { client: { name: 'C' }, items: [{ name: 'a' }], number: 7, vip: true, total: 0, raw: '<b>' }, a: false, b: true };
    expect(typeof compileTemplate(source)(context)).toBe('string');
  });

  it('refuses block nesting past the limit in every spelling, and accepts it up to the limit', () => {
    const open = ['{{#if a}}', '{{#each a}}', '{{#with a}}', '{{#unless a}}', '{{~#if a~}}', '{{~#each a}}', '{{#if a~}}'];
    const close: Record<string, string> = { if: '{{/if}}', each: '{{/each}}', with: '{{/with}}', unless: '{{/unless}}' };
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...open), { minLength: 1, maxLength: TEMPLATE_LIMITS.maxBlockDepth + 4 }), (opens) => {
        const closes = opens
          .map((o) => close[/#(\w+)/.exec(o)?.[1] ?? 'if'] ?? '{{/if}}')
          .reverse()
          .join('');
        const problem = checkTemplateSource(opens.join('') + 'x' + closes);
        if (opens.length > TEMPLATE_LIMITS.maxBlockDepth) expect(problem).toMatchObject({ code: 'template_too_deep' });
        else expect(problem).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('refuses hundreds of nested blocks before parsing them', () => {
    const source = '{{#if a}}'.repeat(600) + 'x' + '{{/if}}'.repeat(600);
    expect(source.length).toBeLessThanOrEqual(TEMPLATE_LIMITS.maxLength);
    expect(checkTemplateSource(source)).toMatchObject({ code: 'template_too_deep' });
  });

  it('refuses anything longer than the limit', () => {
    expect(checkTemplateSource('x'.repeat(TEMPLATE_LIMITS.maxLength + 1))).toMatchObject({ code: 'too_large' });
  });
});

describe('a template over budget in a running engine', () => {
  it('fails only its own trigger with CRM_ERR_RENDER; other accounts\' triggers still send', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
    const rule = (message: string): RuleInput => ({
      name: 'r',
      trigger: { eventName: 'job.created' },
      conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message } }],
    });
    await engine.rules.create('hostile', rule(nestedEach(4, '{{this}}')));
    await engine.rules.create('victim', rule('Job {{job.number}} created'));
    const items = Array.from({ length: 1_000 }, (_, i) => i);
    await engine.ingest({ name: 'job.created', accountId: 'hostile', payload: { job: { items } } });
    await engine.ingest({ name: 'job.created', accountId: 'victim', payload: { job: { number: 'J-1' } } });
    const counts = await engine.runDue();
    expect(counts).toMatchObject({ claimed: 2, completed: 1, failed: 1 });
    expect(sms.sent.map((c) => c.params['message'])).toEqual(['Job J-1 created']);
    const [failed] = (await engine.triggers.list('hostile')).items;
    const entry = failed?.executionHistory.at(-1);
    expect(entry?.outcome).toBe('failed');
    expect(entry?.actions?.[0]?.error).toMatchObject({ code: 'CRM_ERR_RENDER', retryable: false });
  });
});
