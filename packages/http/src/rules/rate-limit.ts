import { checkOptions, optionKeys, positiveIntOption } from '@crm-automation/core';

export interface RateLimitOptions {
  /** Requests allowed per window and account. Default 600. */
  max?: number | undefined;
  /** Window length. Default 60 s. */
  windowMs?: number | undefined;
  /** Accounts tracked at once; the least recently seen are forgotten first. Default 100,000. */
  maxAccounts?: number | undefined;
}

const RATE_LIMIT_OPTION_KEYS = optionKeys<RateLimitOptions>()('max', 'windowMs', 'maxAccounts');

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per account, refilled continuously (`max` tokens per `windowMs`). Returns 0 when the
 * request may proceed, else how many milliseconds until it could.
 */
export function createAccountRateLimiter(options: RateLimitOptions = {}, now: () => number = Date.now): (accountId: string) => number {
  checkOptions('rateLimit', options, RATE_LIMIT_OPTION_KEYS);
  const max = positiveIntOption('rateLimit.max', options.max, 600);
  const windowMs = positiveIntOption('rateLimit.windowMs', options.windowMs, 60_000);
  const maxAccounts = positiveIntOption('rateLimit.maxAccounts', options.maxAccounts, 100_000);
  const perMs = max / windowMs;
  const buckets = new Map<string, Bucket>();
  return (accountId) => {
    const t = now();
    let bucket = buckets.get(accountId);
    if (bucket) {
      buckets.delete(accountId);
      bucket.tokens = Math.min(max, bucket.tokens + (t - bucket.updatedAt) * perMs);
      bucket.updatedAt = t;
    } else {
      bucket = { tokens: max, updatedAt: t };
      if (buckets.size >= maxAccounts) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
    }
    buckets.set(accountId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perMs);
  };
}
