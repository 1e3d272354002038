import { inspect, isDeepStrictEqual } from 'node:util';
import type { Rule } from '../src/rules/rule.js';
import { jsonRulesEngineEvaluator } from '../src/rules/compiled-rule.js';
import { ConditionEvaluationDeferred, compileConditions, type CompiledConditions } from '../src/rules/condition-compiler.js';
import { CORE_OPERATOR_FNS, type OperatorFn } from '../src/rules/operators.js';
import type { ConditionTrace } from '../src/scheduling/trigger.js';

/*
 * Both sides of the differential test: json-rules-engine as compiled-rule.ts sets it up
 * (`jsonRulesEngineEvaluator`, what evaluates a rule the compiler does not support) and the compiled
 * evaluator, each given its own copy of the conditions.
 */

export type Outcome =
  | { kind: 'result'; matched: boolean; conditions: ConditionTrace[] }
  | { kind: 'error'; message: string }
  /** The evaluator sent the caller to json-rules-engine (ConditionEvaluationDeferred). */
  | { kind: 'deferred'; message: string };

/** Every operator name a rule may use with `custom`: core's (`present`) and the custom ones. */
export function registeredOperators(custom: ReadonlyMap<string, OperatorFn>): ReadonlyMap<string, OperatorFn> {
  return new Map([...CORE_OPERATOR_FNS, ...custom]);
}

function ruleOf(conditions: unknown): Rule {
  return {
    id: 'differential',
    accountId: 'acc',
    name: 'differential',
    enabled: true,
    trigger: { eventName: 'e' },
    delay: { value: 0, unit: 'minutes' },
    conditions: structuredClone(conditions) as Rule['conditions'],
    actions: [{ type: 'noop', params: {} }],
    version: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
}

/** json-rules-engine's outcomes for each payload. */
export async function referenceOutcomes(conditions: unknown, custom: ReadonlyMap<string, OperatorFn>, payloads: ReadonlyArray<Record<string, unknown>>): Promise<Outcome[]> {
  const evaluate = jsonRulesEngineEvaluator('differential', ruleOf(conditions).conditions, custom);
  const out: Outcome[] = [];
  for (const payload of payloads) {
    try {
      const evaluation = await evaluate(payload);
      out.push({ kind: 'result', matched: evaluation.matched, conditions: evaluation.conditions });
    } catch (error) {
      out.push({ kind: 'error', message: (error as Error).message });
    }
  }
  return out;
}

/** Compiles a copy of `conditions`; `generate: false` for the closure back end. */
export function compile(conditions: unknown, custom: ReadonlyMap<string, OperatorFn>, generate = true): CompiledConditions {
  const compiled = compileConditions(structuredClone(conditions), { operators: custom, generateAfter: generate ? 0 : Number.POSITIVE_INFINITY });
  // Generated code is expected wherever it is asked for: this runtime allows `new Function`.
  if (compiled.fallback === undefined && compiled.backend !== (generate ? 'generated' : 'closures')) throw new Error(`expected the ${generate ? 'generated' : 'closure'} back end, got ${compiled.backend}`);
  return compiled;
}

/** The compiled evaluator's outcomes; throws when it falls back, since the case was meant to compile. */
export function compiledOutcomes(compiled: CompiledConditions, payloads: ReadonlyArray<Record<string, unknown>>): Outcome[] {
  if (compiled.fallback !== undefined) throw new Error(`expected the conditions to compile, got fallback: ${compiled.fallback}`);
  return payloads.map((payload) => {
    try {
      const evaluation = compiled.evaluate(payload);
      return { kind: 'result', matched: evaluation.matched, conditions: evaluation.conditions };
    } catch (error) {
      return { kind: error instanceof ConditionEvaluationDeferred ? 'deferred' : 'error', message: (error as Error).message };
    }
  });
}

/**
 * Null when both sides agree: the same verdict and trace (deep, strict: `factResult: undefined` is not
 * a missing `factResult`, -0 is not 0), or both failed, or the evaluator deferred to json-rules-engine
 * (the caller then takes json-rules-engine's outcome). A failure's message may differ: the caller
 * re-evaluates with json-rules-engine on any throw, and reports json-rules-engine's error.
 */
export function difference(payloads: ReadonlyArray<Record<string, unknown>>, reference: Outcome[], compiled: Outcome[]): string | null {
  for (let i = 0; i < payloads.length; i++) {
    const want = reference[i];
    const got = compiled[i];
    if (got?.kind === 'deferred' || (want?.kind === 'error' && got?.kind === 'error')) continue;
    if (isDeepStrictEqual(want, got)) continue;
    const show = (value: unknown) => inspect(value, { depth: null, breakLength: 120 });
    return `payload ${show(payloads[i])}\n  json-rules-engine: ${show(want)}\n  compiled:          ${show(got)}`;
  }
  return null;
}
