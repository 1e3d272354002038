import { resolvePath } from './json-path.js';

/**
 * A condition path made ready to read: for a path naming one value by names and indexes (`$.a.b`,
 * `$['a'][0]`), a walk over those keys, which is what {@link resolvePath} does for such a path without
 * looking the path up and stepping through its parsed form on every read; for any other path (and
 * when in doubt), `resolvePath` itself.
 *
 * Doubt is settled by the engine's resolver at compile time: the keys parsed here must lead
 * `resolvePath` through an object built along exactly those keys to the value at its end. An object
 * with one key per level admits only that walk, so a path the resolver reads otherwise (a wildcard, a
 * union, a different key) or refuses fails the check and keeps `resolvePath`.
 */

export type PathAccessor = (value: object) => unknown;

const STEP = /\.([\p{L}\p{N}_$-]+)|\[(\d+)\]|\['([^'"\\[\],\s]*)'\]|\["([^'"\\[\],\s]*)"\]/uy;

function parseKeys(path: string): string[] | null {
  if (!path.startsWith('$')) return null;
  const keys: string[] = [];
  STEP.lastIndex = 1;
  while (STEP.lastIndex < path.length) {
    const at = STEP.lastIndex;
    const match = STEP.exec(path);
    if (!match || match.index !== at) return null;
    const [, dotted, index, single, double] = match;
    // An index is a number to the resolver (`[01]` is 1); as a property key it is that number's string.
    keys.push(asPropertyKey(index !== undefined ? String(Number(index)) : (dotted ?? single ?? double ?? '')));
  }
  return keys;
}

const own = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);

/**
 * The same string as a property name (V8 internalizes keys): a key sliced out of the path would be
 * looked up in the string table on every read.
 */
export const asPropertyKey = (key: string): string => Object.keys({ [key]: true })[0] ?? key;

/** Whether resolvePath reads `path` as the walk over `keys`. */
function resolverAgrees(path: string, keys: readonly string[]): boolean {
  const end = {};
  let probe: unknown = end;
  for (let i = keys.length - 1; i >= 0; i--) probe = Object.fromEntries([[keys[i] as string, probe]]);
  try {
    return resolvePath(probe, path) === end;
  } catch {
    return false;
  }
}

function walk(keys: readonly string[]): PathAccessor {
  const [first, second] = keys;
  if (keys.length === 0) return (value) => value;
  if (keys.length === 1 && first !== undefined) return (value) => (own(value, first) ? (value as Record<string, unknown>)[first] : undefined);
  if (keys.length === 2 && first !== undefined && second !== undefined) {
    return (value) => {
      if (!own(value, first)) return undefined;
      const next = (value as Record<string, unknown>)[first];
      return typeof next === 'object' && next !== null && own(next, second) ? (next as Record<string, unknown>)[second] : undefined;
    };
  }
  return (value) => {
    let current: unknown = value;
    for (const key of keys) {
      if (typeof current !== 'object' || current === null || !own(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    }
    return current;
  };
}

// Rules repeat their paths: each is parsed and checked once (bounded as json-path.ts bounds its cache).
const KEYS = new Map<string, readonly string[] | null>();
const KEYS_LIMIT = 10_000;

/** The keys `path` walks, checked against the engine's resolver; null for any other path. */
export function pathKeys(path: string): readonly string[] | null {
  let keys = KEYS.get(path);
  if (keys === undefined) {
    const parsed = parseKeys(path);
    keys = parsed && resolverAgrees(path, parsed) ? parsed : null;
    if (KEYS.size >= KEYS_LIMIT) KEYS.clear();
    KEYS.set(path, keys);
  }
  return keys;
}

/** The accessor of `path` for reading an object fact's value (the almanac applies paths only to objects). */
export function pathAccessor(path: string): PathAccessor {
  const keys = pathKeys(path);
  return keys ? walk(keys) : (value) => resolvePath(value, path);
}
