import { closestName } from '../config/check-options.js';
/** json-rules-engine's built-in operators. */
export const BUILT_IN_OPERATORS = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;
/**
 * Operators core adds to json-rules-engine's, registered on every engine:
 *
 * - `present`: with value `true`, the fact (at its path) resolves to something other than `undefined`
 *   or `null`; with `false`, it resolves to `undefined` or `null`. A missing fact, a missing step of the
 *   path and an explicit `null` are all "not present" (json-rules-engine gives `undefined` for an absent
 *   fact or field), which `notEqual: null` cannot say: `undefined !== null`, so `notEqual: null` passes
 *   for an absent field. `{ fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true }`
 *   is false when the job has no `assignedTechnician`.
 */
export const CORE_OPERATORS = ['present'] as const;
export type CoreOperator = (typeof CORE_OPERATORS)[number];

/** Every operator a rule may name without custom operators: json-rules-engine's and core's. */
export type BuiltInOperator = (typeof BUILT_IN_OPERATORS)[number] | CoreOperator;

/** See {@link CORE_OPERATORS}: `value` must be a boolean (checked when a rule is saved). */
export const presentOperator: OperatorFn = (factValue, compareTo) => (factValue !== undefined && factValue !== null) === (compareTo === true);

/** Core's operators by name, registered on every compiled rule before the engine's custom ones. */
export const CORE_OPERATOR_FNS: ReadonlyMap<string, OperatorFn> = new Map([['present', presentOperator]]);

/** json-rules-engine's built-in operator decorators, written `decorator:operator` (`everyFact:equal`). */
export const BUILT_IN_DECORATORS = ['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'] as const;
export type OperatorDecorator = (typeof BUILT_IN_DECORATORS)[number];

/** A custom operator: compares the fact's value with the condition's value. */
export type OperatorFn = (factValue: unknown, compareTo: unknown) => boolean;

/** Accepts an operator name the way json-rules-engine resolves it, decorators included. */
export function createOperatorCheck(custom: Iterable<string>): (name: string) => boolean {
  const operators = new Set<string>([...BUILT_IN_OPERATORS, ...CORE_OPERATORS, ...custom]);
  const decorators = new Set<string>(BUILT_IN_DECORATORS);
  return (name) => {
    const parts = name.split(':');
    const op = parts.pop();
    return op !== undefined && operators.has(op) && parts.every((d) => decorators.has(d));
  };
}

// What people write for an operator coming from SQL, JavaScript or other rule engines, by the spelling
// below (lower case, without `_`, `-` and spaces), and the operator of ours they mean: edit distance
// alone would answer `==` with "in" and `greaterThanOrEqual` with `greaterThan`.
const OPERATOR_ALIASES: Readonly<Record<string, string>> = {
  '=': 'equal', '==': 'equal', '===': 'equal', eq: 'equal', eql: 'equal', equals: 'equal', is: 'equal', isequal: 'equal', equalto: 'equal',
  '!=': 'notEqual', '!==': 'notEqual', '<>': 'notEqual', ne: 'notEqual', neq: 'notEqual', notequals: 'notEqual', isnot: 'notEqual', notequalto: 'notEqual', different: 'notEqual',
  '>': 'greaterThan', gt: 'greaterThan', greater: 'greaterThan', above: 'greaterThan', morethan: 'greaterThan',
  '>=': 'greaterThanInclusive', gte: 'greaterThanInclusive', ge: 'greaterThanInclusive', greaterthanorequal: 'greaterThanInclusive', greaterthanorequalto: 'greaterThanInclusive', greaterorequal: 'greaterThanInclusive', atleast: 'greaterThanInclusive',
  '<': 'lessThan', lt: 'lessThan', less: 'lessThan', below: 'lessThan', fewerthan: 'lessThan',
  '<=': 'lessThanInclusive', lte: 'lessThanInclusive', le: 'lessThanInclusive', lessthanorequal: 'lessThanInclusive', lessthanorequalto: 'lessThanInclusive', lessorequal: 'lessThanInclusive', atmost: 'lessThanInclusive',
  includes: 'contains', include: 'contains', has: 'contains', contain: 'contains', hasitem: 'contains',
  notcontains: 'doesNotContain', notcontain: 'doesNotContain', doesnotcontains: 'doesNotContain', excludes: 'doesNotContain', notincludes: 'doesNotContain', notinclude: 'doesNotContain', hasnot: 'doesNotContain',
  nin: 'notIn', notoneof: 'notIn', notanyof: 'notIn', isnotin: 'notIn', notinlist: 'notIn',
  oneof: 'in', anyof: 'in', isin: 'in', inlist: 'in', within: 'in',
  exists: 'present', exist: 'present', isset: 'present', defined: 'present', isdefined: 'present', notnull: 'present', isnotnull: 'present', nonnull: 'present',
};

const aliasKey = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, '');

/** The operator (no decorator) a user most likely meant by `name`, among `names`. */
function nearestBaseOperator(name: string, names: readonly string[]): string | undefined {
  const key = aliasKey(name);
  const exact = names.find((candidate) => aliasKey(candidate) === key);
  if (exact !== undefined) return exact;
  const alias = OPERATOR_ALIASES[key];
  if (alias !== undefined && names.includes(alias)) return alias;
  const near = closestName(name.trim(), names);
  // Two letters are within two edits of most short names ("x" of "in"): only a prefix counts there.
  if (near !== undefined && key.length <= 2 && !near.toLowerCase().startsWith(key)) return undefined;
  return near;
}

/**
 * What to suggest for an operator name no engine knows: its decorators (`everyFact:`, `not:` ...) kept
 * or corrected, the operator itself by spelling, by alias (`==` → `equal`, `>=` →
 * `greaterThanInclusive`, `notContains` → `doesNotContain`) or by edit distance; undefined when
 * nothing is close.
 */
export function suggestOperator(name: string, names: readonly string[]): string | undefined {
  const parts = name.split(':');
  const op = parts.pop() ?? name;
  const base = nearestBaseOperator(op, names);
  if (base === undefined) return undefined;
  const decorators = parts.map((decorator) => (BUILT_IN_DECORATORS as readonly string[]).find((known) => aliasKey(known) === aliasKey(decorator)) ?? closestName(decorator.trim(), BUILT_IN_DECORATORS));
  if (decorators.some((decorator) => decorator === undefined)) return base;
  const suggestion = [...decorators, base].join(':');
  return suggestion === name ? undefined : suggestion;
}

/** The message of an unknown operator: the nearest one, when there is one, and every valid name. */
export function unknownOperatorMessage(name: string, names: readonly string[]): string {
  const suggestion = suggestOperator(name, names);
  return `unknown operator ${JSON.stringify(name)}${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; valid operators: ${names.join(', ')} (optionally decorated, e.g. "everyFact:equal")`;
}
