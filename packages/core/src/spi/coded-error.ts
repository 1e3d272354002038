/**
 * The shape every error the SDK's packages throw on purpose shares: a stable `code` from the package's
 * registry (see `defineErrorCodes`), a human message, `retryable`, and a JSON form without the stack.
 *
 * Recognised by brand (`Symbol.for(...)`), not by class identity, so a check keeps working when two
 * copies of a package end up in one application. Each family of errors (core's `AutomationError`,
 * a bus's errors) adds its own brand for its own `is...()` check.
 */

const CODED_ERROR = Symbol.for('crm-automation.coded-error');

export interface CodedErrorOptions {
  cause?: unknown;
  /** `true` when the same operation may succeed later (transient failure). Default `false`. */
  retryable?: boolean | undefined;
}

export abstract class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  /** `true` when the same operation may succeed later (transient failure). */
  readonly retryable: boolean;
  private readonly [CODED_ERROR] = true;

  constructor(code: Code, message: string, options: CodedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  /** What logs and API answers carry: never the stack or the cause, which may hold internal detail. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** True for an error of any package of the SDK (any {@link CodedError}), from any copy of it. */
export function isCodedError(value: unknown): value is CodedError {
  return hasErrorBrand(value, CODED_ERROR);
}

/** True when `value` carries `brand` (a `Symbol.for(...)` a family of errors sets on its instances). */
export function hasErrorBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
