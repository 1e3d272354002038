import type { Rule, RuleSource } from '@crm-automation/core';

export interface RuleCacheOptions {
  /** How long an answer is served without asking again. 0 turns caching off. */
  ttlMs: number;
  /**
   * How long past its TTL an answer may still be served when the rules service cannot be reached
   * (stale-if-error). 0: never; the lookup fails and the work waits for the rules service instead.
   */
  staleMs: number;
  /** Entries kept at most; the oldest go first. Default 10,000. */
  maxEntries?: number | undefined;
  now?: (() => number) | undefined;
  /** Told when a stale answer is served, for logs. */
  onStale?: ((key: { accountId: string; kind: 'event' | 'rule'; name: string }, ageMs: number, error: unknown) => void) | undefined;
}

interface Entry<T> {
  value: T;
  at: number;
}

/**
 * A small cache in front of a remote rule source. Fresh answers (younger than `ttlMs`) are served
 * without a call, so a burst of events of one kind costs one lookup; concurrent misses for one key
 * share a single call. The price: a rule change is seen up to `ttlMs` late. With `staleMs`, an older
 * answer is served while the rules service is unreachable, trading exactness for availability.
 */
export function cachedRuleSource(inner: RuleSource, options: RuleCacheOptions): RuleSource & { clear(): void } {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, Entry<unknown>>();
  const inFlight = new Map<string, Promise<unknown>>();

  const remember = (key: string, value: unknown) => {
    entries.delete(key);
    entries.set(key, { value, at: now() });
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  };

  const lookup = async <T>(cacheKey: string, key: { accountId: string; kind: 'event' | 'rule'; name: string }, load: () => Promise<T>): Promise<T> => {
    const entry = entries.get(cacheKey) as Entry<T> | undefined;
    if (entry && now() - entry.at < options.ttlMs) return entry.value;
    let pending = inFlight.get(cacheKey) as Promise<T> | undefined;
    if (!pending) {
      pending = load().finally(() => inFlight.delete(cacheKey));
      inFlight.set(cacheKey, pending);
    }
    try {
      const value = await pending;
      if (options.ttlMs > 0 || options.staleMs > 0) remember(cacheKey, value);
      return value;
    } catch (error) {
      const age = entry ? now() - entry.at : Number.POSITIVE_INFINITY;
      if (entry && age < options.ttlMs + options.staleMs) {
        options.onStale?.(key, age, error);
        return entry.value;
      }
      throw error;
    }
  };

  return {
    findRulesForEvent: (accountId, eventName) =>
      lookup<Rule[]>(`e\u0000${accountId}\u0000${eventName}`, { accountId, kind: 'event', name: eventName }, () => inner.findRulesForEvent(accountId, eventName)),
    getRule: (accountId, id) => lookup<Rule | null>(`r\u0000${accountId}\u0000${id}`, { accountId, kind: 'rule', name: id }, () => inner.getRule(accountId, id)),
    clear: () => entries.clear(),
  };
}
