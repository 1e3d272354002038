import type { Rule, RuleSource } from '@crm-automation/core';
import { ruleFromJson } from '../../wire/rule-json.js';
import { callWithRetries } from './call-with-retries.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { RuleLookupUnavailableError } from './rule-lookup-error.js';

export interface RestRuleSourceOptions {
  /** Origin of the rules service, e.g. `http://127.0.0.1:4100`. */
  baseUrl: string;
  /** Service token the rules service's internal routes accept. */
  token: string;
  /** Deadline of one HTTP attempt. */
  timeoutMs: number;
  /** Quick retries after a failed attempt (network error, timeout, 5xx, 429). */
  retries: number;
  breaker: CircuitBreaker;
}

/** A failed HTTP attempt, with whether another attempt may help. */
class AttemptError extends Error {
  constructor(message: string, readonly transient: boolean) {
    super(message);
  }
}

/**
 * Rules over the rules service's internal REST routes (the design doc's Option 1): one GET per
 * lookup, each attempt bounded by `timeoutMs`, a couple of retries for blips, and the circuit breaker
 * around the whole so a slow or dead rules service fails lookups fast instead of stalling the loop.
 */
export function restRuleSource(options: RestRuleSourceOptions): RuleSource {
  const origin = options.baseUrl.replace(/\/+$/, '');

  const get = (path: string, notFoundIsNull: boolean): Promise<unknown> =>
    options.breaker
      .run(() =>
        callWithRetries(
          async () => {
            let response: Response;
            try {
              response = await fetch(`${origin}${path}`, {
                headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
                signal: AbortSignal.timeout(options.timeoutMs),
              });
            } catch (error) {
              const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
              throw new AttemptError(timedOut ? `no answer within ${options.timeoutMs} ms` : `unreachable (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error)})`, true);
            }
            if (response.status === 404 && notFoundIsNull) {
              await response.body?.cancel();
              return null;
            }
            if (!response.ok) {
              await response.body?.cancel();
              throw new AttemptError(`answered ${response.status}`, response.status >= 500 || response.status === 429);
            }
            return response.json() as Promise<unknown>;
          },
          { retries: options.retries, baseDelayMs: 50, retryable: (error) => error instanceof AttemptError && error.transient },
        ),
      )
      .catch((error: unknown) => {
        if (error instanceof RuleLookupUnavailableError) throw error;
        throw new RuleLookupUnavailableError(`rules service (REST) ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      });

  return {
    async findRulesForEvent(accountId, eventName) {
      const body = (await get(`/internal/v1/rules?${new URLSearchParams({ accountId, eventName })}`, false)) as { items?: unknown } | null;
      if (!body || !Array.isArray(body.items)) throw new RuleLookupUnavailableError('rules service (REST) answered without items');
      return body.items.map(ruleFromJson);
    },
    async getRule(accountId, id): Promise<Rule | null> {
      const body = await get(`/internal/v1/rules/${encodeURIComponent(id)}?${new URLSearchParams({ accountId })}`, true);
      return body === null ? null : ruleFromJson(body);
    },
  };
}
