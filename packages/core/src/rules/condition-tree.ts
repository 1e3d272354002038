import type { ConditionTrace } from '../scheduling/trigger.js';
import type { OperatorChain, OperatorEvaluation, OperatorTable } from './condition-operators.js';
import { resolvePath } from './json-path.js';
import { asPropertyKey, pathAccessor, pathKeys, type PathAccessor } from './path-accessor.js';

/**
 * A condition tree checked against what the compiled evaluator copies of json-rules-engine, and laid
 * out for its two back ends (closures, generated code): groups with their children already in
 * json-rules-engine's priority sets, leaves with their operator resolved, their path made ready and
 * the fields of their trace entry. See condition-compiler.ts for the semantics.
 */

/** Thrown by an evaluator for a payload json-rules-engine would read differently: evaluate it there. */
export class ConditionEvaluationDeferred extends Error {
  override readonly name = 'ConditionEvaluationDeferred';
}

/** Why conditions fall back to json-rules-engine, as a metric label: few values, stable. */
export type FallbackCode = 'async_operator' | 'unknown_operator' | 'operator_names' | 'unsupported_shape' | 'priority' | 'value_copy' | 'too_deep';

/** Why a tree cannot be compiled; becomes `{ fallback, code }`. */
export class Unsupported extends Error {
  constructor(
    message: string,
    readonly code: FallbackCode = 'unsupported_shape',
  ) {
    super(message);
  }
}

/** What a leaf's trace entry says besides its outcome, in collectTraces' key order. */
export interface TraceFields {
  path: string;
  fact: string;
  factPath: string | undefined;
  operator: string;
  value: unknown;
}

export interface LeafNode {
  kind: 'leaf';
  /** Its trace entry's position (document order). */
  index: number;
  /** Index of its fact among the facts read per evaluation. */
  factAt: number;
  /** Its path's reader; undefined where json-rules-engine applies no path. */
  read: PathAccessor | undefined;
  /** The keys `read` walks, when it is such a walk (see path-accessor.ts). */
  keys: readonly string[] | null;
  compare: OperatorEvaluation;
  /** What `compare` is made of, for generated code to write out. */
  chain: OperatorChain;
  /** `{ fact, path }` as the value: the fact index (-1: a fact json-rules-engine never has) and path reader. */
  reference: { factAt: number; read: PathAccessor | undefined } | null;
  trace: TraceFields;
}

/** `all`/`any` with their children in priority sets, highest first; `children` in document order. */
export interface GroupNode {
  kind: 'all' | 'any';
  children: ConditionNode[];
  sets: ConditionNode[][];
}

export interface NotNode {
  kind: 'not';
  child: ConditionNode;
}

export type ConditionNode = LeafNode | GroupNode | NotNode;

export interface ConditionTree {
  /** The root group, whose comparison's truthiness is the verdict. */
  root: GroupNode | NotNode;
  /** Leaves in document order. */
  leaves: LeafNode[];
  /** The facts the conditions read, each once. */
  factNames: string[];
}

/** Deepest nesting compiled; the validator allows 8, and recursion here must stay bounded. */
const MAX_COMPILED_DEPTH = 64;

const LEAF_KEYS = new Set(['fact', 'operator', 'value', 'path', 'params', 'name', 'priority']);
const GROUP_META_KEYS = new Set(['name', 'priority']);

export const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A leaf's result flows through json-rules-engine's promise chain, which waits for a thenable: the
 * verdict sees what it resolves to while the trace keeps the thenable (not evaluated). Only
 * json-rules-engine can give that verdict.
 */
export function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export const thenableResult = (operator: string): ConditionEvaluationDeferred => new ConditionEvaluationDeferred(`operator "${operator}" returned a promise`);

/** The almanac's `factValue(id, params, path)`: the path only reaches into non-null objects. */
export function atPath(value: unknown, read: PathAccessor | undefined): unknown {
  return read !== undefined && value !== null && typeof value === 'object' ? read(value) : value;
}

/** A reader for a condition's (or a value reference's) path; undefined where the almanac applies none. */
function accessorOf(path: unknown): PathAccessor | undefined {
  if (!path) return undefined;
  // Not a string only in a value reference the validator does not look into: the resolver decides.
  return typeof path === 'string' ? pathAccessor(path) : (value) => resolvePath(value, path as string);
}

function priorityOf(node: Record<string, unknown>, path: string): number {
  const priority = node['priority'];
  if (priority === undefined) return 1;
  // json-rules-engine parses a group's priority but keeps a leaf's as written (and rewrites the
  // rule object it was given): only integers mean the same to both, and the validator allows no other.
  if (typeof priority !== 'number' || !Number.isSafeInteger(priority) || priority < 1) {
    throw new Unsupported(`${path}: priority ${JSON.stringify(priority)} is not a positive integer`, 'priority');
  }
  return priority;
}

/** The one of `all`/`any`/`not` a node has, undefined for a leaf; refuses a node with several. */
function groupKind(node: Record<string, unknown>, path: string): 'all' | 'any' | 'not' | undefined {
  const kinds = (['all', 'any', 'not'] as const).filter((kind) => hasOwn(node, kind));
  if (kinds.length > 1) throw new Unsupported(`${path}: a group needs exactly one of "all", "any" or "not"`);
  return kinds[0];
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

/** Children grouped by priority, highest first, each set in document order (json-rules-engine's order). */
function prioritySets(children: Array<{ priority: number; node: ConditionNode }>): ConditionNode[][] {
  const byPriority = new Map<number, ConditionNode[]>();
  for (const { priority, node } of children) {
    const set = byPriority.get(priority);
    if (set) set.push(node);
    else byPriority.set(priority, [node]);
  }
  return [...byPriority.entries()].sort(([a], [b]) => b - a).map(([, set]) => set);
}

class TreeBuilder {
  readonly leaves: LeafNode[] = [];
  readonly factNames: string[] = [];

  constructor(private readonly operators: OperatorTable) {}

  root(node: unknown): GroupNode | NotNode {
    if (!isRecord(node) || groupKind(node, 'conditions') === undefined) {
      throw new Unsupported('conditions: the root must be a group with "all", "any" or "not"');
    }
    priorityOf(node, 'conditions');
    return this.group(node, 'conditions', 1);
  }

  private node(node: unknown, path: string, depth: number): ConditionNode {
    if (depth > MAX_COMPILED_DEPTH) throw new Unsupported(`${path}: nests deeper than ${MAX_COMPILED_DEPTH} levels`, 'too_deep');
    if (!isRecord(node)) throw new Unsupported(`${path}: a condition must be an object`);
    return groupKind(node, path) === undefined ? this.leaf(node, path) : this.group(node, path, depth);
  }

  private group(node: Record<string, unknown>, path: string, depth: number): GroupNode | NotNode {
    const kind = groupKind(node, path) as 'all' | 'any' | 'not';
    for (const key of Object.keys(node)) {
      if (key !== kind && !GROUP_META_KEYS.has(key)) throw new Unsupported(`${path}: unsupported key "${key}" in a group`);
    }
    if (kind === 'not') return { kind, child: this.node(node['not'], `${path}.not`, depth + 1) };
    const children = node[kind];
    if (!Array.isArray(children)) throw new Unsupported(`${path}: "${kind}" must be an array`);
    const compiled = children.map((child: unknown, index) => {
      const childPath = `${path}.${kind}[${index}]`;
      const priority = isRecord(child) ? priorityOf(child, childPath) : 1;
      return { priority, node: this.node(child, childPath, depth + 1) };
    });
    return { kind, children: compiled.map((c) => c.node), sets: prioritySets(compiled) };
  }

  private factIndex(name: string): number {
    const index = this.factNames.indexOf(name);
    if (index >= 0) return index;
    this.factNames.push(name);
    return this.factNames.length - 1;
  }

  private leaf(node: Record<string, unknown>, path: string): LeafNode {
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
    if (valueProblem) throw new Unsupported(`${path}: the value has a key "${valueProblem}" json-rules-engine's copy of the rule drops or turns into a prototype`, 'value_copy');
    const resolved = this.operators.resolve(operator);
    if ('unsupported' in resolved) throw new Unsupported(`${path}: ${resolved.unsupported}`, resolved.code);
    // A fact a value reference names by anything but a string is one json-rules-engine never has.
    const reference =
      isRecord(value) && hasOwn(value, 'fact') ? { factAt: typeof value['fact'] === 'string' ? this.factIndex(asPropertyKey(value['fact'])) : -1, read: accessorOf(value['path']) } : null;
    const leaf: LeafNode = {
      kind: 'leaf',
      index: this.leaves.length,
      factAt: this.factIndex(fact),
      read: accessorOf(factPath),
      keys: factPath ? pathKeys(factPath) : null,
      compare: resolved.evaluate,
      chain: resolved.chain,
      reference,
      trace: { path, fact, factPath, operator, value },
    };
    this.leaves.push(leaf);
    return leaf;
  }
}

export function buildConditionTree(conditions: unknown, operators: OperatorTable): ConditionTree {
  const builder = new TreeBuilder(operators);
  const root = builder.root(conditions);
  return { root, leaves: builder.leaves, factNames: builder.factNames };
}

/** The trace entry of a leaf json-rules-engine did not evaluate (or whose result was not a boolean). */
export function skippedTrace({ path, fact, factPath, operator, value }: TraceFields): ConditionTrace {
  return factPath === undefined ? { path, fact, operator, value, result: false, evaluated: false } : { path, fact, factPath, operator, value, result: false, evaluated: false };
}
