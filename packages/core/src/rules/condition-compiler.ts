import type { ConditionTrace } from '../scheduling/trigger.js';
import { OperatorTable, type OperatorEvaluation } from './condition-operators.js';
import { resolvePath } from './json-path.js';
import { CORE_OPERATOR_FNS, type OperatorFn } from './operators.js';
import { asPropertyKey, pathAccessor, type PathAccessor } from './path-accessor.js';

/**
 * A rule's condition tree compiled once into a synchronous function over the facts, giving the verdict
 * and the per-condition trace that json-rules-engine v7 gives through compiled-rule.ts (with
 * `allowUndefinedFacts` and core's `resolvePath`), without its almanac and promises:
 *
 * - Groups: json-rules-engine splits the children of `all`/`any` into sets by priority (a leaf's own
 *   `priority`, a group's, else 1), highest first, and evaluates every member of a set before it looks
 *   at the set's results: it short-circuits between sets, never inside one. An empty group passes; a
 *   group of one child takes that child's raw result; a nested group passes only on `=== true`, while
 *   the rule as a whole matches on a truthy result.
 * - Leaves: the fact is the payload's own enumerable property (absent: `undefined`); the path is
 *   applied only when the fact's value is a non-null object, through {@link resolvePath} (or the walk
 *   it was checked to take, see path-accessor.ts); a value of
 *   the form `{ fact, path }` is read the same way; `params` change nothing for payload facts.
 * - Trace: one entry per leaf in document order; a leaf counts as evaluated only when its operator
 *   returned a boolean, exactly as compiled-rule.ts reads json-rules-engine's result tree.
 *
 * What it does not copy it refuses at compile time with a reason ({@link CompiledConditions}): async
 * operators, unknown operators or decorators, shapes the validator refuses, priorities other than
 * positive integers. The evaluator throws wherever json-rules-engine would reject (an operator or a
 * path that throws, a payload with an empty key), when a sync operator returns a promise, and for a
 * payload that is not JSON data (a function fact, a non-plain object); the caller then evaluates with
 * json-rules-engine, whose result or error is the one that counts.
 */

export interface ConditionEvaluation {
  matched: boolean;
  conditions: ConditionTrace[];
}

export type ConditionEvaluator = (facts: Record<string, unknown>) => ConditionEvaluation;

export type CompiledConditions =
  | { readonly evaluate: ConditionEvaluator; readonly conditionCount: number; readonly fallback?: undefined }
  | { readonly fallback: string; readonly evaluate?: undefined };

export interface ConditionCompilerOptions {
  /**
   * The engine's custom operators, the map compiled-rule.ts registers on json-rules-engine after
   * json-rules-engine's built-ins and core's ({@link CORE_OPERATOR_FNS}, such as `present`), in that
   * order: a custom operator replaces a built-in or core operator of the same name.
   */
  operators: ReadonlyMap<string, OperatorFn>;
}

/** Thrown by an evaluator for a payload json-rules-engine would read differently: evaluate it there. */
export class ConditionEvaluationDeferred extends Error {
  override readonly name = 'ConditionEvaluationDeferred';
}

/** Deepest nesting compiled; the validator allows 8, and recursion here must stay bounded. */
const MAX_COMPILED_DEPTH = 64;

const LEAF_KEYS = new Set(['fact', 'operator', 'value', 'path', 'params', 'name', 'priority']);
const GROUP_META_KEYS = new Set(['name', 'priority']);

type Facts = Record<string, unknown>;
/** The values of the facts the conditions name, read once per evaluation, by fact index. */
type FactValues = unknown[];
type Slots = Array<ConditionTrace | undefined>;
/** A node as its parent sees it: a leaf's raw operator result, a group's `=== true`. */
type NodeEvaluation = (facts: FactValues, slots: Slots) => unknown;

class Unsupported extends Error {}

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);
const isEnumerableOwn = (value: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(value, key);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** json-rules-engine makes every enumerable payload key a fact (and a function a computed one). */
function readFact(facts: Facts, id: string): unknown {
  // hasOwnProperty first: V8 answers it inline, propertyIsEnumerable only through a runtime call.
  if (!hasOwn(facts, id) || !isEnumerableOwn(facts, id)) return undefined;
  const value = facts[id];
  if (typeof value === 'function') throw new ConditionEvaluationDeferred(`fact "${id}" is a function`);
  return value;
}

/** The almanac's `factValue(id, params, path)`: the path only reaches into non-null objects. */
function atPath(value: unknown, read: PathAccessor | undefined): unknown {
  return read !== undefined && value !== null && typeof value === 'object' ? read(value) : value;
}

/** The reader of a condition's (or a value reference's) path; undefined where the almanac applies none. */
function accessorOf(path: unknown): PathAccessor | undefined {
  if (!path) return undefined;
  // Not a string only in a value reference the validator does not look into: the resolver decides.
  return typeof path === 'string' ? pathAccessor(path) : (value) => resolvePath(value, path as string);
}

/**
 * A leaf's result flows through json-rules-engine's promise chain, which waits for a thenable: the
 * verdict sees what it resolves to while the trace keeps the thenable (not evaluated). Only
 * json-rules-engine can give that verdict.
 */
function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

const thenableResult = (operator: string) => new ConditionEvaluationDeferred(`operator "${operator}" returned a promise`);

const priorityOf = (node: Record<string, unknown>, path: string): number => {
  const priority = node['priority'];
  if (priority === undefined) return 1;
  // json-rules-engine parses a group's priority but keeps a leaf's as written (and rewrites the
  // rule object it was given): only integers mean the same to both, and the validator allows no other.
  if (typeof priority !== 'number' || !Number.isSafeInteger(priority) || priority < 1) {
    throw new Unsupported(`${path}: priority ${JSON.stringify(priority)} is not a positive integer`);
  }
  return priority;
};

class TreeCompiler {
  /** One factory per leaf, in document order: the trace of a leaf that was not evaluated. */
  readonly skipped: Array<() => ConditionTrace> = [];
  /** The facts the conditions read, each once: their values are read once per evaluation. */
  readonly factNames: string[] = [];

  constructor(private readonly operators: OperatorTable) {}

  /** The root: its comparison, whose truthiness is the verdict. */
  root(node: unknown): NodeEvaluation {
    if (!isRecord(node) || groupKind(node, 'conditions') === undefined) {
      throw new Unsupported('conditions: the root must be a group with "all", "any" or "not"');
    }
    priorityOf(node, 'conditions');
    return this.comparison(node, 'conditions', 1);
  }

  private node(node: unknown, path: string, depth: number): NodeEvaluation {
    if (depth > MAX_COMPILED_DEPTH) throw new Unsupported(`${path}: nests deeper than ${MAX_COMPILED_DEPTH} levels`);
    if (!isRecord(node)) throw new Unsupported(`${path}: a condition must be an object`);
    if (groupKind(node, path) === undefined) return this.leaf(node, path);
    const comparison = this.comparison(node, path, depth);
    return (facts, slots) => comparison(facts, slots) === true;
  }

  private comparison(node: Record<string, unknown>, path: string, depth: number): NodeEvaluation {
    const kind = groupKind(node, path) as 'all' | 'any' | 'not';
    for (const key of Object.keys(node)) {
      if (key !== kind && !GROUP_META_KEYS.has(key)) throw new Unsupported(`${path}: unsupported key "${key}" in a group`);
    }
    if (kind === 'not') {
      const inner = this.node(node['not'], `${path}.not`, depth + 1);
      return (facts, slots) => !inner(facts, slots);
    }
    const children = node[kind];
    if (!Array.isArray(children)) throw new Unsupported(`${path}: "${kind}" must be an array`);
    const compiled = children.map((child: unknown, index) => {
      const childPath = `${path}.${kind}[${index}]`;
      const priority = isRecord(child) ? priorityOf(child, childPath) : 1;
      return { priority, evaluate: this.node(child, childPath, depth + 1) };
    });
    if (compiled.length === 0) return () => true;
    const [only] = compiled;
    if (compiled.length === 1 && only) return only.evaluate;
    return kind === 'all' ? allOf(prioritySets(compiled)) : anyOf(prioritySets(compiled));
  }

  private factIndex(name: string): number {
    const index = this.factNames.indexOf(name);
    if (index >= 0) return index;
    this.factNames.push(name);
    return this.factNames.length - 1;
  }

  private leaf(node: Record<string, unknown>, path: string): NodeEvaluation {
    for (const key of Object.keys(node)) {
      if (!LEAF_KEYS.has(key)) throw new Unsupported(`${path}: unsupported key "${key}" in a condition`);
    }
    const { operator, path: factPath, value } = node;
    if (typeof node['fact'] !== 'string') throw new Unsupported(`${path}: "fact" must be a string`);
    const fact = asPropertyKey(node['fact']);
    if (typeof operator !== 'string') throw new Unsupported(`${path}: "operator" must be a string`);
    if (!hasOwn(node, 'value')) throw new Unsupported(`${path}: a condition needs a value`);
    if (factPath !== undefined && typeof factPath !== 'string') throw new Unsupported(`${path}: "path" must be a string`);
    const valueProblem = uncloneableKey(value);
    if (valueProblem) throw new Unsupported(`${path}: the value has a key "${valueProblem}" json-rules-engine's copy of the rule drops or turns into a prototype`);
    const resolved = this.operators.resolve(operator);
    if ('unsupported' in resolved) throw new Unsupported(`${path}: ${resolved.unsupported}`);
    const compare: OperatorEvaluation = resolved.evaluate;
    const index = this.skipped.length;
    const trace = traceFactories(path, fact, factPath, operator, value);
    this.skipped.push(trace.skipped);
    const evaluated = trace.evaluated;
    const read = accessorOf(factPath);
    const factAt = this.factIndex(fact);

    if (isRecord(value) && hasOwn(value, 'fact')) {
      // `{ fact, path }` as a value: json-rules-engine compares with that fact's value.
      // A fact named by anything but a string is one json-rules-engine never has: undefined.
      const referenceAt = typeof value['fact'] === 'string' ? this.factIndex(asPropertyKey(value['fact'])) : -1;
      const readReference = accessorOf(value['path']);
      return (facts, slots) => {
        const compareTo = referenceAt < 0 ? undefined : atPath(facts[referenceAt], readReference);
        const factResult = atPath(facts[factAt], read);
        const result = compare(factResult, compareTo);
        if (typeof result === 'boolean') slots[index] = evaluated(factResult, result);
        else if (isThenable(result)) throw thenableResult(operator);
        return result;
      };
    }
    return (facts, slots) => {
      const factResult = atPath(facts[factAt], read);
      const result = compare(factResult, value);
      if (typeof result === 'boolean') slots[index] = evaluated(factResult, result);
      else if (isThenable(result)) throw thenableResult(operator);
      return result;
    };
  }
}

/**
 * json-rules-engine compares with (and traces) a copy of the condition's value made by the `clone`
 * package, which skips an object's keys that Object.prototype has (`constructor`, `toString`, ...) and
 * assigns `__proto__` as a prototype: the first such key in `value`, or undefined.
 */
function uncloneableKey(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    const isArray = Array.isArray(node);
    if (!isArray && Object.getPrototypeOf(node) !== Object.prototype) return '(a non-plain object)';
    for (const key of Object.keys(node)) {
      if (!isArray && hasOwn(Object.prototype, key)) return key;
      stack.push((node as Record<string, unknown>)[key]);
    }
  }
  return undefined;
}

/** The one of `all`/`any`/`not` a node has, undefined for a leaf; refuses a node with several. */
function groupKind(node: Record<string, unknown>, path: string): 'all' | 'any' | 'not' | undefined {
  const kinds = (['all', 'any', 'not'] as const).filter((kind) => hasOwn(node, kind));
  if (kinds.length > 1) throw new Unsupported(`${path}: a group needs exactly one of "all", "any" or "not"`);
  return kinds[0];
}

/** Children grouped by priority, highest first, each set in document order (json-rules-engine's order). */
function prioritySets(children: Array<{ priority: number; evaluate: NodeEvaluation }>): NodeEvaluation[][] {
  const byPriority = new Map<number, NodeEvaluation[]>();
  for (const { priority, evaluate } of children) {
    const set = byPriority.get(priority);
    if (set) set.push(evaluate);
    else byPriority.set(priority, [evaluate]);
  }
  return [...byPriority.entries()].sort(([a], [b]) => b - a).map(([, set]) => set);
}

function allOf(sets: NodeEvaluation[][]): NodeEvaluation {
  return (facts, slots) => {
    for (const set of sets) {
      let passed = true;
      // Every member of a set is evaluated (and traced) before the set's result decides.
      for (const evaluate of set) if (evaluate(facts, slots) !== true) passed = false;
      if (!passed) return false;
    }
    return true;
  };
}

function anyOf(sets: NodeEvaluation[][]): NodeEvaluation {
  return (facts, slots) => {
    for (const set of sets) {
      let passed = false;
      for (const evaluate of set) if (evaluate(facts, slots) === true) passed = true;
      if (passed) return true;
    }
    return false;
  };
}

/** The trace entry of one leaf, evaluated or not, shaped as compiled-rule.ts's collectTraces builds it. */
function traceFactories(path: string, fact: string, factPath: string | undefined, operator: string, value: unknown) {
  if (factPath === undefined) {
    return {
      evaluated: (factResult: unknown, result: boolean): ConditionTrace => ({ path, fact, operator, value, factResult, result }),
      skipped: (): ConditionTrace => ({ path, fact, operator, value, result: false, evaluated: false }),
    };
  }
  return {
    evaluated: (factResult: unknown, result: boolean): ConditionTrace => ({ path, fact, factPath, operator, value, factResult, result }),
    skipped: (): ConditionTrace => ({ path, fact, factPath, operator, value, result: false, evaluated: false }),
  };
}

const tables = new WeakMap<ReadonlyMap<string, OperatorFn>, OperatorTable>();

/** One table per engine's operators, so that rules share resolved (decorated) operators. */
function operatorTable(operators: ReadonlyMap<string, OperatorFn>): OperatorTable {
  let table = tables.get(operators);
  if (!table) tables.set(operators, (table = new OperatorTable(new Map([...CORE_OPERATOR_FNS, ...operators]))));
  return table;
}

/**
 * Compiles `conditions` (a rule's, or a `cancelOn` entry's) into a synchronous evaluator with
 * json-rules-engine's verdict and trace, or says why it cannot (`fallback`): evaluate that rule with
 * json-rules-engine then. See the module comment for what is copied and when the evaluator throws.
 */
export function compileConditions(conditions: unknown, options: ConditionCompilerOptions): CompiledConditions {
  const table = operatorTable(options.operators);
  const problem = table.problem();
  if (problem) return { fallback: problem };
  const compiler = new TreeCompiler(table);
  let root: NodeEvaluation;
  try {
    root = compiler.root(conditions);
  } catch (error) {
    if (error instanceof Unsupported) return { fallback: error.message };
    throw error;
  }
  const { skipped, factNames } = compiler;
  const count = skipped.length;
  const evaluate: ConditionEvaluator = (facts) => {
    const proto: unknown = Object.getPrototypeOf(facts);
    if (proto !== Object.prototype && proto !== null) throw new ConditionEvaluationDeferred('the payload is not a plain object');
    // json-rules-engine refuses a fact named "" ("factId required"), whatever the conditions read.
    if (hasOwn(facts, '') && isEnumerableOwn(facts, '')) throw new ConditionEvaluationDeferred('the payload has an empty key');
    const values: FactValues = factNames.map((name) => readFact(facts, name));
    const slots: Slots = new Array<ConditionTrace | undefined>(count);
    const matched = Boolean(root(values, slots));
    for (let i = 0; i < count; i++) {
      if (slots[i] === undefined) slots[i] = (skipped[i] as () => ConditionTrace)();
    }
    return { matched, conditions: slots as ConditionTrace[] };
  };
  return { evaluate, conditionCount: count };
}
