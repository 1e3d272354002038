/**
 * The rules could not be read right now (the rules service is down, slow, or refusing us). Always
 * retryable: at intake the bus redelivers the event later, at fire time the engine retries the
 * trigger with backoff without spending its attempt budget. Nothing is lost while the rules service
 * is away; work waits.
 */
export class RuleLookupUnavailableError extends Error {
  readonly code = 'CRM_ERR_RULES_UNAVAILABLE';
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuleLookupUnavailableError';
  }
}
