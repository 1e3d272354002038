import { CodedError, defineErrorCodes } from '@crm-automation/core/spi';

const CLI_ERRORS = defineErrorCodes({
  CRM_ERR_CLI_USAGE: 'A flag or argument is missing or malformed.',
  CRM_ERR_CLI_CONFIG: 'A connection setting (MONGODB_URI or POSTGRES_URL, RABBITMQ_URL, KAFKA_BROKERS) is missing or ambiguous, or the store is not set up.',
  CRM_ERR_CLI_UNREACHABLE: "The store's server refused the connection or did not answer within 5 s; the message names its address (without credentials).",
  CRM_ERR_CLI_NOT_FOUND: 'The trigger, rule or delivery asked for does not exist in that account.',
  CRM_ERR_CLI_FILE: 'A rules file could not be read, parsed or written.',
  CRM_ERR_CLI_IMPORT_INVALID: 'A rules file failed validation; nothing was imported.',
  CRM_ERR_CLI_NO_LEDGER: 'The store keeps no delivery ledger (its adapter has none, or it is a custom store without one): the deliveries commands cannot run on it.',
  CRM_ERR_CLI_NOT_RESOLVABLE: 'The delivery is not unknown (still in flight, or already settled), or its trigger has not finished: nothing was resolved.',
});

/** Stable codes of the CLI's own errors (besides the SDK's `CRM_ERR_*`). */
export const CLI_ERROR_CODES = CLI_ERRORS.codes;

export type CliErrorCode = keyof typeof CLI_ERROR_CODES;

/**
 * An error the CLI reports as `code: message` and exits non-zero for, without a stack trace. Never
 * retryable as such: each needs a changed command, file or setting.
 */
export class CliError extends CodedError<CliErrorCode> {
  /** Extra detail for `--json` output (validation issues, ...). */
  readonly details: unknown;
  constructor(code: CliErrorCode, message: string, details?: unknown) {
    super(code, message);
    this.name = 'CliError';
    this.details = details;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ...(this.details === undefined ? {} : { details: this.details }) };
  }
}
