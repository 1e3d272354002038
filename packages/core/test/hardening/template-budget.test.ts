import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chargeRenderedValue, RenderBudget, withRenderBudget } from '../../src/rules/templates.js';
import {
  BLOCK_STEPS,
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

  // Loop bodies of `count` copies of one expression, and the steps each copy costs (TEMPLATE_LIMITS.maxLoopSteps).
  const bodies: Array<[string, number]> = [
    ['{{zz}}', 1],
    ['{{@root.job.zz}}', 1],
    ['{{lookup @root.job "zz"}}', 1],
    ['{{lookup (lookup @root "job") "zz"}}', 2],
    ['{{#if zz}}{{/if}}', BLOCK_STEPS],
    ['{{#unless @root.job.name}}{{/unless}}', BLOCK_STEPS],
    ['{{#with @root.job}}{{zz}}{{/with}}', BLOCK_STEPS + 1],
    ['{{#each @root.job.none}}{{zz}}{{/each}}', BLOCK_STEPS],
    ['{{#each @root.job.none}}{{else}}{{zz}}{{/each}}', BLOCK_STEPS + 1],
    ['{{~#if zz~}} {{~else~}} {{~/if~}}', BLOCK_STEPS],
    ['text', 0],
  ];

  it('bounds the work inside loops, not only their iterations: a large body stops after as many iterations as the step budget pays for', () => {
    fc.assert(
      fc.property(fc.constantFrom(...bodies), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 3_000 }), ([expression, cost], count, size) => {
        const source = `{{#each job.items}}${expression.repeat(count)}{{/each}}`;
        fc.pre(source.length <= TEMPLATE_LIMITS.maxLength);
        expect(checkTemplateSource(source)).toBeNull();
        const perIteration = 1 + cost * count;
        const budget = new RenderBudget();
        const outcome = withRenderBudget(budget, () => renderOutcome(source, { job: { items: Array.from({ length: size }, (_, i) => i), none: [], name: 'J' } }));
        const output = expression === 'text' ? size * count * expression.length : 0;
        const fits = size <= TEMPLATE_LIMITS.maxIterations && size * perIteration <= TEMPLATE_LIMITS.maxLoopSteps && output <= TEMPLATE_LIMITS.maxOutputChars;
        expect(outcome.ok).toBe(fits);
        if (!outcome.ok) {
          expect(outcome.code).toBe('CRM_ERR_RENDER');
          // Stopped at the first iteration past a limit, not after running the rest.
          if (output <= TEMPLATE_LIMITS.maxOutputChars) expect(budget.iterations).toBeLessThanOrEqual(Math.min(TEMPLATE_LIMITS.maxIterations, Math.floor(TEMPLATE_LIMITS.maxLoopSteps / perIteration)) + 1);
        }
      }),
      { numRuns: 80 },
    );
  }, 30_000);

  it('stops a loop whose body is a few hundred cheap expressions over a few hundred items (seconds of work before the step budget)', () => {
    for (const body of ['{{#if job.zz}}{{/if}}'.repeat(470), '{{zz}}'.repeat(990), '{{#with @root.job}}{{/with}}'.repeat(300)]) {
      const source = `{{#each job.items}}{{#each @root.job.items}}${body}{{/each}}{{/each}}`;
      expect(checkTemplateSource(source)).toBeNull();
      expect(renderOutcome(source, { job: { items: Array.from({ length: 100 }, (_, i) => i) } })).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
    }
  });

  it('charges nested loops by where each body is: a light loop beside a heavy one is not charged the heavy body', () => {
    const heavy = `{{#each job.none}}${'{{zz}}'.repeat(200)}{{/each}}`;
    const light = '{{#each job.items}}{{this}}{{/each}}';
    const items = Array.from({ length: 5_000 }, (_, i) => i % 10);
    // 5,000 iterations of 2 steps fit; charged 201 steps each they would not.
    expect(renderOutcome(heavy + light, { job: { items, none: [] } })).toEqual({ ok: true, output: items.join('') });
  });

  it('charges the output of nested loops once: what the inner loops produced is part of what the outer one returns', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 600 }), (outer, inner, chars) => {
        const source = '{{#each job.outer}}{{#each @root.job.inner}}{{@root.job.text}}{{/each}}{{/each}}';
        const text = 't'.repeat(chars);
        const outcome = renderOutcome(source, { job: { outer: Array.from({ length: outer }, () => 1), inner: Array.from({ length: inner }, () => 1), text } });
        if (outer * inner * chars <= TEMPLATE_LIMITS.maxOutputChars) expect(outcome).toEqual({ ok: true, output: text.repeat(outer * inner) });
        else expect(outcome).toEqual({ ok: false, code: 'CRM_ERR_RENDER' });
      }),
      { numRuns: 200 },
    );
  });

  it('bounds the output of all templates of one action together, plain references included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 60_000 }), fc.boolean(), (templates, chars, loops) => {
        const source = loops ? '{{#each job.one}}{{@root.job.big}}{{/each}}' : '{{job.big}}';
        const renders = Array.from({ length: templates }, () => compileTemplate(source));
        const context = { job: { big: 'b'.repeat(chars), one: [1] } };
        let outcome: { ok: true } | { ok: false; code: string };
        try {
          withRenderBudget(new RenderBudget(), () => renders.map((render) => render(context)));
          outcome = { ok: true };
        } catch (error) {
          if (!isAutomationError(error)) throw error;
          outcome = { ok: false, code: error.code };
        }
        expect(outcome).toEqual(templates * chars <= TEMPLATE_LIMITS.maxOutputChars ? { ok: true } : { ok: false, code: 'CRM_ERR_RENDER' });
      }),
      { numRuns: 200 },
    );
  });

  it('charges values placed as they are (fact references) to the same output budget, each time they appear', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 50_000 }), (references, chars) => {
        const fact = { big: 'f'.repeat(chars), list: [1, 2, 3] };
        const size = JSON.stringify(fact).length;
        let outcome: 'ok' | string = 'ok';
        try {
          withRenderBudget(new RenderBudget(), () => Array.from({ length: references }, () => chargeRenderedValue(fact)));
        } catch (error) {
          if (!isAutomationError(error)) throw error;
          outcome = error.code;
        }
        // The charge is an estimate of the JSON (within a few characters a value): decided away from the edge.
        if (references * (size + 32) <= TEMPLATE_LIMITS.maxOutputChars) expect(outcome).toBe('ok');
        if (references * (size - 32) > TEMPLATE_LIMITS.maxOutputChars) expect(outcome).toBe('CRM_ERR_RENDER');
      }),
      { numRuns: 200 },
    );
    // Outside an action's render nothing is charged.
    expect(chargeRenderedValue('x'.repeat(TEMPLATE_LIMITS.maxOutputChars * 2))).toHaveLength(TEMPLATE_LIMITS.maxOutputChars * 2);
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

  it('refuses at render time, before parsing, a template nested or chained past the save-time limits (stored without the check)', () => {
    const chain = (links: number) => '{{#if a}}' + '{{else if b}}'.repeat(links) + 'z{{/if}}';
    const nest = (depth: number) => '{{#with a}}'.repeat(depth) + 'z' + '{{/with}}'.repeat(depth);
    for (const [source, over] of [
      [chain(TEMPLATE_LIMITS.maxElseChain), false],
      [chain(TEMPLATE_LIMITS.maxElseChain + 1), true],
      [chain(700), true],
      [nest(TEMPLATE_LIMITS.maxBlockDepth), false],
      [nest(TEMPLATE_LIMITS.maxBlockDepth + 1), true],
    ] as const) {
      expect(renderOutcome(source, { a: { a: 1 }, b: false })).toEqual(over ? { ok: false, code: 'CRM_ERR_RENDER' } : { ok: true, output: expect.any(String) });
    }
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

  it('refuses {{else if}} chains past the limit in every spelling, and accepts them up to it', () => {
    const link = fc.constantFrom('{{else if b}}', '{{~else if b~}}', '{{ else if b }}', '{{else unless c}}', '{{else with d}}', '{{else each e}}', '{{~ else if (lookup a "b")}}');
    const around = fc.constantFrom(['', ''], ['{{#with x}}', '{{/with}}'], ['{{#each y}}{{else}}', '{{/each}}'], ['{{! {{#if}} }}', '']);
    fc.assert(
      fc.property(fc.array(link, { minLength: 1, maxLength: TEMPLATE_LIMITS.maxElseChain + 8 }), around, fc.nat({ max: 3 }), (links, [before, after], siblings) => {
        // Sibling chains each have their own count.
        const chain = `{{#if a}}A${links.join('L')}Z{{/if}}`;
        const source = before + Array.from({ length: siblings + 1 }, () => chain).join(' ') + after;
        const problem = checkTemplateSource(source);
        if (links.length > TEMPLATE_LIMITS.maxElseChain) expect(problem).toMatchObject({ code: 'template_too_deep' });
        else expect(problem).toBeNull();
      }),
      { numRuns: 300 },
    );
    // A plain {{else}} ends a chain; it is not a link.
    expect(checkTemplateSource(`{{#if a}}${'{{#if b}}x{{else}}y{{/if}}'.repeat(60)}{{/if}}`)).toBeNull();
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
  type Action = RuleInput['actions'][number];
  const hostile: Array<[string, Action, Record<string, unknown>]> = [
    ['iterations', { type: 'sms', params: { recipient: '+15557654321', message: nestedEach(4, '{{this}}') } }, { items: Array.from({ length: 1_000 }, (_, i) => i) }],
    ['loop steps', { type: 'email', params: { recipient: 'a@example.com', subject: 's', body: `{{#each job.items}}${'{{#if job.zz}}{{/if}}'.repeat(300)}{{/each}}` } }, { items: Array.from({ length: 1_000 }, (_, i) => i) }],
    ['output of all templates', { type: 'webhook', params: { url: 'https://example.com/hook', payload: Array.from({ length: 50 }, () => '{{job.big}}') } } as Action, { big: 'b'.repeat(20_000) }],
    ['output of payload strings at any depth together', { type: 'webhook', params: { url: 'https://example.com/{{job.id}}', headers: { 'x-a': '{{job.id}}' }, payload: { a: '{{job.big}}', b: ['{{job.big}}', { c: '{{job.big}}' }] } } } as Action, { id: 1, big: 'b'.repeat(90_000) }],
  ];

  it.each(hostile)('fails only its own trigger with CRM_ERR_RENDER (%s); other accounts\' triggers still send', async (_label, action, job) => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email: createRecordingChannel(), webhook: createRecordingChannel() } });
    const rule = (first: Action): RuleInput => ({
      name: 'r',
      trigger: { eventName: 'job.created' },
      conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] },
      actions: [first],
    });
    await engine.rules.create('hostile', rule(action));
    await engine.rules.create('victim', rule({ type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} created' } }));
    await engine.ingest({ name: 'job.created', accountId: 'hostile', payload: { job } });
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
