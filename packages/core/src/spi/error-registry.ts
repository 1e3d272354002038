/**
 * Every package of the SDK lists its stable error codes the same way: one registry per package, made
 * with {@link defineErrorCodes}, exported as `<PACKAGE>_ERROR_CODES` and documented, section by
 * section, in docs/errors.md (a test in `@crm-automation/testing` checks the two against each other).
 */

/** A code of the SDK: `CRM_ERR_` and upper-case words. */
export type CrmErrorCode = `CRM_ERR_${string}`;

const CODE_PATTERN = /^CRM_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;

/** The codes of one package, each with its one-line meaning, and a typed check. */
export interface ErrorCodeRegistry<Codes extends Readonly<Record<CrmErrorCode, string>>> {
  /** Each code and what it means; what docs/errors.md lists for the package. */
  readonly codes: Codes;
  /** True for a code of this registry (a string a caller received, a `code` read off an error). */
  isCode(value: unknown): value is keyof Codes & string;
  /**
   * A registry of some of these codes with the same meanings, for a package that raises only part of
   * a shared set (a bus without unroutable events), so one code never has two meanings.
   */
  pick<const Picked extends keyof Codes & string>(...codes: Picked[]): ErrorCodeRegistry<Pick<Codes, Picked>>;
}

/**
 * Declares a package's error codes. Throws at load time for a code that is not `CRM_ERR_...` or a
 * meaning that is empty, so a malformed registry cannot ship.
 *
 * @example
 * const registry = defineErrorCodes({ CRM_ERR_QUEUE_FULL: 'The queue refused the message: it is full.' });
 * export const QUEUE_ERROR_CODES = registry.codes;
 * registry.isCode(error.code); // narrows to 'CRM_ERR_QUEUE_FULL'
 */
export function defineErrorCodes<const Codes extends Readonly<Record<CrmErrorCode, string>>>(
  codes: Codes & Readonly<Record<Exclude<keyof Codes, CrmErrorCode>, never>>,
): ErrorCodeRegistry<Codes> {
  return registryOf<Codes>(codes);
}

function registryOf<Codes extends Readonly<Record<CrmErrorCode, string>>>(codes: Codes): ErrorCodeRegistry<Codes> {
  for (const [code, meaning] of Object.entries(codes)) {
    if (!CODE_PATTERN.test(code)) throw new TypeError(`error code ${JSON.stringify(code)} is not of the form CRM_ERR_WORDS`);
    if (typeof meaning !== 'string' || meaning.trim() === '') throw new TypeError(`error code ${code} needs a meaning`);
  }
  const frozen = Object.freeze({ ...codes });
  const meanings: Readonly<Record<string, string>> = frozen;
  return {
    codes: frozen,
    isCode: (value: unknown): value is keyof Codes & string => typeof value === 'string' && Object.hasOwn(meanings, value),
    pick: <const Picked extends keyof Codes & string>(...picked: Picked[]) => {
      const subset: Record<string, string> = {};
      for (const code of picked) {
        const meaning = Object.hasOwn(meanings, code) ? meanings[code] : undefined;
        if (meaning === undefined) throw new TypeError(`error code ${code} is not in this registry`);
        subset[code] = meaning;
      }
      return registryOf(subset as Pick<Codes, Picked>);
    },
  };
}
