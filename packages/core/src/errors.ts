/**
 * Every error the engine raises carries a stable `code` (listed in {@link ERROR_CODES} and in
 * docs/errors.md), a human message and, where it applies, the JSON paths of the offending input.
 *
 * Errors are branded with `Symbol.for(...)` so `isAutomationError()` keeps working when two copies of
 * the package end up in one application (a common state of npm trees).
 */

import { CodedError } from './spi/coded-error.js';
import { defineErrorCodes } from './spi/error-registry.js';

export const ERROR_CODES = defineErrorCodes({
  CRM_ERR_RULE_INVALID: 'The rule failed validation; see `issues` for every problem with its path.',
  CRM_ERR_EVENT_INVALID: 'The event failed validation (name, accountId and an object payload are required).',
  CRM_ERR_RULE_NOT_FOUND: 'No rule with that id exists in this account.',
  CRM_ERR_TRIGGER_NOT_FOUND: 'No trigger with that id exists in this account.',
  CRM_ERR_VERSION_CONFLICT: 'The rule was changed by someone else since the version you read.',
  CRM_ERR_TRIGGER_STATE: 'The trigger is not in a state that allows this operation.',
  CRM_ERR_NO_GATEWAY: 'No gateway is configured for the action type.',
  CRM_ERR_GATEWAY: 'A gateway failed to deliver the command; `retryable` says whether a retry may succeed.',
  CRM_ERR_IDEMPOTENCY_IN_FLIGHT: 'Another worker is sending the same command right now.',
  CRM_ERR_DELIVERY_UNKNOWN: 'A send may have reached the provider, which cannot deduplicate it: held until a receipt or an operator resolves it.',
  CRM_ERR_DELIVERY_STATE: 'The delivery is not in a state that allows this operation: only an `unknown` send can be resolved (as sent or resend).',
  CRM_ERR_EVALUATION: 'The rule conditions could not be evaluated against the event.',
  CRM_ERR_RENDER: 'An action could not be rendered from the event (template or fact reference).',
  CRM_ERR_MAX_ATTEMPTS: 'The trigger used every attempt it was allowed.',
  CRM_ERR_CONFIG: 'The engine or adapter was configured with invalid options.',
  CRM_ERR_STORE_TIMEOUT: 'A store or ledger request did not answer within `storeTimeoutMs`; the engine treats it as a store failure and goes on.',
  CRM_ERR_SCHEDULE_ANCHOR: "A scheduled rule's anchor is missing from the event or is not an ISO 8601 date: the run is recorded skipped (`anchor-missing`).",
  CRM_ERR_SCHEDULE_ZONE: "A scheduled rule's time zone from the event is not an IANA zone (or is missing, with no fallback): the run is recorded skipped (`zone-unknown`).",
  CRM_ERR_SCHEDULE_PAST: "A scheduled rule's due time had passed at intake and the schedule says `ifPast: 'skip'`: the run is recorded skipped (`past`).",
  CRM_ERR_POLICY_INVALID: 'The contact policy or suppression entry failed validation; see `issues` for every problem with its path.',
  CRM_ERR_POLICY_UNAVAILABLE: 'The contact policy, suppression list or cap counter could not be read before a send: the action is not sent and is retried.',
  CRM_ERR_SCHEDULE_HORIZON: "A scheduled rule's due time is beyond the schedule horizon (400 days after intake): the run is recorded skipped (`beyond-horizon`), never stored pending.",
}).codes;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem found in a piece of input, located by a JSON path such as `actions[1].params.url`. */
export interface ValidationIssue {
  /** Dotted/bracketed path into the input; empty string for the root. */
  readonly path: string;
  /** Machine-readable reason, e.g. `unknown_operator`, `invalid_url`, `template_syntax`. */
  readonly code: string;
  readonly message: string;
}

const BRAND = Symbol.for('crm-automation.error');

export interface AutomationErrorOptions {
  cause?: unknown;
  retryable?: boolean | undefined;
}

/** Base class of every error the engine throws on purpose (the SPI's `CodedError`, with core's codes and brand). */
export class AutomationError extends CodedError<ErrorCode> {
  private readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: AutomationErrorOptions = {}) {
    super(code, message, options);
    this.name = 'AutomationError';
  }
}

export function isAutomationError(value: unknown): value is AutomationError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

function summarize(issues: readonly ValidationIssue[]): string {
  const first = issues.slice(0, 3).map((i) => `${i.path || '(root)'}: ${i.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return first.join('; ') + more;
}

export class RuleValidationError extends AutomationError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    super('CRM_ERR_RULE_INVALID', `Invalid rule: ${summarize(issues)}`);
    this.name = 'RuleValidationError';
    this.issues = issues;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues };
  }
}

export class EventValidationError extends AutomationError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    super('CRM_ERR_EVENT_INVALID', `Invalid event: ${summarize(issues)}`);
    this.name = 'EventValidationError';
    this.issues = issues;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues };
  }
}

/** A contact policy (`engine.contactPolicy.set`) or suppression entry (`engine.suppressions.add`) that failed validation. */
export class ContactPolicyValidationError extends AutomationError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[], subject: 'contact policy' | 'suppression' = 'contact policy') {
    super('CRM_ERR_POLICY_INVALID', `Invalid ${subject}: ${summarize(issues)}`);
    this.name = 'ContactPolicyValidationError';
    this.issues = issues;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues };
  }
}

export class NotFoundError extends AutomationError {
  constructor(code: 'CRM_ERR_RULE_NOT_FOUND' | 'CRM_ERR_TRIGGER_NOT_FOUND', id: string) {
    super(code, `${code === 'CRM_ERR_RULE_NOT_FOUND' ? 'Rule' : 'Trigger'} ${JSON.stringify(id)} not found`);
    this.name = 'NotFoundError';
  }
}

export class VersionConflictError extends AutomationError {
  readonly currentVersion: number;
  constructor(id: string, expected: number, current: number, what = 'Rule') {
    super('CRM_ERR_VERSION_CONFLICT', `${what} ${JSON.stringify(id)} is at version ${current}, not ${expected}`);
    this.name = 'VersionConflictError';
    this.currentVersion = current;
  }
}

export class TriggerStateError extends AutomationError {
  readonly status: string;
  constructor(id: string, status: string, operation: string) {
    super('CRM_ERR_TRIGGER_STATE', `Cannot ${operation} trigger ${JSON.stringify(id)}: it is ${status}`);
    this.name = 'TriggerStateError';
    this.status = status;
  }
}

export interface GatewayErrorOptions extends AutomationErrorOptions {
  /** Provider name (`twilio`, `sendgrid`, `smtp`, `webhook`, ...). */
  provider?: string | undefined;
  /** HTTP status or equivalent, when there was one. */
  status?: number | undefined;
  /** The provider's own error code (Twilio `21211`, SMTP `550`, ...). */
  providerCode?: string | number | undefined;
  /** A truncated excerpt of the provider's response, for the execution history. */
  response?: string | undefined;
  /** How long the provider asked us to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number | undefined;
  /**
   * The request may have reached the provider (a timeout or a connection lost after it was written):
   * the send is recorded as `unknown` and is not retried unless the gateway dedupes.
   */
  ambiguous?: boolean | undefined;
}

/**
 * What a gateway throws. Core decides retry or fail from `retryable` alone: any thrown error whose
 * `retryable` property is `true` is transient, any other error is permanent.
 */
/** `engine.deliveries.resolve` on a delivery that is not `unknown` (in flight, accepted, settled): nothing changed. */
export class DeliveryStateError extends AutomationError {
  readonly state: string;
  constructor(id: string, state: string) {
    super('CRM_ERR_DELIVERY_STATE', `Delivery ${JSON.stringify(id)} is ${state}: only an unknown delivery can be resolved; nothing changed`);
    this.name = 'DeliveryStateError';
    this.state = state;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), state: this.state };
  }
}

export class GatewayError extends AutomationError {
  readonly provider: string | undefined;
  readonly status: number | undefined;
  readonly providerCode: string | number | undefined;
  readonly response: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly ambiguous: boolean;

  constructor(message: string, options: GatewayErrorOptions = {}) {
    super('CRM_ERR_GATEWAY', message, options);
    this.name = 'GatewayError';
    this.provider = options.provider;
    this.status = options.status;
    this.providerCode = options.providerCode;
    this.response = options.response;
    this.retryAfterMs = options.retryAfterMs;
    this.ambiguous = options.ambiguous === true;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      provider: this.provider,
      status: this.status,
      providerCode: this.providerCode,
      response: this.response,
      retryAfterMs: this.retryAfterMs,
      ...(this.ambiguous ? { ambiguous: true } : {}),
    };
  }
}

/** Maps a JSON path array (`['actions', 1, 'params', 'url']`) to `actions[1].params.url`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${String(key)}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** The error facts worth keeping in an execution history, for any thrown value. */
export function describeError(
  error: unknown,
  fallbackCode: ErrorCode = 'CRM_ERR_GATEWAY',
): {
  code: string;
  message: string;
  retryable: boolean;
  [key: string]: unknown;
} {
  if (isAutomationError(error)) {
    const json = error.toJSON();
    return {
      ...Object.fromEntries(Object.entries(json).filter(([, v]) => v !== undefined)),
      code: error.code,
      message: error.message,
      retryable: error.retryable,
    };
  }
  if (error instanceof Error) {
    const retryable = (error as { retryable?: unknown }).retryable === true;
    const code = (error as { code?: unknown }).code;
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
    const ambiguous = (error as { ambiguous?: unknown }).ambiguous === true;
    return {
      code: typeof code === 'string' ? code : fallbackCode,
      message: error.message.slice(0, 1000),
      retryable,
      ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      ...(ambiguous ? { ambiguous: true } : {}),
    };
  }
  return { code: fallbackCode, message: String(error).slice(0, 1000), retryable: false };
}
