import { inspect, isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designDocRules, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { ConditionEvaluationDeferred, compileConditions } from '../src/rules/condition-compiler.js';
import { resolvePath } from '../src/rules/json-path.js';
import { BUILT_IN_OPERATORS, type OperatorFn } from '../src/rules/operators.js';
import { pathAccessor } from '../src/rules/path-accessor.js';
import { CUSTOM_OPERATORS, FIELD_NAMES, conditionTree, json, payload } from './condition-compiler.arbitraries.js';
import { collectRepositoryConditions, operatorsNamed, payloadFor } from './condition-compiler.repository-rules.js';
import { compile, compiledOutcomes, difference, referenceOutcomes, registeredOperators, type Outcome } from './condition-compiler.harness.js';

/*
 * The compiled condition evaluator against json-rules-engine (issue 19): the same verdict and the same
 * trace for every generated condition tree and payload. A difference fails with fast-check's shrunk
 * case and both outcomes. CONDITION_COMPILER_RUNS scales the run counts (e.g. 10 for a long local run).
 */

const SCALE = Number(process.env['CONDITION_COMPILER_RUNS'] ?? '1');
const PAYLOADS_PER_TREE = 4;
const BUILT_IN_NAMES = new Set<string>(BUILT_IN_OPERATORS);

interface Tally {
  cases: number;
  matched: number;
  unmatched: number;
  failed: number;
  deferred: number;
  deferredFor: Record<string, number>;
  skippedLeaves: number;
  evaluatedLeaves: number;
}

const newTally = (): Tally => ({ cases: 0, matched: 0, unmatched: 0, failed: 0, deferred: 0, deferredFor: {}, skippedLeaves: 0, evaluatedLeaves: 0 });

function count(tally: Tally, outcomes: Outcome[], compiled: Outcome[]): void {
  for (const outcome of compiled) {
    if (outcome.kind !== 'deferred') continue;
    tally.deferred += 1;
    const reason = outcome.message.replace(/"[^"]*"/g, '…');
    tally.deferredFor[reason] = (tally.deferredFor[reason] ?? 0) + 1;
  }
  for (const outcome of outcomes) {
    tally.cases += 1;
    if (outcome.kind !== 'result') {
      tally.failed += 1;
      continue;
    }
    if (outcome.matched) tally.matched += 1;
    else tally.unmatched += 1;
    for (const trace of outcome.conditions) {
      if (trace.evaluated === false) tally.skippedLeaves += 1;
      else tally.evaluatedLeaves += 1;
    }
  }
}

/** One property: trees with operators `custom`, each against PAYLOADS_PER_TREE payloads. */
async function checkGenerated(custom: ReadonlyMap<string, OperatorFn>, extraOperators: readonly string[], numRuns: number, generate = true): Promise<Tally> {
  const tally = newTally();
  await fc.assert(
    fc.asyncProperty(conditionTree(extraOperators), fc.array(payload, { minLength: PAYLOADS_PER_TREE, maxLength: PAYLOADS_PER_TREE }), async (conditions, payloads) => {
      const reference = await referenceOutcomes(conditions, custom, payloads);
      const compiled = compiledOutcomes(compile(conditions, custom, generate), payloads);
      const diff = difference(payloads, reference, compiled);
      if (diff) throw new Error(`compiled evaluation (${generate ? 'generated code' : 'closures'}) differs from json-rules-engine\n${diff}`);
      count(tally, reference, compiled);
    }),
    { numRuns },
  );
  return tally;
}

/** Checks that a property exercised what it is meant to, so that a broken generator cannot pass it. */
function expectCoverage(tally: Tally, minimumCases: number): void {
  expect(tally.cases).toBeGreaterThanOrEqual(minimumCases);
  expect(tally.matched).toBeGreaterThan(tally.cases * 0.1);
  expect(tally.unmatched).toBeGreaterThan(tally.cases * 0.1);
  expect(tally.failed).toBeGreaterThan(0);
  expect(tally.failed).toBeLessThan(tally.cases * 0.3);
  expect(tally.skippedLeaves).toBeGreaterThan(0);
  // Deferring is for payloads and operators json-rules-engine alone can read; rare here by design.
  expect(tally.deferred).toBeLessThan(tally.cases * 0.1);
}

describe('compiled conditions against json-rules-engine, generated', () => {
  const extra = ['present'];

  it('agree on verdict and trace for the built-in, core and custom operators', { timeout: 600_000 }, async () => {
    const runs = Math.round(25_000 * SCALE);
    const tally = await checkGenerated(CUSTOM_OPERATORS, extra, runs);
    console.info('condition compiler differential (built-in, core, custom):', tally);
    expectCoverage(tally, runs * PAYLOADS_PER_TREE);
  });

  it('agree with the closure back end too (runtimes that refuse generated code)', { timeout: 600_000 }, async () => {
    const runs = Math.round(3_000 * SCALE);
    const tally = await checkGenerated(CUSTOM_OPERATORS, extra, runs, false);
    console.info('condition compiler differential (closures):', tally);
    expectCoverage(tally, runs * PAYLOADS_PER_TREE);
  });

  it('agree when custom operators replace built-in and core operators of the same name', { timeout: 600_000 }, async () => {
    const replacing = new Map<string, OperatorFn>([
      ...CUSTOM_OPERATORS,
      // Loose equality and a lenient `in`: a rule naming them must get these, not json-rules-engine's.
      ['equal', (a, b) => a == b], // eslint-disable-line eqeqeq
      ['in', (a, b) => Array.isArray(b) && b.includes(a)],
      // And core's `present`, registered before the custom ones.
      ['present', (a) => a === undefined],
    ]);
    const runs = Math.round(2_500 * SCALE);
    const tally = await checkGenerated(replacing, extra, runs);
    console.info('condition compiler differential (replaced built-ins):', tally);
    expectCoverage(tally, runs * PAYLOADS_PER_TREE);
  });
});

describe('compiled conditions, what they refuse', () => {
  const compileWith = (conditions: unknown, custom: ReadonlyMap<string, OperatorFn> = new Map()) => compileConditions(conditions, { operators: custom });
  const leafOf = (operator: string) => ({ all: [{ fact: 'a', operator: 'equal', value: 1 }, { fact: 'a', operator, value: 1 }] });

  it.each([
    ['an async custom operator', leafOf('slow'), /conditions\.all\[1\]: operator "slow" is async/, 'async_operator'],
    ['an async custom operator under a decorator', leafOf('not:slow'), /operator "slow" is async/, 'async_operator'],
    ['an unknown operator', leafOf('bogus'), /conditions\.all\[1\]: unknown operator "bogus"/, 'unknown_operator'],
    ['an unknown decorator', leafOf('sometimes:equal'), /unknown operator decorator "sometimes"/, 'unknown_operator'],
    ['a bare decorator', leafOf('not'), /unknown operator "not"/, 'unknown_operator'],
    ['a leaf at the root', { fact: 'a', operator: 'equal', value: 1 }, /the root must be a group/, 'unsupported_shape'],
    ['a group with two kinds', { all: [], any: [] }, /exactly one of/, 'unsupported_shape'],
    ['a shared condition reference', { all: [{ condition: 'shared' }] }, /unsupported key "condition"/, 'unsupported_shape'],
    ['an unknown leaf key', { all: [{ fact: 'a', operator: 'equal', value: 1, result: true }] }, /unsupported key "result"/, 'unsupported_shape'],
    ['a leaf without a value', { all: [{ fact: 'a', operator: 'equal' }] }, /needs a value/, 'unsupported_shape'],
    ['a fractional priority', { all: [{ fact: 'a', operator: 'equal', value: 1, priority: 1.5 }] }, /priority 1\.5 is not a positive integer/, 'priority'],
    ['a string priority', { any: [{ all: [], priority: '2' }] }, /priority "2" is not a positive integer/, 'priority'],
    ['a value with a key json-rules-engine\'s copy drops', { all: [{ fact: 'a', operator: 'equal', value: [{ x: 1, constructor: 2 }] }] }, /key "constructor"/, 'value_copy'],
    ['a value with a __proto__ key', { all: [{ fact: 'a', operator: 'equal', value: JSON.parse('{"__proto__": {"x": 1}}') as unknown }] }, /key "__proto__"/, 'value_copy'],
    ['"not" over an array', { not: [{ fact: 'a', operator: 'equal', value: 1 }] }, /a condition must be an object/, 'unsupported_shape'],
  ])('falls back for %s', (_label, conditions, reason, code) => {
    const slow: OperatorFn = (async () => true) as unknown as OperatorFn;
    const result = compileWith(conditions, new Map([['slow', slow]]));
    expect(result.fallback).toMatch(reason);
    expect(result.code).toBe(code);
    expect(result.evaluate).toBeUndefined();
  });

  it('falls back for nesting deeper than it compiles', () => {
    let conditions: Record<string, unknown> = { fact: 'a', operator: 'equal', value: 1 };
    for (let i = 0; i < 70; i++) conditions = { not: conditions };
    expect(compileWith(conditions).fallback).toMatch(/nests deeper than 64 levels/);
  });

  it('falls back for an operator name with a colon', () => {
    expect(compileWith({ all: [] }, new Map([['not:equal', () => true]])).fallback).toMatch(/contains ":"/);
  });

  it('compiles a rule that does not use the async operator', () => {
    const slow: OperatorFn = (async () => true) as unknown as OperatorFn;
    expect(compileWith(leafOf('equal'), new Map([['slow', slow]])).evaluate).toBeTypeOf('function');
  });

  it('defers to json-rules-engine for payloads it reads differently, which json-rules-engine refuses or computes', async () => {
    const conditions = { all: [{ fact: 'a', operator: 'equal', value: 1 }] };
    const compiled = compileWith(conditions);
    if (compiled.fallback !== undefined) throw new Error(compiled.fallback);
    expect(() => compiled.evaluate({ '': 1, a: 1 })).toThrow(ConditionEvaluationDeferred);
    expect(() => compiled.evaluate({ a: () => 1 })).toThrow(ConditionEvaluationDeferred);
    expect(() => compiled.evaluate(new (class Payload { a = 1 })() as unknown as Record<string, unknown>)).toThrow(ConditionEvaluationDeferred);
    const [emptyKey] = await referenceOutcomes(conditions, new Map(), [{ '': 1, a: 1 }]);
    expect(emptyKey).toEqual({ kind: 'error', message: expect.stringContaining('factId required') as string });
  });
});

describe('compiled conditions, generated code', () => {
  it('generates code after generateAfter evaluations, giving the same outcomes before and after', async () => {
    const conditions = { any: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }, { fact: 'job', path: '$.total', operator: 'greaterThan', value: 10, priority: 2 }] };
    const compiled = compileConditions(conditions, { operators: new Map(), generateAfter: 3 });
    if (compiled.fallback !== undefined) throw new Error(compiled.fallback);
    const payloads = [{ job: { status: 'Done' } }, { job: { total: 11 } }, { job: {} }, { job: { status: 'Done', total: 1 } }];
    const reference = await referenceOutcomes(conditions, new Map(), [...payloads, ...payloads]);
    const backends: string[] = [];
    const outcomes = [...payloads, ...payloads].map((payload) => {
      const evaluation = compiled.evaluate(payload);
      backends.push(compiled.backend);
      return { kind: 'result' as const, matched: evaluation.matched, conditions: evaluation.conditions };
    });
    expect(backends).toEqual(['closures', 'closures', 'generated', 'generated', 'generated', 'generated', 'generated', 'generated']);
    expect(difference([...payloads, ...payloads], reference, outcomes)).toBeNull();
  });

  it('writes no rule text into code: quotes, backslashes, template and line breaks stay data', async () => {
    const hostile = ['"', "'", '\\', '`${globalThis.injected = 1}`', '"); globalThis.injected = 1; ("', '\u2028', '\n', '*/', '</script>'];
    const leaves = hostile.flatMap((text) => [
      { fact: text, operator: 'equal', value: text },
      { fact: 'job', path: `$['${text.replace(/'/g, '')}']`, operator: 'notEqual', value: text },
      { fact: 'job', operator: 'in', value: [text] },
    ]);
    const conditions = { any: [{ all: leaves }, { not: { fact: 'job', operator: 'equal', value: hostile.join('') } }] };
    const payloads = [Object.fromEntries(hostile.map((text) => [text, text])), { job: Object.fromEntries(hostile.map((text) => [text.replace(/'/g, ''), text])) }, {}];
    const reference = await referenceOutcomes(conditions, new Map(), payloads);
    const compiled = compiledOutcomes(compile(conditions, new Map()), payloads);
    expect(difference(payloads, reference, compiled)).toBeNull();
    expect((globalThis as { injected?: unknown }).injected).toBeUndefined();
  });
});

describe("compiled conditions against json-rules-engine, the repository's rules", () => {
  const agree = async (conditions: unknown, payloads: Array<Record<string, unknown>>, custom: ReadonlyMap<string, OperatorFn> = new Map()) => {
    const reference = await referenceOutcomes(conditions, custom, payloads);
    const compiled = compiledOutcomes(compile(conditions, custom), payloads);
    return { reference, diff: difference(payloads, reference, compiled) };
  };

  it("gives the design doc's rules their verdicts and traces", async () => {
    const { doneJob, highValueJob } = designDocRules.payloads;
    const { assignedTechnician: _technician, ...unassigned } = doneJob.job;
    const technician = await agree(technicianSmsRule.conditions, [
      doneJob,
      { job: { ...doneJob.job, status: 'Scheduled' } },
      { job: unassigned },
      { job: { ...doneJob.job, assignedTechnician: { name: 'Jane Doe', phone: null } } },
      { job: 'not an object' },
      {},
    ]);
    expect(technician.diff).toBeNull();
    expect(technician.reference.map((o) => o.kind === 'result' && o.matched)).toEqual([true, false, true, false, false, false]);
    const highValue = await agree(highValueJobRule.conditions, [
      highValueJob(2500, 'Commercial'),
      highValueJob(2000, 'Commercial'),
      highValueJob(1999.99, 'Commercial'),
      highValueJob(2500, 'Residential'),
      highValueJob('2500' as unknown as number, 'Commercial'),
      highValueJob(Number.NaN, 'Commercial'),
      { job: { total: 5000 } },
    ]);
    expect(highValue.diff).toBeNull();
    expect(highValue.reference.map((o) => o.kind === 'result' && o.matched)).toEqual([true, true, false, false, true, false, false]);
  });

  it('agrees on every rule literal of the tests, examples and docs', { timeout: 300_000 }, async () => {
    const collection = collectRepositoryConditions();
    const fallbacks: string[] = [];
    let compared = 0;
    let cases = 0;
    for (const { where, conditions } of collection.found) {
      const known = registeredOperators(CUSTOM_OPERATORS);
      const custom = new Map<string, OperatorFn>(CUSTOM_OPERATORS);
      // A custom operator of some test's own engine: any sync stand-in, the same on both sides.
      for (const name of operatorsNamed(conditions)) if (!known.has(name) && !BUILT_IN_NAMES.has(name)) custom.set(name, (a, b) => a === b);
      const compiled = compile(conditions, custom);
      if (compiled.fallback !== undefined) {
        fallbacks.push(`${where}: ${compiled.fallback}`);
        continue;
      }
      compared += 1;
      await fc.assert(
        fc.asyncProperty(fc.array(payloadFor(conditions), { minLength: PAYLOADS_PER_TREE, maxLength: PAYLOADS_PER_TREE }), async (payloads) => {
          const { diff } = await agree(conditions, payloads, custom);
          if (diff) throw new Error(`${where}: compiled evaluation differs from json-rules-engine\n${diff}`);
          cases += payloads.length;
        }),
        { numRuns: Math.round(25 * SCALE) },
      );
    }
    console.info(`repository rule literals: ${collection.found.length} found in ${collection.files} files (${collection.notLiteral} computed, left out); ${compared} compared on ${cases} payloads; fallbacks:\n  ${fallbacks.join('\n  ')}`);
    expect(collection.found.length).toBeGreaterThan(50);
    expect(compared).toBeGreaterThan(collection.found.length * 0.8);
    // The validator refuses every shape the compiler refuses: a fallback here is a test's invalid rule.
    for (const fallback of fallbacks) expect(fallback).toMatch(/test\//);
  });
});

describe('compiled paths against the engine resolver', () => {
  const segment = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...FIELD_NAMES, '__proto__', 'constructor', 'length').map((name) => `.${name}`) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('a', 'é', '1', '_', '$', '-', ' ', "'", '"', ',', ':', '*', '.', '[', ']', '\\'), maxLength: 3 }).map((name) => `.${name}`) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('x', '0', ' ', "'", '"', ',', ':', '*', '\\', '-'), maxLength: 4 }).map((body) => `[${body}]`) },
    { weight: 2, arbitrary: fc.constantFrom('[0]', '[1]', '[01]', '[ 0 ]', "['x']", '["x"]', "[ 'x' ]", "['x y']", "['x','y']", '[*]', '[0:1]', '..x', '.*', '[-1]', "['']", '[99999999999999999999]') },
  );
  const path = fc.tuple(fc.constantFrom('$', '$', '$', '', 'x'), fc.array(segment, { maxLength: 4 })).map(([head, rest]) => head + rest.join(''));
  const outcome = (read: () => unknown) => {
    try {
      return { value: read() };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  it('read every path as resolvePath does, on objects', () => {
    fc.assert(
      fc.property(path, json, (p, value) => {
        if (typeof value !== 'object' || value === null) return;
        const want = outcome(() => resolvePath(value, p));
        const got = outcome(() => pathAccessor(p)(value));
        if (!isDeepStrictEqual(got, want)) throw new Error(`path ${JSON.stringify(p)}: resolvePath ${inspect(want)}, accessor ${inspect(got)}`);
      }),
      { numRuns: Math.round(20_000 * SCALE) },
    );
  });
});
