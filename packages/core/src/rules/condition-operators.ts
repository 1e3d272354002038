import type { OperatorFn } from './operators.js';

/**
 * json-rules-engine's operators and decorators (v7), as the compiled condition evaluator calls them.
 *
 * Each is written as json-rules-engine's own: an operator is `validator(factValue) && compare(...)`, a
 * decorated operator is the decorator's validator and callback around the next operator, and a result
 * is returned as the comparison gave it (a custom operator that returns `1` or a promise gives that, not
 * a boolean), because json-rules-engine keeps that raw value and decides on `=== true` or truthiness at
 * each level. The differential test (test/condition-compiler.differential.test.ts) holds them to it.
 */

/** An operator as evaluated: the fact's value and the condition's value in, the raw result out. */
export type OperatorEvaluation = (factValue: unknown, jsonValue: unknown) => unknown;

interface Indexable {
  indexOf(search: unknown): number;
}
interface Iterable2 {
  some(test: (item: unknown) => unknown): boolean;
  every(test: (item: unknown) => unknown): boolean;
}

// Written as json-rules-engine writes them: `Number.parseFloat(x).toString() !== 'NaN'` is what lets
// `'12abc'` and `[3]` through and turns `null` away, and a value without `indexOf` throws the same way.
// A number goes through parseFloat(String(n)), which is NaN only for NaN: answered without the strings.
export const isNumberLike = (factValue: unknown): boolean =>
  typeof factValue === 'number' ? factValue === factValue : Number.parseFloat(factValue as string).toString() !== 'NaN';
const indexOf = (container: unknown, item: unknown): number => (container as Indexable).indexOf(item);

/** json-rules-engine's own operators by name; generated code writes these inline. */
export type BuiltInEvaluation = 'equal' | 'notEqual' | 'in' | 'notIn' | 'contains' | 'doesNotContain' | 'lessThan' | 'lessThanInclusive' | 'greaterThan' | 'greaterThanInclusive';

const BUILT_IN: ReadonlyMap<string, OperatorEvaluation> = new Map<BuiltInEvaluation, OperatorEvaluation>([
  ['equal', (a, b) => a === b],
  ['notEqual', (a, b) => a !== b],
  ['in', (a, b) => indexOf(b, a) > -1],
  ['notIn', (a, b) => indexOf(b, a) === -1],
  ['contains', (a, b) => Array.isArray(a) && indexOf(a, b) > -1],
  ['doesNotContain', (a, b) => Array.isArray(a) && indexOf(a, b) === -1],
  ['lessThan', (a, b) => isNumberLike(a) && (a as number) < (b as number)],
  ['lessThanInclusive', (a, b) => isNumberLike(a) && (a as number) <= (b as number)],
  ['greaterThan', (a, b) => isNumberLike(a) && (a as number) > (b as number)],
  ['greaterThanInclusive', (a, b) => isNumberLike(a) && (a as number) >= (b as number)],
]);

type Decorator = (next: OperatorEvaluation) => OperatorEvaluation;

// Only the two forms json-rules-engine passes to `some`/`every` (item, and the other side): a custom
// operator sees exactly two arguments either way.
const DECORATORS: ReadonlyMap<string, Decorator> = new Map<string, Decorator>([
  ['someFact', (next) => (fv, jv) => Array.isArray(fv) && fv.some((item) => next(item, jv))],
  ['someValue', (next) => (fv, jv) => (jv as Iterable2).some((item) => next(fv, item))],
  ['everyFact', (next) => (fv, jv) => Array.isArray(fv) && fv.every((item) => next(item, jv))],
  ['everyValue', (next) => (fv, jv) => (jv as Iterable2).every((item) => next(fv, item))],
  ['swap', (next) => (fv, jv) => next(jv, fv)],
  ['not', (next) => (fv, jv) => !next(fv, jv)],
]);

export type DecoratorName = 'someFact' | 'someValue' | 'everyFact' | 'everyValue' | 'swap' | 'not';

/** How an operator name resolved: decorators outermost first, around a built-in or registered operator. */
export interface OperatorChain {
  decorators: DecoratorName[];
  base: { builtIn: BuiltInEvaluation } | { registered: OperatorEvaluation };
}

export type OperatorResolution = { evaluate: OperatorEvaluation; chain: OperatorChain } | { unsupported: string; code: 'async_operator' | 'unknown_operator' };

function isAsync(fn: OperatorFn): boolean {
  const tag = Object.prototype.toString.call(fn);
  return tag === '[object AsyncFunction]' || tag === '[object AsyncGeneratorFunction]';
}

/**
 * The operators of one json-rules-engine: its built-ins, then `registered` in registration order (a
 * registered name replaces a built-in of the same name, as `engine.addOperator` does).
 */
export class OperatorTable {
  private readonly registered: ReadonlyMap<string, OperatorFn>;
  private readonly resolved = new Map<string, OperatorResolution>();

  constructor(registered: ReadonlyMap<string, OperatorFn>) {
    this.registered = registered;
  }

  /** Why this table cannot be compiled against at all, or null. */
  problem(): string | null {
    for (const [name, fn] of this.registered) {
      if (typeof fn !== 'function') return `operator "${name}" is not a function`;
      // A registered "not:equal" would be found before decoration; such names are not worth copying.
      if (name.includes(':')) return `operator name "${name}" contains ":"`;
    }
    return null;
  }

  /**
   * Resolves `name` as json-rules-engine's OperatorMap.get does: the name itself when registered, else
   * its first `decorator:` prefix around the resolution of the rest, the first-written decorator outermost.
   */
  resolve(name: string): OperatorResolution {
    let hit = this.resolved.get(name);
    if (!hit) {
      hit = this.resolveUncached(name);
      this.resolved.set(name, hit);
    }
    return hit;
  }

  private resolveUncached(name: string): OperatorResolution {
    const own = this.registered.get(name);
    if (own !== undefined) {
      if (isAsync(own)) return { unsupported: `operator "${name}" is async`, code: 'async_operator' };
      // Registered operators have no validator in json-rules-engine: the callback's result as it is.
      return { evaluate: own, chain: { decorators: [], base: { registered: own } } };
    }
    const builtIn = BUILT_IN.get(name);
    if (builtIn) return { evaluate: builtIn, chain: { decorators: [], base: { builtIn: name as BuiltInEvaluation } } };
    const colon = name.indexOf(':');
    if (colon <= 0) return { unsupported: `unknown operator "${name}"`, code: 'unknown_operator' };
    const decorator = DECORATORS.get(name.slice(0, colon));
    if (!decorator) return { unsupported: `unknown operator decorator "${name.slice(0, colon)}" in "${name}"`, code: 'unknown_operator' };
    const inner = this.resolve(name.slice(colon + 1));
    if ('unsupported' in inner) return inner;
    const decoratorName = name.slice(0, colon) as DecoratorName;
    return { evaluate: decorator(inner.evaluate), chain: { decorators: [decoratorName, ...inner.chain.decorators], base: inner.chain.base } };
  }
}
