export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  factor: number;
  /** 0..1: the share of each delay that is randomized ("equal jitter" at 0.5). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 3_600_000, factor: 2, jitter: 0.5 };

/**
 * Delay before retry number `retry` (1-based): exponential, capped, with jitter so a burst of failures
 * does not come back as a burst. A provider's Retry-After is a floor, never shortened.
 */
export function backoffDelay(retry: number, options: BackoffOptions, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(options.maxMs, options.baseMs * options.factor ** Math.max(0, retry - 1));
  const jittered = exp * (1 - options.jitter) + exp * options.jitter * random();
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}
