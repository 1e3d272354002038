/**
 * Cost of hostile and worst-case tenant input, against a benign baseline in the same run: how long one
 * validation, render, path evaluation or refusal blocks the event loop. Every figure is a median of
 * repeated runs. Run: npm run bench:hostile -w @crm-automation/bench
 */
import { cpus } from 'node:os';
import {
  compileTemplate,
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  DEFAULT_RULE_LIMITS,
  isAutomationError,
  resolvePath,
  TEMPLATE_LIMITS,
  BLOCK_STEPS,
  asUntrustedRule,
  type ChannelGateway,
} from '@crm-automation/core';
import { fmt, machine, median } from './stats.js';

const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 25);
const noop: ChannelGateway = { send: async () => undefined };
const engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms: noop, email: noop, webhook: noop } });

function time(fn: () => unknown): number {
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    try {
      fn();
    } catch (error) {
      if (!isAutomationError(error)) throw error;
    }
    samples.push(performance.now() - start);
  }
  return median(samples);
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    await fn().catch((error: unknown) => {
      if (!isAutomationError(error)) throw error;
    });
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const designDocRule = {
  name: 'Notify technician',
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 5, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }, { fact: 'job', path: '$.assignedTechnician.phone', operator: 'notEqual', value: null }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} is complete.' } }],
};

/** A template at the nesting limit, full of blocks and lookups, about `chars` long. */
const UNIT =
  '{{#each job.items}}{{#if this}}{{#with @root.job}}{{#unless done}}{{#each items}}{{#if this}}' +
  '{{lookup (lookup @root "job") "number"}}{{this}}{{@index}}' +
  '{{/if}}{{/each}}{{/unless}}{{/with}}{{/if}}{{/each}}';

function heavyTemplate(chars: number, seed = 0): string {
  const unit = UNIT;
  // A unique prefix, so no two templates (and no two runs) share the check cache.
  return `${seed}:${Math.random()}`.slice(0, 12) + unit.repeat(Math.max(1, Math.floor((chars - 12) / unit.length)));
}

/**
 * The costliest rule the default limits accept: 100 conditions, then every template expression the
 * rule may have (`maxTemplateExpressions`), as nested blocks and subexpressions at the depth limits,
 * padded with text up to the byte limit.
 */
function worstAcceptedRule(seed = 0) {
  const conditions = Array.from({ length: DEFAULT_RULE_LIMITS.maxConditions }, (_, i) => ({ fact: 'job', path: i % 2 ? '$..*' : `$.items[*].v${i}`, operator: 'notEqual', value: null }));
  // 15 expressions per unit: 5 SMS of 7 units and 5 payload strings of 6 units = 975 of the 1,000
  // allowed (the URL has one more); the payload strings are padded with text towards the byte limit.
  const actions = Array.from({ length: 5 }, (_, i) => ({ type: 'sms', params: { recipient: '+15557654321', message: heavyTemplate(7 * UNIT.length + 12, seed * 100 + i) } }));
  const payload = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k, i) => [k, heavyTemplate(6 * UNIT.length + 12, seed * 100 + 5 + i) + 'x'.repeat(7_500)]));
  const rule = { ...designDocRule, conditions: { any: conditions }, actions: [...actions, { type: 'webhook', params: { url: 'https://example.com/{{job.id}}', payload } }] };
  const bytes = Buffer.byteLength(JSON.stringify(rule));
  if (bytes > DEFAULT_RULE_LIMITS.maxBytes) throw new Error(`worst rule is ${bytes} bytes, over the limit`);
  return { rule, bytes };
}

/**
 * The costliest rule for the parser within `maxTemplateExpressionChars`: the allowed characters as
 * one-character path segments (`{{a.a.a...}}`, a token per character), spread over four emails.
 */
function longestPathsRule(seed = 0) {
  const per = Math.floor(DEFAULT_RULE_LIMITS.maxTemplateExpressionChars / 4) - 8;
  const body = (i: number) => `{{s${seed}x${i}.${'a.'.repeat(Math.floor((per - 8) / 2))}b}}`;
  return { ...designDocRule, actions: [0, 1, 2, 3].map((i) => ({ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: body(i) } })) };
}

/** As many `{{else if}}` chains at the link limit as the expression limit allows. */
function chainsRule(seed = 0) {
  const chain = (i: number) => `{{#if s${seed}x${i}}}` + '{{else if b}}'.repeat(TEMPLATE_LIMITS.maxElseChain) + 'z{{/if}}';
  const chains = Math.floor(DEFAULT_RULE_LIMITS.maxTemplateExpressions / (TEMPLATE_LIMITS.maxElseChain + 2)) - 1;
  return { ...designDocRule, actions: [{ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: Array.from({ length: chains }, (_, i) => chain(i)).join('') } }] };
}

function nestedEach(depth: number): string {
  let s = '';
  for (let i = 0; i < depth; i++) s += `{{#each ${i ? '@root.' : ''}job.items}}`;
  return s + '{{this}}' + '{{/each}}'.repeat(depth);
}

function deep(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 0; i < levels; i++) node = (node['n'] = { v: i }) as Record<string, unknown>;
  return root;
}

async function main() {
  console.log(`hostile-input bench: ${machine()}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}; median of ${REPEAT}`);
  const rows: Array<[string, number, string]> = [];
  const worst = worstAcceptedRule();
  const checked = engine.rules.validate(worst.rule);
  if (!checked.ok) throw new Error(`worst rule refused: ${JSON.stringify(checked.issues.slice(0, 2))}`);
  const fresh = Array.from({ length: REPEAT }, (_, i) => worstAcceptedRule(i + 1).rule);
  let next = 0;

  const baseline = time(() => engine.rules.validate(designDocRule));
  rows.push(['validate: design-doc rule (baseline)', baseline, 'accepted']);
  const label = `largest accepted rule (${fmt(worst.bytes)} B of templates and conditions, blocks at depth ${TEMPLATE_LIMITS.maxBlockDepth})`;
  rows.push([`validate: ${label}, first time`, time(() => engine.rules.validate(fresh[next++ % fresh.length])), 'accepted']);
  rows.push([`validate: ${label}, again (templates cached)`, time(() => engine.rules.validate(worst.rule)), 'accepted']);
  const deepBlocks = { ...designDocRule, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: '{{#if a}}'.repeat(600) + 'x' + '{{/if}}'.repeat(600) } }] };
  rows.push(['validate: 600 nested {{#if}} blocks (9.6 KB)', time(() => engine.rules.validate(deepBlocks)), 'refused: template_too_deep']);
  const paths = Array.from({ length: REPEAT + 1 }, (_, i) => longestPathsRule(i));
  if (!engine.rules.validate(paths[REPEAT]).ok) throw new Error('longest-paths rule refused');
  rows.push([`validate: ${fmt(DEFAULT_RULE_LIMITS.maxTemplateExpressionChars)} characters of one-character path segments, first time`, time(() => engine.rules.validate(paths[next++ % REPEAT])), 'accepted']);
  const chains = Array.from({ length: REPEAT + 1 }, (_, i) => chainsRule(i));
  if (!engine.rules.validate(chains[REPEAT]).ok) throw new Error('chains rule refused');
  rows.push([`validate: {{else if}} chains of ${TEMPLATE_LIMITS.maxElseChain} links up to the expression limit, first time`, time(() => engine.rules.validate(chains[next++ % REPEAT])), 'accepted']);
  const longChain = { ...designDocRule, actions: [{ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: '{{#if a}}' + '{{else if b}}'.repeat(700) + 'z{{/if}}' } }] };
  rows.push(['validate: one {{else if}} chain of 700 links (9 KB; was 0.3 s)', time(() => engine.rules.validate(longChain)), 'refused: template_too_deep']);
  const deepValue = { ...designDocRule, conditions: { all: [{ fact: 'job', operator: 'equal', value: JSON.parse('['.repeat(2_500) + ']'.repeat(2_500)) as unknown }] } };
  rows.push(['validate: condition value 2,500 levels deep', time(() => engine.rules.validate(deepValue)), 'refused: too_deep']);

  const items50 = { job: { items: Array.from({ length: 50 }, (_, i) => i) } };
  const items1000 = { job: { items: Array.from({ length: 1_000 }, (_, i) => i) } };
  const benign = compileTemplate('Hi {{job.assignedTechnician.name}}, job #{{job.number}} is complete.');
  rows.push(['render: design-doc SMS (baseline)', time(() => benign({ job: { number: 'J-1', assignedTechnician: { name: 'Jane' } } })), 'rendered']);
  const nested = compileTemplate(nestedEach(4));
  rows.push(['render: 4 nested {{#each}} over 50 items', time(() => nested(items50)), 'CRM_ERR_RENDER']);
  rows.push(['render: 4 nested {{#each}} over 1,000 items', time(() => nested(items1000)), 'CRM_ERR_RENDER']);
  const amplify = compileTemplate('{{#each job.items}}{{@root.job.big}}{{/each}}');
  rows.push(['render: {{#each}} of a 200 KB value over 1,000 items', time(() => amplify({ job: { ...items1000.job, big: 'x'.repeat(200_000) } })), 'CRM_ERR_RENDER']);

  const items100 = { job: { items: Array.from({ length: 100 }, (_, i) => i) } };
  const heavyBody = compileTemplate(`{{#each job.items}}{{#each @root.job.items}}${'{{#if job.zz}}{{/if}}'.repeat(470)}{{/each}}{{/each}}`);
  rows.push(['render: 470 {{#if}} per iteration of 2 nested {{#each}} over 100 items (was 12 s)', time(() => heavyBody(items100)), 'CRM_ERR_RENDER (step budget)']);
  const fitsSteps = Math.floor(TEMPLATE_LIMITS.maxLoopSteps / (1 + 100 * BLOCK_STEPS));
  const eachBody = compileTemplate(`{{#each job.items}}${'{{#each @root.job.none}}{{/each}}'.repeat(100)}{{/each}}`);
  rows.push([`render: 100 empty {{#each}} per iteration over ${fitsSteps} items (the most the step budget accepts)`, time(() => eachBody({ job: { items: Array.from({ length: fitsSteps }, (_, i) => i), none: [] } })), 'rendered']);
  const manyStrings = { ...designDocRule, actions: [{ type: 'webhook', params: { url: 'https://example.com/x', payload: Array.from({ length: 990 }, () => '{{job.big}}') } }] };
  const bigEvent = { payload: { job: { big: 'y'.repeat(200_000) } } };
  rows.push(['dry run: 990 webhook payload strings of a 200 KB value (was a 198 MB command)', await timeAsync(() => engine.rules.dryRun('acc', asUntrustedRule(manyStrings), bigEvent)), 'CRM_ERR_RENDER (output budget)']);

  // Whole trigger attempts (ingest, claim, evaluate, render every action, send): the render and path
  // budgets are the trigger's, so neither many actions nor many conditions multiply them.
  const runner = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms: noop, email: noop, webhook: noop, custom: noop } });
  let account = 0;
  const runTrigger = async (rule: Record<string, unknown>, payload: Record<string, unknown>) => {
    const accountId = `run${account++}`;
    await runner.rules.create(accountId, asUntrustedRule(rule));
    return timeAsync(async () => {
      await runner.ingest({ name: 'job.status.changed', accountId, payload });
      await runner.runDue();
    });
  };
  const { delay: _delay, ...undelayed } = designDocRule;
  rows.push(['trigger: design-doc rule, ingest and run (baseline)', await runTrigger(undelayed, { job: { status: 'Done', number: 'J-1', assignedTechnician: { name: 'Jane', phone: '+15557654321' } } }), 'sent']);
  const perStep = 23;
  const atStepBudget = Math.floor(TEMPLATE_LIMITS.maxLoopSteps / (1 + perStep * BLOCK_STEPS));
  const stepBody = `{{#each job.items}}${'{{#each @root.job.none}}{{/each}}'.repeat(perStep)}{{/each}}x`;
  const twentyAtBudget = { ...undelayed, conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] }, actions: Array.from({ length: 20 }, () => ({ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: stepBody } })) };
  rows.push(['trigger: 20 emails, each a loop at the whole step budget (was 69-119 ms)', await runTrigger(twentyAtBudget, { job: { items: Array.from({ length: atStepBudget }, (_, i) => i), none: [] } }), 'CRM_ERR_RENDER at the 2nd (trigger budget)']);
  const descents = { ...undelayed, conditions: { all: Array.from({ length: DEFAULT_RULE_LIMITS.maxConditions }, (_, i) => ({ fact: 'job', path: '$..*', operator: 'notEqual', value: i })) } };
  const wideJob = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, { a: i }]));
  rows.push([`trigger: ${DEFAULT_RULE_LIMITS.maxConditions} $..* conditions over a 3,000-key event (was 85-180 ms)`, await runTrigger(descents, { job: wideJob }), 'CRM_ERR_EVALUATION (trigger visit budget)']);
  const customCopies = { ...undelayed, conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] }, actions: [{ type: 'custom', params: Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`p${i}`, '{{job.big}}'])) }] };
  rows.push(['trigger: custom action of 900 plain {{job.big}} params over a 200 KB value (was a 180 MB command)', await runTrigger(customCopies, { job: { big: 'y'.repeat(200_000) } }), 'CRM_ERR_RENDER (output budget)']);
  const references = { ...designDocRule, actions: [{ type: 'webhook', params: { url: 'https://example.com/x', payload: Array.from({ length: 1_000 }, () => ({ source: 'fact', fact: 'job' })) } }] };
  rows.push(['dry run: 1,000 fact references to a 200 KB fact in a webhook payload (was a 425 MB command)', await timeAsync(() => engine.rules.dryRun('acc', asUntrustedRule(references), bigEvent)), 'CRM_ERR_RENDER (output budget)']);

  const event120 = deep(120);
  rows.push(['path: $.n.n.v (baseline)', time(() => resolvePath(event120, '$.n.n.v')), 'value']);
  rows.push(['path: $..* over a 120-level event', time(() => resolvePath(event120, '$..*')), 'array']);
  const wide = { list: Array.from({ length: 5_000 }, (_, i) => [[i], [i]]) };
  rows.push(['path: $..*[*][*][*] over 5,000 nested arrays', time(() => resolvePath(wide, '$..*[*][*][*]')), 'CRM_ERR_EVALUATION (visit budget)']);

  const deepPayload = JSON.parse('{"a":'.repeat(2_500) + '1' + '}'.repeat(2_500)) as Record<string, unknown>;
  rows.push(['ingest: payload 2,500 levels deep', await timeAsync(() => engine.ingest({ name: 'job.created', accountId: 'acc', payload: deepPayload })), 'EventValidationError too_deep']);
  rows.push(['ingest: timestamp 8.64e15', await timeAsync(() => engine.ingest({ name: 'job.created', accountId: 'acc', payload: {}, timestamp: 8.64e15 })), 'EventValidationError']);

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'case'.padEnd(width)}  median ms  x baseline  outcome`);
  let base = 1;
  for (const [name, ms, outcome] of rows) {
    if (name.includes('(baseline)')) base = ms;
    console.log(`${name.padEnd(width)}  ${ms.toFixed(3).padStart(9)}  ${(ms / base).toFixed(1).padStart(10)}  ${outcome}`);
  }
}

void main();
