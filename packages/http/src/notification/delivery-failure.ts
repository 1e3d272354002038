import { describeError } from '@crm-automation/core';

/** Retry-After sent with a transient failure when the provider named no wait of its own. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export interface DeliveryFailureAnswer {
  status: 503 | 422;
  retryAfterSeconds?: number | undefined;
  body: { error: { code: string; message: string; retryable: boolean; [key: string]: unknown } };
}

/**
 * How a failed send is answered, so a caller (`createHttpChannels`) classifies it like the gateway
 * did: transient (retryable, in flight elsewhere, provider 5xx/429, timeouts) → 503 with
 * Retry-After; permanent (bad recipient, provider 4xx, injection refused) → 422 with the provider's
 * error code and response excerpt.
 */
export function deliveryFailure(error: unknown, defaultRetryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS): DeliveryFailureAnswer {
  const summary = describeError(error);
  const { code, message, retryable, status, name: _name, ...rest } = summary;
  const body: DeliveryFailureAnswer['body'] = {
    error: {
      code,
      message,
      retryable,
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      ...(typeof status === 'number' ? { providerStatus: status } : {}),
    },
  };
  if (!retryable) return { status: 422, body };
  const after = typeof summary['retryAfterMs'] === 'number' ? Math.ceil(summary['retryAfterMs'] / 1000) : defaultRetryAfterSeconds;
  return { status: 503, retryAfterSeconds: Math.max(0, after), body };
}
