/** What a condition's value is typed as in the form. `json` holds anything the other kinds cannot. */
export type ValueKind = 'string' | 'number' | 'boolean' | 'null' | 'list' | 'json';

export interface OperatorInfo {
  /** The name a rule's JSON uses (`greaterThanInclusive`), which is also what the form shows. */
  name: string;
  /** A short reading of it, shown after the name: `≥`, `is one of`. */
  hint: string;
  /** Value kinds that make sense with it, the first being the default. */
  valueKinds: readonly ValueKind[];
}

/**
 * json-rules-engine's built-in operators and the engine's own (`present`): the ones the form offers.
 * The form names them as the JSON view, the API's errors and the rule reference do, so what a user
 * picks is what they would type.
 */
export const OPERATORS: readonly OperatorInfo[] = [
  { name: 'equal', hint: '=', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'notEqual', hint: '≠', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'lessThan', hint: '<', valueKinds: ['number', 'string'] },
  { name: 'lessThanInclusive', hint: '≤', valueKinds: ['number', 'string'] },
  { name: 'greaterThan', hint: '>', valueKinds: ['number', 'string'] },
  { name: 'greaterThanInclusive', hint: '≥', valueKinds: ['number', 'string'] },
  { name: 'in', hint: 'is one of', valueKinds: ['list', 'json'] },
  { name: 'notIn', hint: 'is not one of', valueKinds: ['list', 'json'] },
  { name: 'contains', hint: 'has the value', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'doesNotContain', hint: 'lacks the value', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  // true: there and not null; false: missing or null (`notEqual: null` passes for a missing field).
  { name: 'present', hint: 'is there, not null', valueKinds: ['boolean'] },
];

/** How the form labels an operator: its JSON name, then its hint (`greaterThanInclusive (≥)`). */
export function operatorLabel(name: string): string {
  const info = operatorInfo(name);
  return info ? `${info.name} (${info.hint})` : name;
}

export const VALUE_KIND_LABELS: Record<ValueKind, string> = {
  string: 'Text',
  number: 'Number',
  boolean: 'True/false',
  null: 'Null',
  list: 'List',
  json: 'JSON',
};

export function operatorInfo(name: string): OperatorInfo | undefined {
  return OPERATORS.find((o) => o.name === name);
}

/** Value kinds the form offers for an operator; an unknown operator allows any. */
export function valueKindsFor(operator: string): readonly ValueKind[] {
  return operatorInfo(operator)?.valueKinds ?? ['string', 'number', 'boolean', 'null', 'list', 'json'];
}
