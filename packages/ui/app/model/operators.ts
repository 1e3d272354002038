/** What a condition's value is typed as in the form. `json` holds anything the other kinds cannot. */
export type ValueKind = 'string' | 'number' | 'boolean' | 'null' | 'list' | 'json';

export interface OperatorInfo {
  name: string;
  /** How the form reads it: "is greater than or equal to". */
  label: string;
  /** Value kinds that make sense with it, the first being the default. */
  valueKinds: readonly ValueKind[];
}

/** json-rules-engine's built-in operators: the only ones the form offers. */
export const OPERATORS: readonly OperatorInfo[] = [
  { name: 'equal', label: 'equals', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'notEqual', label: 'does not equal', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'lessThan', label: 'is less than', valueKinds: ['number', 'string'] },
  { name: 'lessThanInclusive', label: 'is at most', valueKinds: ['number', 'string'] },
  { name: 'greaterThan', label: 'is greater than', valueKinds: ['number', 'string'] },
  { name: 'greaterThanInclusive', label: 'is at least', valueKinds: ['number', 'string'] },
  { name: 'in', label: 'is one of', valueKinds: ['list', 'json'] },
  { name: 'notIn', label: 'is not one of', valueKinds: ['list', 'json'] },
  { name: 'contains', label: 'contains', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
  { name: 'doesNotContain', label: 'does not contain', valueKinds: ['string', 'number', 'boolean', 'null', 'json'] },
];

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
