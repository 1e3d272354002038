import { types } from 'node:util';

/**
 * Bounds on the shape of tenant JSON (events, rule documents, webhook payloads, custom action params),
 * checked iteratively before any recursive work (zod, structuredClone, JSON.stringify, template
 * rendering), so a 15 KB document 2,500 levels deep is a typed refusal rather than a `RangeError`.
 * In-process callers can pass what JSON cannot hold (a function, a cycle, a getter that throws); that
 * is refused here too, with its path, rather than escaping later from structuredClone or a store.
 */

/** Deepest nesting of objects and arrays accepted in tenant JSON. `{}` is depth 1. */
export const MAX_JSON_DEPTH = 64;

/**
 * Most objects, arrays and values walked in one document. A tree within the byte limits has far
 * fewer; a JavaScript caller's object graph with shared references (a DAG) could expand without end.
 */
export const MAX_JSON_NODES = 500_000;

export type JsonShapeProblem =
  | { code: 'too_deep'; path: PropertyKey[]; message: string }
  | { code: 'too_large'; path: PropertyKey[]; message: string }
  | { code: 'not_json'; path: PropertyKey[]; message: string };

const { isDate, isProxy } = types;

/** What the walk does with a value: nothing more (a leaf), walk into it (an object or array), or refuse it. */
const LEAF = 0;
const CONTAINER = 1;

/**
 * Whether `value` (not nested further) can be part of a JSON document, or what keeps it from being
 * one. Accepted: null, booleans, numbers, strings, undefined (JSON drops it, as an optional field
 * left unset), arrays, plain objects (of any realm, or without a prototype) and Dates (they are
 * written as ISO text); everything else has no JSON form that means the same, or cannot be copied
 * by a store. Ordered for the common case: intake runs this on every value of every event.
 */
function kindOf(value: unknown): typeof LEAF | typeof CONTAINER | string {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return LEAF;
    case 'bigint':
      return 'holds a bigint, which JSON cannot represent';
    case 'symbol':
      return 'holds a symbol, which JSON cannot represent';
    case 'function':
      return 'holds a function, which JSON cannot represent';
  }
  if (value === null) return LEAF;
  // A proxy's traps run on every read (and structuredClone refuses it); it is not data.
  if (isProxy(value)) return 'holds a Proxy, which is not a JSON value';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null || Array.isArray(value)) return CONTAINER;
  if (value instanceof Date || isDate(value)) return LEAF;
  // A plain object of another realm: its prototype is that realm's Object.prototype.
  if (Object.getPrototypeOf(proto) === null) return CONTAINER;
  let name: unknown;
  try {
    name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  return `holds ${typeof name === 'string' && name !== '' ? `a ${name}` : 'an object that is not a plain object'}, which is not a JSON value (use plain objects, arrays, strings, numbers, booleans and null)`;
}

/**
 * Walks `value` without recursion and reports the first place it is nested deeper than `maxDepth`,
 * holds more than `maxNodes` nodes, or holds something that is not JSON (a function, a symbol, a
 * bigint, a Map, a class instance, a Proxy, a property whose getter throws); null when it is none of these.
 * A cycle is reported as too deep, at the path that goes round it.
 */
export function checkJsonShape(value: unknown, maxDepth: number = MAX_JSON_DEPTH, maxNodes: number = MAX_JSON_NODES): JsonShapeProblem | null {
  const rootKind = kindOf(value);
  if (typeof rootKind === 'string') return { code: 'not_json', path: [], message: rootKind };
  if (rootKind === LEAF) return null;
  // Parallel stacks: the node, its depth, and the key that led to it (for the path of a refusal).
  const nodes: object[] = [value as object];
  const depths: number[] = [1];
  const parents: number[] = [-1];
  const keys: PropertyKey[] = [''];
  const trail: Trail = [];
  let visited = 0;
  while (nodes.length > 0) {
    const node = nodes.pop() as object;
    const depth = depths.pop() as number;
    const parent = parents.pop() as number;
    const key = keys.pop() as PropertyKey;
    const here = trail.length;
    trail.push({ parent, key, node });
    visited += 1;
    if (visited > maxNodes) {
      return { code: 'too_large', path: pathOf(trail, here), message: `holds more than ${maxNodes} values` };
    }
    if (depth > maxDepth) {
      // Only a branch this deep can hold a cycle, so only here is it worth looking for one.
      const cycle = cycleOn(trail, here);
      if (cycle) return { code: 'not_json', path: cycle, message: 'refers back to a value that contains it (a cycle), which JSON cannot represent' };
      return { code: 'too_deep', path: pathOf(trail, here), message: `nests more than ${maxDepth} levels of objects and arrays` };
    }
    const isArray = Array.isArray(node);
    let names: string[];
    try {
      names = isArray ? [] : Object.keys(node);
    } catch (error) {
      return { code: 'not_json', path: pathOf(trail, here), message: `could not be read (${describeThrown(error)})` };
    }
    const count = isArray ? (node as unknown[]).length : names.length;
    // Every slot is a value to visit (a hole too): a sparse array's length alone can exceed the budget,
    // so it is checked before any work per slot.
    if (visited + count > maxNodes) {
      return { code: 'too_large', path: pathOf(trail, here), message: `holds more than ${maxNodes} values` };
    }
    if (isArray) {
      const named = namedArrayProperty(node as unknown[]);
      if (named !== undefined) {
        return { code: 'not_json', path: [...pathOf(trail, here), named], message: `is an array with a named property ("${named.slice(0, 60)}"), which JSON cannot represent` };
      }
    }
    for (let i = count - 1; i >= 0; i--) {
      const childKey: PropertyKey = isArray ? i : (names[i] as string);
      let child: unknown;
      try {
        // A getter runs here, as it would in JSON.stringify or structuredClone later.
        child = (node as Record<PropertyKey, unknown>)[childKey];
      } catch (error) {
        return { code: 'not_json', path: [...pathOf(trail, here), childKey], message: `could not be read (${describeThrown(error)})` };
      }
      const kind = kindOf(child);
      if (typeof kind === 'string') return { code: 'not_json', path: [...pathOf(trail, here), childKey], message: kind };
      if (kind === CONTAINER) push(child as object, depth + 1, here, childKey);
      else visited += 1;
    }
  }
  return null;

  function push(child: object, depth: number, parent: number, key: PropertyKey) {
    nodes.push(child);
    depths.push(depth);
    parents.push(parent);
    keys.push(key);
  }
}

/**
 * The first own enumerable property of an array that is not an index, if any. JSON.stringify drops
 * such a property while a store's structured clone copies it (and throws on a function in it), so an
 * array carrying one is not JSON data. `Object.keys` lists indices first, so the last key decides.
 */
function namedArrayProperty(array: unknown[]): string | undefined {
  const own = Object.keys(array);
  let i = own.length - 1;
  if (i < 0 || isArrayIndex(own[i] as string, array.length)) return undefined;
  while (i > 0 && !isArrayIndex(own[i - 1] as string, array.length)) i--;
  return own[i];
}

function isArrayIndex(key: string, length: number): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < length && String(n) === key;
}

function describeThrown(error: unknown): string {
  let message: string;
  try {
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    // What was thrown cannot even be turned into text (a throwing toString).
    message = 'a value that cannot be shown';
  }
  return `reading it threw: ${message.slice(0, 120)}`;
}

type Trail = Array<{ parent: number; key: PropertyKey; node: object }>;

/** The path to the first value on the branch ending at `index` that is one of its own ancestors. */
function cycleOn(trail: Trail, index: number): PropertyKey[] | null {
  const branch: number[] = [];
  for (let i = index; i >= 0; ) {
    const step = trail[i];
    if (!step) break;
    branch.push(i);
    i = step.parent;
  }
  branch.reverse();
  const seen = new Set<object>();
  for (const i of branch) {
    const node = (trail[i] as Trail[number]).node;
    if (seen.has(node)) return pathOf(trail, i);
    seen.add(node);
  }
  return null;
}

function pathOf(trail: Trail, index: number): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let i = index; i > 0; ) {
    const step = trail[i];
    if (!step) break;
    path.push(step.key);
    i = step.parent;
  }
  return path.reverse();
}
