import type { ConditionTrace } from '../scheduling/trigger.js';
import { comparison, type FactValues, type NodeEvaluation, type Slots } from './condition-closures.js';
import { generateEvaluation } from './condition-codegen.js';
import { OperatorTable } from './condition-operators.js';
import { buildConditionTree, ConditionEvaluationDeferred, hasOwn, skippedTrace, Unsupported, type ConditionTree, type FallbackCode } from './condition-tree.js';
import { CORE_OPERATOR_FNS, type OperatorFn } from './operators.js';

export { ConditionEvaluationDeferred, type FallbackCode } from './condition-tree.js';

/**
 * A rule's condition tree compiled once into a synchronous function over the facts, giving the verdict
 * and the per-condition trace that json-rules-engine v7 gives through compiled-rule.ts (with
 * `allowUndefinedFacts` and core's `resolvePath`), without its almanac and promises (issue 19):
 *
 * - Groups: json-rules-engine splits the children of `all`/`any` into sets by priority (a leaf's own
 *   `priority`, a group's, else 1), highest first, and evaluates every member of a set before it looks
 *   at the set's results: it short-circuits between sets, never inside one. An empty group passes; a
 *   group of one child takes that child's raw result; a nested group passes only on `=== true`, while
 *   the rule as a whole matches on a truthy result.
 * - Leaves: the fact is the payload's own enumerable property (absent: `undefined`); the path is
 *   applied only when the fact's value is a non-null object, through {@link resolvePath} (or the walk
 *   it was checked to take, see path-accessor.ts); a value of the form `{ fact, path }` is read the
 *   same way; `params` change nothing for payload facts. Operators and decorators: condition-operators.ts.
 * - Trace: one entry per leaf in document order; a leaf counts as evaluated only when its operator
 *   returned a boolean, exactly as compiled-rule.ts reads json-rules-engine's result tree.
 *
 * What it does not copy it refuses at compile time with a reason ({@link CompiledConditions}): async
 * operators, unknown operators or decorators, shapes the validator refuses, priorities other than
 * positive integers, values with keys json-rules-engine's copy of the rule drops. The evaluator throws
 * wherever json-rules-engine would reject (an operator or a path that throws, a payload with an empty
 * key), when a sync operator returns a promise, and for a payload that is not JSON data (a function
 * fact, a non-plain object); the caller then evaluates with json-rules-engine, whose result or error is
 * the one that counts.
 *
 * The tree (condition-tree.ts) runs as one generated function per rule (condition-codegen.ts), or as
 * closures (condition-closures.ts) where the runtime refuses `new Function`.
 */

export interface ConditionEvaluation {
  matched: boolean;
  conditions: ConditionTrace[];
}

export type ConditionEvaluator = (facts: Record<string, unknown>) => ConditionEvaluation;

export type CompiledConditions =
  | {
      readonly evaluate: ConditionEvaluator;
      /** Leaf conditions, i.e. trace entries per evaluation. */
      readonly conditionCount: number;
      /** `generated`: one generated function; `closures`: before that (see `generateAfter`), or where the runtime refuses generated code. */
      readonly backend: 'generated' | 'closures';
      readonly fallback?: undefined;
      readonly code?: undefined;
    }
  | {
      /** Why, with the path of the condition: for a debug log. */
      readonly fallback: string;
      /** Why, as a metric label. */
      readonly code: FallbackCode;
      readonly evaluate?: undefined;
    };

export interface ConditionCompilerOptions {
  /**
   * The engine's custom operators, the map compiled-rule.ts registers on json-rules-engine after
   * json-rules-engine's built-ins and core's ({@link CORE_OPERATOR_FNS}, such as `present`), in that
   * order: a custom operator replaces a built-in or core operator of the same name.
   */
  operators: ReadonlyMap<string, OperatorFn>;
  /**
   * Evaluations on closures before the rule's code is generated (default {@link GENERATE_AFTER}).
   * 0: at compile time; `Infinity`: never.
   */
  generateAfter?: number | undefined;
}

/**
 * Generating a rule's code (~150–250 µs more than its closures) costs what about two hundred
 * evaluations save over closures (~1 µs each for 10 conditions; bench:conditions): a rule evaluated
 * less often than this never pays for it.
 */
export const GENERATE_AFTER = 256;

type Facts = Record<string, unknown>;

const isEnumerableOwn = (value: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(value, key);

/** json-rules-engine makes every enumerable payload key a fact (and a function a computed one). */
function readFact(facts: Facts, id: string): unknown {
  // hasOwnProperty first: V8 answers it inline, propertyIsEnumerable only through a runtime call.
  if (!hasOwn(facts, id) || !isEnumerableOwn(facts, id)) return undefined;
  const value = facts[id];
  if (typeof value === 'function') throw new ConditionEvaluationDeferred(`fact "${id}" is a function`);
  return value;
}

const tables = new WeakMap<ReadonlyMap<string, OperatorFn>, OperatorTable>();

/** One table per engine's operators, so that rules share resolved (decorated) operators. */
function operatorTable(operators: ReadonlyMap<string, OperatorFn>): OperatorTable {
  let table = tables.get(operators);
  if (!table) tables.set(operators, (table = new OperatorTable(new Map([...CORE_OPERATOR_FNS, ...operators]))));
  return table;
}

/** The compiled conditions over `tree`: closures, replaced by generated code after `generateAfter` evaluations. */
function compiledOf(tree: ConditionTree, generateAfter: number): CompiledConditions {
  const { leaves, factNames } = tree;
  const count = leaves.length;
  let root: NodeEvaluation = comparison(tree.root);
  let backend: 'generated' | 'closures' = 'closures';
  let untilGenerated = generateAfter;
  const generate = () => {
    const generated = generateEvaluation(tree);
    if (generated) {
      root = generated;
      backend = 'generated';
    }
  };
  if (untilGenerated <= 0) generate();
  const evaluate: ConditionEvaluator = (facts) => {
    if (untilGenerated > 0 && --untilGenerated === 0) generate();
    const proto: unknown = Object.getPrototypeOf(facts);
    if (proto !== Object.prototype && proto !== null) throw new ConditionEvaluationDeferred('the payload is not a plain object');
    // json-rules-engine refuses a fact named "" ("factId required"), whatever the conditions read.
    if (hasOwn(facts, '') && isEnumerableOwn(facts, '')) throw new ConditionEvaluationDeferred('the payload has an empty key');
    const values: FactValues = new Array<unknown>(factNames.length);
    for (let i = 0; i < factNames.length; i++) values[i] = readFact(facts, factNames[i] as string);
    const slots: Slots = new Array<ConditionTrace | undefined>(count);
    const matched = Boolean(root(values, slots));
    for (let i = 0; i < count; i++) {
      if (slots[i] === undefined) slots[i] = skippedTrace((leaves[i] as (typeof leaves)[number]).trace);
    }
    return { matched, conditions: slots as ConditionTrace[] };
  };
  return {
    evaluate,
    conditionCount: count,
    get backend() {
      return backend;
    },
  };
}

/**
 * Compiles `conditions` (a rule's, or a `cancelOn` entry's) into a synchronous evaluator with
 * json-rules-engine's verdict and trace, or says why it cannot (`fallback`): evaluate that rule with
 * json-rules-engine then. See the module comment for what is copied and when the evaluator throws.
 */
export function compileConditions(conditions: unknown, options: ConditionCompilerOptions): CompiledConditions {
  const table = operatorTable(options.operators);
  const problem = table.problem();
  if (problem) return { fallback: problem, code: 'operator_names' };
  let tree: ConditionTree;
  try {
    tree = buildConditionTree(conditions, table);
  } catch (error) {
    if (error instanceof Unsupported) return { fallback: error.message, code: error.code };
    throw error;
  }
  return compiledOf(tree, options.generateAfter ?? GENERATE_AFTER);
}
