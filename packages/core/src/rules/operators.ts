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
export type BuiltInOperator = (typeof BUILT_IN_OPERATORS)[number];

/** json-rules-engine's built-in operator decorators, written `decorator:operator` (`everyFact:equal`). */
export const BUILT_IN_DECORATORS = ['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'] as const;
export type OperatorDecorator = (typeof BUILT_IN_DECORATORS)[number];

/** A custom operator: compares the fact's value with the condition's value. */
export type OperatorFn = (factValue: unknown, compareTo: unknown) => boolean;

/** Accepts an operator name the way json-rules-engine resolves it, decorators included. */
export function createOperatorCheck(custom: Iterable<string>): (name: string) => boolean {
  const operators = new Set<string>([...BUILT_IN_OPERATORS, ...custom]);
  const decorators = new Set<string>(BUILT_IN_DECORATORS);
  return (name) => {
    const parts = name.split(':');
    const op = parts.pop();
    return op !== undefined && operators.has(op) && parts.every((d) => decorators.has(d));
  };
}
