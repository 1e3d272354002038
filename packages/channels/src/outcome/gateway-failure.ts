import { GatewayError } from '@crm-automation/core';
import { parseRetryAfter } from './retry-after.js';

/**
 * The one outcome classification every gateway uses, so a Twilio 429, a SendGrid 503, an SMTP 451
 * and a webhook timeout all reach core as the same kind of error:
 * - 2xx: sent;
 * - 408, 429, 5xx, timeouts and connection errors: transient (`retryable: true`, with Retry-After);
 * - any other status (other 4xx, unfollowed 3xx): permanent.
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
  const code = details.providerCode === undefined ? '' : ` (code ${details.providerCode})`;
  return new GatewayError(`${provider} answered ${status}${reason ? `: ${truncate(reason, 300)}` : ''}${code}`, {
    provider,
    status,
    retryable,
    providerCode: details.providerCode,
    response: response.body === '' ? undefined : truncate(response.body),
    retryAfterMs,
  });
}

/** The error for a request that never got an answer: timeout, refused, reset, DNS trouble. */
export function transportFailure(provider: string, error: unknown, what = 'request'): GatewayError {
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  return new GatewayError(`${provider} ${what} failed: ${truncate(message, 300)}`, {
    provider,
    retryable: true,
    providerCode: code,
    cause: error,
  });
}

/** The error for a command that can never be delivered as given (bad recipient, header injection, ...). */
export function permanentFailure(provider: string, message: string, providerCode?: string | undefined): GatewayError {
  return new GatewayError(`${provider}: ${message}`, { provider, retryable: false, providerCode });
}

const TRANSIENT_SMTP_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPROTOCOL']);

/**
 * SMTP's version of the same rule: a 4xx reply (451, 421, 452, ...) or a connection failure is
 * transient, a 5xx reply (550 mailbox unavailable, 535 auth failed, ...) permanent.
 */
export function smtpFailure(provider: string, error: unknown): GatewayError {
  const e = error as { responseCode?: unknown; code?: unknown; response?: unknown; message?: unknown };
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const retryable = reply !== undefined ? reply >= 400 && reply < 500 : code !== undefined && TRANSIENT_SMTP_CODES.has(code);
  return new GatewayError(`${provider} failed: ${truncate(message, 300)}`, {
    provider,
    retryable,
    status: reply,
    providerCode: reply ?? code,
    response: typeof e.response === 'string' ? truncate(e.response) : undefined,
    cause: error,
  });
}
