import { AutomationError } from '../errors.js';

/** Edit distance between two short names (option keys, operators), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j] as number;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(above + 1, (prev[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return prev[b.length] as number;
}

/**
 * The candidate closest to `name`, when it is close enough to be a likely typo (a third of the name's
 * length, at least 2 edits; a prefix such as `channel` for `channels` always counts).
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = name.toLowerCase();
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const distance = c.startsWith(lower) || lower.startsWith(c) ? Math.abs(c.length - lower.length) * 0.5 : editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.ceil(name.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing when no candidate is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = closestName(name, candidates);
  return near === undefined ? '' : ` (did you mean "${near}"?)`;
}

/**
 * Refuses an options argument that is not a plain object, or that names a key the factory does not
 * know: JavaScript callers get a `CRM_ERR_CONFIG` naming the key and the nearest valid one instead
 * of silence (`channel:` for `channels:` would otherwise be accepted and every run would fail later).
 *
 * @param required when true, a missing argument is refused too.
 */
export function checkOptions(factory: string, options: unknown, known: readonly string[], required = false): void {
  if (options === undefined) {
    if (required) throw new AutomationError('CRM_ERR_CONFIG', `${factory} needs an options object`);
    return;
  }
  // `null` is not "no options": a factory reading `options.x` behind a `= {}` default would throw a TypeError.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: options must be an object, got ${describeValueKind(options)}`);
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const described = unknown.map((key) => `"${key}"${didYouMean(key, known)}`).join(', ');
  throw new AutomationError(
    'CRM_ERR_CONFIG',
    `${factory}: unknown option${unknown.length > 1 ? 's' : ''} ${described}; ${known.length === 0 ? 'it takes no options' : `valid options: ${known.join(', ')}`}`,
  );
}

/** `null`, `an array`, `a string`, ...: what a configuration value is, for messages. */
export function describeValueKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  const kind = typeof value;
  return kind === 'undefined' ? kind : `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

type KeysOf<T> = Extract<keyof T, string>;

/**
 * Lists the keys of an options type, checked by the compiler to be complete, so the runtime check of
 * {@link checkOptions} cannot drift from the TypeScript type:
 * `const KEYS = optionKeys<MyOptions>()('a', 'b')` fails to compile when `MyOptions` has a `c`.
 */
export function optionKeys<T>() {
  return <const K extends readonly KeysOf<T>[]>(
    ...keys: K & ([Exclude<KeysOf<T>, K[number]>] extends [never] ? unknown : { missingKeys: Exclude<KeysOf<T>, K[number]> })
  ): readonly string[] => keys;
}
