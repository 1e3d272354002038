import type { NodeEvaluation } from './condition-closures.js';
import { isNumberLike, type BuiltInEvaluation, type OperatorChain } from './condition-operators.js';
import { isThenable, thenableResult, type ConditionNode, type ConditionTree, type GroupNode, type LeafNode, type NotNode } from './condition-tree.js';

/**
 * The generated-code back end of the condition compiler: one function per rule, the tree's control
 * flow written out (priority sets, every member of a set evaluated, short-circuits between sets),
 * json-rules-engine's own operators written inline, paths walked key by key. One function per rule
 * gives each rule its own inline caches, which is most of the speed over closures shared by all rules.
 *
 * The generated text holds nothing of the rule but numbers and strings of letters, digits and
 * `_ .@:+-/` written as literals (so that the JIT compares and looks up constants); every other value,
 * key, trace field and operator is read from the constants array `C` (or called from `F`) by index,
 * so a rule cannot inject code. It reads exactly as condition-closures.ts evaluates; the differential
 * test runs both against json-rules-engine.
 */

/** isNumberLike, its number case written out (a helper call per leaf outruns the JIT's inlining budget). */
const numberLike = (a: string): string => `(typeof ${a} === "number" ? ${a} === ${a} : N(${a}))`;

/** hasOwnProperty as the JIT reduces it in place (see numberLike). */
const own = (target: string, key: string): string => `Object.prototype.hasOwnProperty.call(${target}, ${key})`;

// Operands are variables or literals, used more than once; member calls are parenthesized since a
// literal may be a number.
const INLINE: Record<BuiltInEvaluation, (fact: string, value: string) => string> = {
  equal: (a, b) => `${a} === ${b}`,
  notEqual: (a, b) => `${a} !== ${b}`,
  in: (a, b) => `(${b}).indexOf(${a}) > -1`,
  notIn: (a, b) => `(${b}).indexOf(${a}) === -1`,
  contains: (a, b) => `Array.isArray(${a}) && (${a}).indexOf(${b}) > -1`,
  doesNotContain: (a, b) => `Array.isArray(${a}) && (${a}).indexOf(${b}) === -1`,
  lessThan: (a, b) => `${numberLike(a)} && ${a} < ${b}`,
  lessThanInclusive: (a, b) => `${numberLike(a)} && ${a} <= ${b}`,
  greaterThan: (a, b) => `${numberLike(a)} && ${a} > ${b}`,
  greaterThanInclusive: (a, b) => `${numberLike(a)} && ${a} >= ${b}`,
};

/** Whether the chain's result is always a boolean (json-rules-engine's operators and decorators but `swap`). */
function givesBoolean(chain: OperatorChain): boolean {
  const [outer, ...rest] = chain.decorators;
  if (outer === undefined) return 'builtIn' in chain.base;
  return outer === 'swap' ? givesBoolean({ decorators: rest, base: chain.base }) : true;
}

const SAFE_STRING = /^[\p{L}\p{N}_ .@:+\-/]{0,200}$/u;

/** `value` as a literal of the generated text, when it is one that cannot be anything else. */
function literal(value: unknown): string | null {
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    return Number.isFinite(value) ? String(value) : null;
  }
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string' && SAFE_STRING.test(value)) return `"${value}"`;
  return null;
}

class Emitter {
  readonly lines: string[] = [];
  readonly constants: unknown[] = [];
  readonly functions: Array<(...args: never[]) => unknown> = [];
  private variables = 0;
  private parameters = 0;

  /** A name for an arrow function's parameter (decorators), unique in the function. */
  parameter(): string {
    this.parameters += 1;
    return `p${this.parameters}`;
  }

  variable(): string {
    this.variables += 1;
    return `v${this.variables}`;
  }

  declarations(): string {
    return this.variables === 0 ? '' : `let ${Array.from({ length: this.variables }, (_, i) => `v${i + 1}`).join(', ')};`;
  }

  constant(value: unknown): string {
    const written = literal(value);
    if (written !== null) return written;
    this.constants.push(value);
    return `C[${this.constants.length - 1}]`;
  }

  fn(value: (...args: never[]) => unknown): string {
    this.functions.push(value);
    return `F[${this.functions.length - 1}]`;
  }

  line(text: string): void {
    this.lines.push(text);
  }
}

/** Reads fact `factAt` into `target`, then its path: inline key by key for a checked walk. */
function emitRead(out: Emitter, target: string, factAt: number, read: LeafNode['read'], keys: LeafNode['keys']): void {
  out.line(`${target} = V[${factAt}];`);
  if (read === undefined) return;
  if (keys === null) {
    out.line(`if (${target} !== null && typeof ${target} === "object") ${target} = ${out.fn(read)}(${target});`);
    return;
  }
  const [first, ...rest] = keys.map((key) => out.constant(key));
  if (first === undefined) return;
  out.line(`if (${target} !== null && typeof ${target} === "object") {`);
  out.line(`${target} = ${own(target, first)} ? ${target}[${first}] : undefined;`);
  for (const key of rest) out.line(`${target} = typeof ${target} === "object" && ${target} !== null && ${own(target, key)} ? ${target}[${key}] : undefined;`);
  out.line('}');
}

/** The chain's comparison of `a` with `b`, as json-rules-engine's decorators compose (outermost first). */
function emitOperator(out: Emitter, chain: OperatorChain, a: string, b: string): string {
  const [outer, ...rest] = chain.decorators;
  if (outer === undefined) return 'builtIn' in chain.base ? `(${INLINE[chain.base.builtIn](a, b)})` : `${out.fn(chain.base.registered)}(${a}, ${b})`;
  const inner = { decorators: rest, base: chain.base };
  const item = out.parameter();
  switch (outer) {
    case 'someFact':
      return `(Array.isArray(${a}) && (${a}).some((${item}) => ${emitOperator(out, inner, item, b)}))`;
    case 'everyFact':
      return `(Array.isArray(${a}) && (${a}).every((${item}) => ${emitOperator(out, inner, item, b)}))`;
    case 'someValue':
      return `(${b}).some((${item}) => ${emitOperator(out, inner, a, item)})`;
    case 'everyValue':
      return `(${b}).every((${item}) => ${emitOperator(out, inner, a, item)})`;
    case 'swap':
      return emitOperator(out, inner, b, a);
    case 'not':
      return `!${emitOperator(out, inner, a, b)}`;
  }
}

function emitLeaf(out: Emitter, leaf: LeafNode): string {
  const factResult = out.variable();
  const result = out.variable();
  let against: string;
  if (leaf.reference) {
    against = out.variable();
    if (leaf.reference.factAt < 0) out.line(`${against} = undefined;`);
    else emitRead(out, against, leaf.reference.factAt, leaf.reference.read, null);
  } else {
    against = out.constant(leaf.trace.value);
  }
  emitRead(out, factResult, leaf.factAt, leaf.read, leaf.keys);
  out.line(`${result} = ${emitOperator(out, leaf.chain, factResult, against)};`);
  const { path, fact, factPath, operator, value } = leaf.trace;
  const fields = [`path: ${out.constant(path)}`, `fact: ${out.constant(fact)}`];
  if (factPath !== undefined) fields.push(`factPath: ${out.constant(factPath)}`);
  fields.push(`operator: ${out.constant(operator)}`, `value: ${out.constant(value)}`, `factResult: ${factResult}`, `result: ${result}`);
  const record = `S[${leaf.index}] = { ${fields.join(', ')} };`;
  if (givesBoolean(leaf.chain)) out.line(record);
  else out.line(`if (typeof ${result} === "boolean") ${record} else if (T(${result})) throw D(${out.constant(operator)});`);
  return result;
}

function emitGroup(out: Emitter, group: GroupNode): string {
  const [only] = group.children;
  if (group.children.length === 0) return 'true';
  if (group.children.length === 1 && only) return emitNode(out, only);
  const outcome = out.variable();
  const all = group.kind === 'all';
  out.line(`${outcome} = ${all};`);
  group.sets.forEach((set, index) => {
    // Later sets only while the group is undecided.
    if (index > 0) out.line(all ? `if (${outcome}) {` : `if (!${outcome}) {`);
    const passed = out.variable();
    out.line(`${passed} = ${all};`);
    for (const child of set) {
      const value = emitNode(out, child);
      out.line(all ? `if (${value} !== true) ${passed} = false;` : `if (${value} === true) ${passed} = true;`);
    }
    out.line(all ? `if (!${passed}) ${outcome} = false;` : `if (${passed}) ${outcome} = true;`);
    if (index > 0) out.line('}');
  });
  return outcome;
}

function emitComparison(out: Emitter, node: GroupNode | NotNode): string {
  if (node.kind === 'not') return `!${wrap(emitNode(out, node.child))}`;
  return emitGroup(out, node);
}

const wrap = (expression: string): string => (/^[\w$[\]]+$/.test(expression) ? expression : `(${expression})`);

function emitNode(out: Emitter, node: ConditionNode): string {
  if (node.kind === 'leaf') return emitLeaf(out, node);
  const value = out.variable();
  out.line(`${value} = ${wrap(emitComparison(out, node))} === true;`);
  return value;
}

/** The root's comparison as one generated function, or null where the runtime refuses `new Function`. */
export function generateEvaluation(tree: ConditionTree): NodeEvaluation | null {
  const out = new Emitter();
  const verdict = emitComparison(out, tree.root);
  const body = ['"use strict";', 'return function evaluateConditions(V, S) {', out.declarations(), ...out.lines, `return ${verdict};`, '};'].join('\n');
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from the tree's shape only (see the module comment)
    const factory = new Function('C', 'F', 'N', 'T', 'D', body) as (...args: unknown[]) => NodeEvaluation;
    return factory(out.constants, out.functions, isNumberLike, isThenable, thenableResult);
  } catch {
    return null;
  }
}
