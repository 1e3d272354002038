import { JSONPath } from 'jsonpath-plus';

type Step = string | number;

const SIMPLE_CACHE = new Map<string, Step[] | null>();
const SIMPLE_CACHE_LIMIT = 10_000;

/**
 * Parses the JSONPath subset that covers nearly every rule (`$.a.b`, `$.a[0]`, `$['a b']`) into
 * steps; anything else (filters, wildcards, recursion) returns null and goes to jsonpath-plus.
 */
function parseSimplePath(path: string): Step[] | null {
  const cached = SIMPLE_CACHE.get(path);
  if (cached !== undefined) return cached;
  let steps: Step[] | null = [];
  if (!path.startsWith('$')) steps = null;
  let i = 1;
  while (steps && i < path.length) {
    const ch = path[i];
    if (ch === '.') {
      const m = /^[A-Za-z_$][\w$-]*/.exec(path.slice(i + 1));
      if (!m) { steps = null; break; }
      steps.push(m[0]);
      i += 1 + m[0].length;
    } else if (ch === '[') {
      const rest = path.slice(i);
      const index = /^\[(\d+)\]/.exec(rest);
      const quoted = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/.exec(rest);
      if (index?.[1] !== undefined) { steps.push(Number(index[1])); i += index[0].length; }
      else if (quoted) { steps.push(quoted[1] ?? quoted[2] ?? ''); i += quoted[0].length; }
      else steps = null;
    } else {
      steps = null;
    }
  }
  if (SIMPLE_CACHE.size >= SIMPLE_CACHE_LIMIT) SIMPLE_CACHE.clear();
  SIMPLE_CACHE.set(path, steps);
  return steps;
}

/**
 * Reads `path` from `value` like json-rules-engine's default resolver (jsonpath-plus, `wrap: false`),
 * but follows own properties only, so `$.__proto__` or `$.constructor` never reach a prototype.
 */
export function resolvePath(value: unknown, path: string | undefined): unknown {
  if (path === undefined || path === '' || path === '$') return value;
  const steps = parseSimplePath(path);
  if (steps === null) {
    if (typeof value !== 'object' || value === null) return undefined;
    return JSONPath({ path, json: value, wrap: false, eval: false });
  }
  let current: unknown = value;
  for (const step of steps) {
    if (typeof current !== 'object' || current === null) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, step)) return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

/** Syntax check for a rule's JSONPath: must start with `$`. */
export function checkJsonPath(path: string): string | null {
  if (!path.startsWith('$')) return 'JSONPath must start with "$" (e.g. "$.status")';
  if (parseSimplePath(path) !== null) return null;
  if (path.includes('(')) return 'JSONPath script and filter expressions are not allowed';
  try {
    JSONPath({ path, json: {}, wrap: false, eval: false });
    return null;
  } catch (error) {
    return `invalid JSONPath: ${(error as Error).message}`;
  }
}
