import type { RuleSource } from '@crm-automation/core';
import type { Logger } from 'pino';
import type { TriggerServiceConfig } from '../config.js';
import { cachedRuleSource } from './cached-rule-source.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { grpcRuleSource } from './grpc-rule-source.js';
import { restRuleSource } from './rest-rule-source.js';

export interface RemoteRuleSource {
  source: RuleSource;
  breaker: CircuitBreaker;
  close(): void;
}

/** The REST or gRPC client of the rules service, behind a circuit breaker and a small cache. */
export function remoteRuleSource(config: TriggerServiceConfig, logger: Logger): RemoteRuleSource {
  const log = logger.child({ component: 'rule-lookup', pattern: config.RULE_LOOKUP });
  const breaker = new CircuitBreaker({
    failureThreshold: config.RULES_BREAKER_FAILURES,
    cooldownMs: config.RULES_BREAKER_COOLDOWN_MS,
    onStateChange: (state, reason) => (state === 'open' ? log.warn({ state, reason }, 'rules service circuit opened') : log.info({ state, reason }, `rules service circuit ${state}`)),
  });
  const token = config.RULES_SERVICE_TOKEN ?? '';
  const common = { token, timeoutMs: config.RULES_TIMEOUT_MS, retries: config.RULES_RETRIES, breaker };
  let close = () => {};
  let inner: RuleSource;
  if (config.RULE_LOOKUP === 'grpc') {
    const grpc = grpcRuleSource({ address: config.RULES_GRPC_ADDRESS, ...common });
    inner = grpc;
    close = grpc.close;
  } else {
    inner = restRuleSource({ baseUrl: config.RULES_SERVICE_URL, ...common });
  }
  const source = cachedRuleSource(inner, {
    ttlMs: config.RULES_CACHE_TTL_MS,
    staleMs: config.RULES_CACHE_STALE_MS,
    onStale: (key, ageMs, error) =>
      log.warn({ accountId: key.accountId, [key.kind === 'rule' ? 'ruleId' : 'eventName']: key.name, ageMs, reason: error instanceof Error ? error.message : String(error) }, 'rules service unavailable: serving a cached answer'),
  });
  return { source, breaker, close };
}
