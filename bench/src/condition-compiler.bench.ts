/**
 * Evaluations per second of one rule's conditions (issue 19): json-rules-engine through core's
 * `compileRule(...).evaluate` (the path the fire loop takes today: engine.run with its almanac, then
 * the trace collected from its result tree) against the compiled evaluator (`compileConditions`; its
 * generated code, which a rule gets after its first 256 evaluations),
 * for rules of 2, 10 and 30 conditions, verdict and full trace on both sides.
 *
 * Each rule is evaluated over 64 payloads in turn: one in three is built to fail one of the
 * conditions (where the rule has it), so verdicts and short-circuits vary; the run prints how many match. Variants and sizes run interleaved, round by round,
 * each for BENCH_SLICE_MS; the figures are medians over BENCH_ROUNDS rounds, and the ratio is the
 * median of the per-round ratios. One Node process, so one core.
 * Run: npm run bench:conditions -w @crm-automation/bench  (BENCH_ROUNDS, BENCH_SLICE_MS)
 */
import { isDeepStrictEqual } from 'node:util';
import type { Rule } from '@crm-automation/core';
import { compileRule } from '../../packages/core/src/rules/compiled-rule.js';
import { compileConditions } from '../../packages/core/src/rules/condition-compiler.js';
import { fmt, machine, median } from './stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const SLICE_MS = Number(process.env['BENCH_SLICE_MS'] ?? 400);
const SIZES: readonly number[] = [2, 10, 30];

type Leaf = Record<string, unknown>;

/** The i-th leaf of a rule: the kinds of conditions rules are written with, over two facts. */
function leafAt(i: number): Leaf {
  const kinds: Array<() => Leaf> = [
    () => ({ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }),
    () => ({ fact: 'job', path: '$.total', operator: 'greaterThanInclusive', value: 2000 }),
    () => ({ fact: 'job', path: '$.client.type', operator: 'in', value: ['Commercial', 'Industrial'] }),
    () => ({ fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true }),
    () => ({ fact: 'job', path: '$.tags', operator: 'contains', value: 'priority' }),
    () => ({ fact: 'job', path: '$.client.region', operator: 'notEqual', value: 'closed' }),
    () => ({ fact: 'account', path: '$.plan', operator: 'notIn', value: ['free', 'trial'] }),
    () => ({ fact: 'job', path: '$.lineItems[0].qty', operator: 'lessThan', value: 100 }),
    () => ({ fact: 'job', path: '$.tags', operator: 'someFact:equal', value: 'vip' }),
    () => ({ fact: 'account', path: '$.seats', operator: 'greaterThan', value: 1 }),
  ];
  return (kinds[i % kinds.length] as () => Leaf)();
}

/** `size` leaves: an `all` of most of them and, past two, an `any` of the last third. */
function conditionsOf(size: number): Record<string, unknown> {
  const leaves = Array.from({ length: size }, (_, i) => leafAt(i));
  if (size <= 2) return { all: leaves };
  const split = size - Math.floor(size / 3);
  return { all: [...leaves.slice(0, split), { any: leaves.slice(split) }] };
}

function payloadAt(n: number): Record<string, unknown> {
  // One in three fails somewhere: a different condition each time.
  const failing = n % 3 === 2 ? n % 10 : -1;
  return {
    job: {
      id: `job_${n}`,
      status: failing === 0 ? 'Scheduled' : 'Done',
      total: failing === 1 ? 150 : 2500 + n,
      client: { name: 'Acme Corp', type: failing === 2 ? 'Residential' : 'Commercial', region: 'north' },
      assignedTechnician: failing === 3 ? { name: 'Jane Doe' } : { name: 'Jane Doe', phone: '+15557654321' },
      tags: failing === 4 ? ['vip'] : ['priority', 'vip'],
      lineItems: [{ sku: 'A-1', qty: failing === 7 ? 500 : 2 }],
    },
    account: { plan: failing === 6 ? 'free' : 'pro', seats: 12 },
  };
}

const PAYLOADS = Array.from({ length: 64 }, (_, n) => payloadAt(n));

const ruleOf = (size: number): Rule => ({
  id: `rule_${size}`,
  accountId: 'acc',
  name: `${size} conditions`,
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  conditions: conditionsOf(size) as Rule['conditions'],
  actions: [{ type: 'webhook', params: { url: 'https://example.invalid/hook' } }],
  version: 1,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

let sink = 0;

interface Subject {
  size: number;
  reference: (payload: Record<string, unknown>) => Promise<{ matched: boolean; conditions: unknown[] }>;
  compiled: (payload: Record<string, unknown>) => { matched: boolean; conditions: unknown[] };
  /** The same tree on closures only: what a rule runs on before its code is generated. */
  closures: (payload: Record<string, unknown>) => { matched: boolean; conditions: unknown[] };
}

/** One engine's operators: the compiler shares resolved operators per map, as an engine would. */
const OPERATORS = new Map<string, never>();

const subjects: Subject[] = SIZES.map((size) => {
  const rule = ruleOf(size);
  const reference = compileRule(rule, OPERATORS);
  const compiled = compileConditions(rule.conditions, { operators: OPERATORS });
  const closures = compileConditions(rule.conditions, { operators: OPERATORS, generateAfter: Number.POSITIVE_INFINITY });
  if (compiled.fallback !== undefined || closures.fallback !== undefined) throw new Error(`${size} conditions fell back: ${compiled.fallback ?? closures.fallback}`);
  return { size, reference: (payload) => reference.evaluate(payload), compiled: compiled.evaluate, closures: closures.evaluate };
});

// Both sides must agree on what is measured (the differential test proves it in general).
let matchedPayloads = 0;
for (const subject of subjects) {
  for (const payload of PAYLOADS) {
    const want = await subject.reference(payload);
    if (!isDeepStrictEqual(subject.compiled(payload), want) || !isDeepStrictEqual(subject.closures(payload), want)) throw new Error(`${subject.size} conditions: the evaluators disagree on ${JSON.stringify(payload)}`);
    if (want.matched) matchedPayloads += 1;
  }
}

async function timeReference(subject: Subject): Promise<number> {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < SLICE_MS) {
    for (const payload of PAYLOADS) if ((await subject.reference(payload)).matched) sink += 1;
    n += PAYLOADS.length;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

function timeCompiled(evaluate: Subject['compiled']): number {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < SLICE_MS) {
    for (let i = 0; i < 16; i++) for (const payload of PAYLOADS) if (evaluate(payload).matched) sink += 1;
    n += 16 * PAYLOADS.length;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

const figures = new Map(SIZES.map((size) => [size, { reference: [] as number[], compiled: [] as number[], ratio: [] as number[], closures: [] as number[], closuresRatio: [] as number[] }]));
for (const subject of subjects) {
  await timeReference(subject); // warm-up
  timeCompiled(subject.compiled);
  timeCompiled(subject.closures);
}
for (let round = 0; round < ROUNDS; round++) {
  for (const subject of subjects) {
    const entry = figures.get(subject.size);
    if (!entry) continue;
    // Alternate which side goes first, so neither always follows the other's garbage.
    const first = round % 2 === 0;
    const compiled = first ? timeCompiled(subject.compiled) : 0;
    const reference = await timeReference(subject);
    const compiledAfter = first ? compiled : timeCompiled(subject.compiled);
    const closures = timeCompiled(subject.closures);
    entry.reference.push(reference);
    entry.compiled.push(compiledAfter);
    entry.ratio.push(compiledAfter / reference);
    entry.closures.push(closures);
    entry.closuresRatio.push(closures / reference);
  }
}

// Compiling: json-rules-engine's side is compileRule (an Engine, addRule, the action templates); the
// compiler's, its tree and closures (what a rule gets first) and, separately, its generated code.
const compileRounds = { reference: [] as number[], closures: [] as number[], generated: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  const rules = Array.from({ length: 500 }, (_, i) => ({ ...ruleOf(10), id: `rule_${round}_${i}`, conditions: conditionsOf(10) as Rule['conditions'] }));
  let start = performance.now();
  for (const rule of rules) sink += compileRule(rule, OPERATORS).actionCount;
  compileRounds.reference.push((rules.length / (performance.now() - start)) * 1000);
  start = performance.now();
  for (const rule of rules) sink += compileConditions(rule.conditions, { operators: OPERATORS }).evaluate ? 1 : 0;
  compileRounds.closures.push((rules.length / (performance.now() - start)) * 1000);
  start = performance.now();
  for (const rule of rules) sink += compileConditions(rule.conditions, { operators: OPERATORS, generateAfter: 0 }).evaluate ? 1 : 0;
  compileRounds.generated.push((rules.length / (performance.now() - start)) * 1000);
}

console.log(`condition evaluation, ${machine()}; ${ROUNDS} rounds of ${SLICE_MS} ms per variant; ${PAYLOADS.length} payloads, ${matchedPayloads} of ${PAYLOADS.length * SIZES.length} evaluations match`);
console.log('| Conditions | json-rules-engine (compileRule) | Compiled (generated code) | Ratio | Closures only | Ratio |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const size of SIZES) {
  const entry = figures.get(size);
  if (!entry) continue;
  const rounds = (ratios: number[]) => ratios.map((r) => r.toFixed(0)).join(', ');
  console.log(`| ${size} | ${fmt(median(entry.reference))} evaluations/s | ${fmt(median(entry.compiled))} evaluations/s | **${median(entry.ratio).toFixed(0)}x** (rounds: ${rounds(entry.ratio)}) | ${fmt(median(entry.closures))} evaluations/s | ${median(entry.closuresRatio).toFixed(0)}x (rounds: ${rounds(entry.closuresRatio)}) |`);
}
console.log(`compiling 10-condition rules: json-rules-engine (compileRule) ${fmt(median(compileRounds.reference))} rules/s; condition compiler ${fmt(median(compileRounds.closures))} rules/s (tree and closures), ${fmt(median(compileRounds.generated))} rules/s (generating code at once)`);
if (sink < 0) console.log(sink);
