import { CodedError, defineErrorCodes } from '@crm-automation/core/spi';

/**
 * The codes the three services add to the SDK's (docs/errors.md lists them with the packages'):
 * what only a deployment split across services can get wrong.
 */
const SERVICE_ERRORS = defineErrorCodes({
  CRM_ERR_RULES_UNAVAILABLE:
    'The trigger service could not read the rules right now (the rules service is down, slow or refusing it); intake and firing retry later, nothing is lost.',
  CRM_ERR_RULE_WIRE: "A rule another service sent does not have a rule's shape (a bug or version skew upstream); retrying cannot fix it.",
  CRM_ERR_LOOKUP_MESSAGE: 'A message of the pub/sub rule lookup is malformed; it is dead-lettered at once.',
});

export const THREE_SERVICES_ERROR_CODES = SERVICE_ERRORS.codes;

export type ThreeServicesErrorCode = keyof typeof THREE_SERVICES_ERROR_CODES;

/** A service's environment did not pass validation; `issues` names every bad variable. Core's `CRM_ERR_CONFIG`. */
export class ConfigError extends CodedError<'CRM_ERR_CONFIG'> {
  constructor(
    readonly service: string,
    readonly issues: ReadonlyArray<{ variable: string; message: string }>,
  ) {
    super('CRM_ERR_CONFIG', `${service}: invalid configuration\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Thrown for a rule document that does not have a rule's shape (a bug or version skew upstream). */
export class RuleWireError extends CodedError<'CRM_ERR_RULE_WIRE'> {
  constructor(message: string) {
    // A malformed answer will not become well-formed on retry.
    super('CRM_ERR_RULE_WIRE', message, { retryable: false });
    this.name = 'RuleWireError';
  }
}

/** A malformed lookup message: dead-lettered at once, retrying cannot fix it. */
export class LookupMessageError extends CodedError<'CRM_ERR_LOOKUP_MESSAGE'> {
  constructor(message: string) {
    super('CRM_ERR_LOOKUP_MESSAGE', message, { retryable: false });
    this.name = 'LookupMessageError';
  }
}

/**
 * The rules could not be read right now (the rules service is down, slow, or refusing us). Always
 * retryable: at intake the bus redelivers the event later, at fire time the engine retries the
 * trigger with backoff without spending its attempt budget. Nothing is lost while the rules service
 * is away; work waits.
 */
export class RuleLookupUnavailableError extends CodedError<'CRM_ERR_RULES_UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRM_ERR_RULES_UNAVAILABLE', message, { cause: options?.cause, retryable: true });
    this.name = 'RuleLookupUnavailableError';
  }
}
