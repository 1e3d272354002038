/**
 * Misspellings a person makes of an option key: a plural (or the singular), a dropped last letter, two
 * letters swapped. Tests of option checking pass each to a factory and expect it refused with a
 * suggestion of the real key.
 */
export function typosOf(key: string): string[] {
  const typos = new Set([key.endsWith('s') ? key.slice(0, -1) : `${key}s`, key.slice(0, -1)]);
  if (key.length >= 5) typos.add(key.slice(0, 2) + (key[3] ?? '') + (key[2] ?? '') + key.slice(4));
  typos.delete(key);
  return [...typos].filter((t) => t.length >= 2);
}
