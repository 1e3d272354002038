import { GatewayError } from '@crm-automation/core';
import { parseRetryAfter } from './retry-after.js';

/**
 * The one outcome classification every gateway uses, so a Twilio 429, a SendGrid 503, an SMTP 451
 * and a webhook timeout all reach core as the same kind of error:
 * - 2xx: sent;
 * - 408, 429, 5xx, timeouts and connection errors: transient (`retryable: true`, with Retry-After);
 * - any other status (other 4xx, unfollowed 3xx): permanent;
 * - a timeout or a lost connection after the request was written is also `ambiguous` (the provider
 *   may have taken it); an answer, however bad, is never ambiguous.
 */

/** How much of a provider's response is kept in the error (and so in the execution history). */
export const RESPONSE_EXCERPT_CHARS = 500;

export function truncate(text: string, max: number = RESPONSE_EXCERPT_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** 408 Request Timeout, 429 Too Many Requests and every 5xx may succeed later. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface HttpFailureDetails {
  /** The provider's own error code (Twilio `code`, ...). */
  providerCode?: string | number | undefined;
  /** The provider's human explanation, when its error body has one. */
  detail?: string | undefined;
  /** Clock for Retry-After dates. */
  now?: number | undefined;
  /** The wait a provider signals its own way (SendGrid's X-RateLimit-Reset), used without a Retry-After. */
  fallbackRetryAfterMs?: number | undefined;
  /**
   * The answer says the message may have reached the provider behind (a Notification Service whose
   * own provider call was ambiguous): the error is `ambiguous` too.
   */
  ambiguous?: boolean | undefined;
}

/** The error for a provider's non-2xx HTTP answer. */
export function httpFailure(
  provider: string,
  response: { status: number; headers: Record<string, string | string[] | undefined>; body: string },
  details: HttpFailureDetails = {},
): GatewayError {
  const { status } = response;
  const retryable = isTransientStatus(status);
  const retryAfterMs = retryable ? (parseRetryAfter(response.headers['retry-after'], details.now) ?? details.fallbackRetryAfterMs) : undefined;
  let reason = details.detail ?? '';
  if (status >= 300 && status < 400) {
    const location = response.headers['location'];
    reason = `redirect to ${JSON.stringify(Array.isArray(location) ? location[0] : location ?? '(no location)')} not followed; point the action at the final URL`;
  }
  // A relayed answer (a Notification Service passing on Twilio's) already names the code once.
  const code = details.providerCode === undefined || reason.includes(`(code ${details.providerCode})`) ? '' : ` (code ${details.providerCode})`;
  return new GatewayError(`${provider} answered ${status}${reason ? `: ${truncate(reason, 300)}` : ''}${code}`, {
    provider,
    status,
    retryable,
    providerCode: details.providerCode,
    response: response.body === '' ? undefined : truncate(response.body),
    retryAfterMs,
    ...(details.ambiguous === true ? { ambiguous: true } : {}),
  });
}

export interface TransportFailureDetails {
  /**
   * The request may have reached the provider (it had started to be written when the connection was
   * lost or the wait ended): core records the send as `unknown` and does not resend it blindly.
   */
  ambiguous?: boolean | undefined;
}

/**
 * undici's refusal of the request it was given (a header value it cannot send, a bad method): raised
 * before anything is written, and the same request would be refused on every retry.
 */
const REFUSED_BY_CLIENT_CODES: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/**
 * The error for a request that never got an answer: timeout, refused, reset, DNS trouble. Transient;
 * `ambiguous` when the caller knows the request may have been received (see {@link TransportFailureDetails}).
 * A request the HTTP client itself refuses to send is permanent and never ambiguous.
 */
export function transportFailure(provider: string, error: unknown, what = 'request', details: TransportFailureDetails = {}): GatewayError {
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (code !== undefined && REFUSED_BY_CLIENT_CODES.has(code)) {
    return new GatewayError(`${provider} ${what} could not be sent: ${truncate(message, 300)}`, { provider, retryable: false, providerCode: code, cause: error });
  }
  const ambiguous = details.ambiguous === true;
  return new GatewayError(`${provider} ${what} failed${ambiguous ? ' after the request was sent' : ''}: ${truncate(message, 300)}`, {
    provider,
    retryable: true,
    providerCode: code,
    cause: error,
    ...(ambiguous ? { ambiguous: true } : {}),
  });
}

/** The error for a command that can never be delivered as given (bad recipient, header injection, ...). */
export function permanentFailure(provider: string, message: string, providerCode?: string | undefined): GatewayError {
  return new GatewayError(`${provider}: ${message}`, { provider, retryable: false, providerCode });
}

const TRANSIENT_SMTP_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPROTOCOL', 'EABORT']);

/** nodemailer failures that happen before a message can have been handed over. */
const SMTP_NOT_SENT_CODES = new Set(['EDNS', 'ETLS', 'EAUTH', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'EREQUIRETLS', 'ECONFIG', 'ESTREAM']);
/** System errors of the connect step, kept by nodemailer as `originalCode`. */
const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
/** nodemailer's timeouts of the phases before any command is sent (`timeoutType`). */
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);
/** Commands whose failure leaves no message at the server (the message is only taken at the end of DATA). */
const ENVELOPE_COMMANDS = /^(EHLO|HELO|LHLO|STARTTLS|AUTH\b|MAIL FROM|RCPT TO|RSET)/;

/**
 * Whether a failed SMTP send may still have delivered the message: a connection lost, a socket timeout
 * or an abort once the session was under way (nodemailer does not say whether the message had been
 * streamed, so every such failure counts). A reply, a failure to connect, resolve, negotiate TLS or
 * authenticate, and a refused envelope do not.
 */
function smtpMayHaveSent(e: { responseCode?: unknown; code?: unknown; originalCode?: unknown; timeoutType?: unknown; command?: unknown }): boolean {
  if (typeof e.responseCode === 'number') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (SMTP_NOT_SENT_CODES.has(code)) return false;
  if (typeof e.originalCode === 'string' && CONNECT_ERROR_CODES.has(e.originalCode)) return false;
  if (CONNECT_ERROR_CODES.has(code)) return false;
  if (typeof e.timeoutType === 'string' && SETUP_TIMEOUTS.has(e.timeoutType)) return false;
  if (typeof e.command === 'string' && ENVELOPE_COMMANDS.test(e.command)) return false;
  return code !== '';
}

/**
 * SMTP's version of the same rule: a 4xx reply (451, 421, 452, ...) or a connection failure is
 * transient, a 5xx reply (550 mailbox unavailable, 535 auth failed, ...) permanent; a connection lost
 * or timed out mid-session is ambiguous.
 */
export function smtpFailure(provider: string, error: unknown): GatewayError {
  const e = error as { responseCode?: unknown; code?: unknown; response?: unknown; message?: unknown; originalCode?: unknown; timeoutType?: unknown; command?: unknown };
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const retryable = reply !== undefined ? reply >= 400 && reply < 500 : code !== undefined && TRANSIENT_SMTP_CODES.has(code);
  const ambiguous = retryable && smtpMayHaveSent(e);
  return new GatewayError(`${provider} failed: ${truncate(message, 300)}`, {
    provider,
    retryable,
    status: reply,
    providerCode: reply ?? code,
    response: typeof e.response === 'string' ? truncate(e.response) : undefined,
    cause: error,
    ...(ambiguous ? { ambiguous: true } : {}),
  });
}
