import fc from 'fast-check';
import type { OperatorFn } from '../src/rules/operators.js';

/*
 * Generators for the differential test: condition trees over a small pool of facts and fields (so that
 * conditions meet the payloads they are tested on), and payloads over the same pools.
 */

export const FACTS = ['a', 'b', 'job', 'items'] as const;
const RARE_FACTS = ['constructor', '__proto__', 'toString', 'c'] as const;
const FIELDS = ['x', 'y', 'status', 'total', '0', '1'] as const;
export const FIELD_NAMES: readonly string[] = FIELDS;

const BUILT_IN = ['equal', 'notEqual', 'in', 'notIn', 'contains', 'doesNotContain', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'] as const;
const DECORATORS = ['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'] as const;

/** Sync custom operators, each covering a way a real one behaves. */
export const CUSTOM_OPERATORS: ReadonlyMap<string, OperatorFn> = new Map<string, OperatorFn>([
  ['startsWith', (a, b) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b)],
  // Returns the fact's value itself: json-rules-engine keeps a non-boolean result as it is.
  ['raw', (a) => a as boolean],
  // Not a boolean when the fact has no length.
  ['lengthIs', (a, b) => (Array.isArray(a) || typeof a === 'string' ? a.length === b : (undefined as unknown as boolean))],
  ['throwsOnBoom', (a, b) => {
    if (a === 'boom') throw new Error('boom');
    return a === b;
  }],
  // A sync function returning a promise: json-rules-engine's verdict waits for it, its trace does not.
  ['promised', (a) => Promise.resolve(a === 1) as unknown as boolean],
]);

export const numberEdges = fc.constantFrom(0, -0, 1, -1, 0.5, -0.5, 2, 3, 10, 1999.99, 2000, 1e21, 2 ** 53 - 1, 2 ** 53, -(2 ** 53 - 1), Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, NaN, Infinity, -Infinity);
const stringEdges = fc.constantFrom('', 'a', 'b', 'A', 'ab', '0', '1', '01', '1.5', '-1', ' 2', '2abc', 'abc', 'Done', 'boom', 'NaN', 'Infinity', '1e3', '0x1F', 'true', 'null', 'x', 'status', '2000', '2025-07-06T21:42:00.000Z', '2025-07-06T21:42:00Z', '2025-07-06', '2026-01-01T00:00:00.000Z', '2024-02-29');

export const scalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: numberEdges },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 4, arbitrary: stringEdges },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const fieldKey = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '') });

/** Builds an object with own keys, `__proto__` included, as JSON.parse would. */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> => Object.fromEntries(entries) as Record<string, unknown>;

function jsonOver(keys: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 3, withCrossShrink: true },
      { weight: 4, arbitrary: scalar },
      { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
      { weight: 2, arbitrary: fc.array(fc.tuple(keys, tie('value')), { maxLength: 4 }).map(objectOf) },
    ),
  })).value;
}

/** Payload data: JSON with `__proto__` and `constructor` keys now and then. */
export const json = jsonOver(fieldKey);
/**
 * Condition values: JSON without keys Object.prototype has, which json-rules-engine's copy of the
 * rule drops (the compiler refuses those; a test of its own covers that).
 */
const valueJson = jsonOver(fc.constantFrom(...FIELDS, ''));

export const jsonPath = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('$.x', '$.y', '$.status', '$.total', '$.x.y', '$.x.x', "$['x']", '$["status"]', '$[0]', '$[1]', '$.0', '$.x[0]', '$.x[1].y') },
  { weight: 3, arbitrary: fc.constantFrom('$', '', '$.*', '$[*]', '$.x.*', '$..x', '$..*', '$..[0]', '$[0:2]', '$[-1:]', '$[::2]', "$['x','y']", '$[0,1]', '$.__proto__', '$.constructor') },
  // Refused at save time; json-rules-engine and the evaluator must still fail alike on them.
  { weight: 1, arbitrary: fc.constantFrom('$.x[?(@.y)]', 'x', '$..x..y', "$['x','x']") },
);

const factName = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...FACTS) }, { weight: 1, arbitrary: fc.constantFrom(...RARE_FACTS) });

const CUSTOM_NAMES = [...CUSTOM_OPERATORS.keys()].filter((name) => name !== 'promised');

export function operatorName(extra: readonly string[]): fc.Arbitrary<string> {
  const base = fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom(...BUILT_IN) },
    { weight: 10, arbitrary: fc.constantFrom(...CUSTOM_NAMES, ...extra) },
    // Rare: every evaluation of it defers to json-rules-engine.
    { weight: 1, arbitrary: fc.constant('promised') },
  );
  const decorators = fc.oneof({ weight: 5, arbitrary: fc.constant<string[]>([]) }, { weight: 4, arbitrary: fc.array(fc.constantFrom(...DECORATORS), { minLength: 1, maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...DECORATORS), { minLength: 3, maxLength: 3 }) });
  return fc.tuple(decorators, base).map(([decorated, op]) => [...decorated, op].join(':'));
}

const conditionValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 3, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: valueJson },
  // `{ fact, path }`: json-rules-engine compares with that fact's value.
  { weight: 1, arbitrary: fc.record({ fact: factName, path: jsonPath }, { requiredKeys: ['fact'] }) },
);

const priority = fc.integer({ min: 1, max: 3 });

/** Operators that read the condition's value as a list: mostly given one, so that few cases only throw. */
const readsAList = (operator: string): boolean => /(^|:)(in|notIn|someValue|everyValue)(:|$)/.test(operator);
const listValue = fc.oneof({ weight: 3, arbitrary: fc.array(scalar, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(fc.array(scalar, { maxLength: 3 }), { maxLength: 3 }) });

export function leaf(extraOperators: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return operatorName(extraOperators).chain((operator) =>
    fc
      .record(
        {
          fact: factName,
          operator: fc.constant(operator),
          value: readsAList(operator) ? fc.oneof({ weight: 6, arbitrary: listValue }, { weight: 1, arbitrary: conditionValue }) : conditionValue,
          path: jsonPath,
          priority,
          name: fc.constant('named'),
          params: fc.constant({ p: 1 }),
        },
        { requiredKeys: ['fact', 'operator', 'value'] },
      )
      .chain((node) => fc.constantFrom<Record<string, unknown>>(node, node, node, node, { ...node, priority: undefined })),
  );
}

/** A condition tree: `all`/`any`/`not` groups with priorities, down to four levels. */
export function conditionTree(extraOperators: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const leaves = leaf(extraOperators);
  const tree = fc.letrec<{ node: Record<string, unknown>; group: Record<string, unknown> }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', maxDepth: 4, withCrossShrink: true }, { weight: 3, arbitrary: leaves }, { weight: 1, arbitrary: tie('group') }),
    group: fc.oneof(
      fc.record({ all: fc.array(tie('node'), { maxLength: 5 }), priority, name: fc.constant('g') }, { requiredKeys: ['all'] }),
      fc.record({ any: fc.array(tie('node'), { maxLength: 5 }), priority }, { requiredKeys: ['any'] }),
      fc.record({ not: tie('node'), priority }, { requiredKeys: ['not'] }),
    ),
  }));
  return tree.group;
}

/** A payload over the fact pool; about one in a hundred with an empty key, which json-rules-engine refuses. */
export const payload: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.array(fc.tuple(fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...FACTS) }, { weight: 1, arbitrary: fc.constantFrom(...RARE_FACTS) }), json), { maxLength: 5 }), fc.noBias(fc.integer({ min: 0, max: 99 })))
  .map(([entries, dice]) => objectOf(dice === 0 ? [...entries, ['', 1]] : entries));
