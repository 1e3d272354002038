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
