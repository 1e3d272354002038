import { describe, expect, it } from 'vitest';

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

/**
 * The option-key checks of one factory, as a vitest suite: each misspelling ({@link typosOf}) of each
 * key is refused with `CRM_ERR_CONFIG`, a message naming the factory and suggesting the real key; and
 * options that are not an object (none, a string, an array) are refused too. `keys` is every key of
 * the options type, written out by the test so that a key dropped from the factory's list fails it.
 * Pass a `base` the factory accepts without connecting anywhere.
 */
export function describeOptionKeyChecks(factory: string, create: (options: unknown) => unknown, base: Record<string, unknown>, keys: readonly string[]): void {
  describe(`${factory} refuses unknown option keys`, () => {
    it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
      let thrown: unknown;
      try {
        create({ ...base, [typo]: 1 });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'CRM_ERR_CONFIG' });
      expect((thrown as Error).message).toContain(`${factory}: unknown option`);
      expect((thrown as Error).message).toContain(`"${typo}" (did you mean "${key}"?)`);
    });

    it('lists every key once', () => {
      expect(keys).toHaveLength(new Set(keys).size);
    });

    it.each([['no options', undefined], ['a string', 'amqp://x'], ['an array', [base]]])('refuses %s', (_name, options) => {
      expect(() => create(options)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    });
  });
}
