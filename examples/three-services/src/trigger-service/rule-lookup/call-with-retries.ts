import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  /** Delay before the first retry; doubles after each. */
  baseDelayMs: number;
  /** Whether another attempt may help. */
  retryable: (error: unknown) => boolean;
}

/**
 * Calls `attempt` until it succeeds, the error is not retryable, or retries run out. Kept short on
 * purpose (a couple of quick retries absorb a blip); longer outages are the circuit breaker's and the
 * engine's backoff's business, not a reason to hold a claim-loop slot.
 */
export async function callWithRetries<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= options.retries || !options.retryable(error)) throw error;
      await sleep(options.baseDelayMs * 2 ** n * (0.5 + Math.random() / 2));
    }
  }
}
