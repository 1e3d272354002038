import type { AutomationEngine, EventBus, Rule } from '@crm-automation/core';
import type { Logger } from 'pino';
import { ruleChanged } from '../wire/lookup-messages.js';

export interface RuleChangePublisher {
  /** Waits for changes being published (shutdown). */
  flush(): Promise<void>;
  stop(): void;
}

/**
 * Publishes every rule change (`rule:changed` of the engine) as `rule_changed`, so a pub/sub trigger
 * service keeps its replica current. Published after the write, best effort: the bus retries through
 * outages for its publish timeout, and a change that still fails is logged. A production system that
 * cannot lose one would write changes to an outbox collection in the same database and relay them.
 */
export function publishRuleChanges(engine: AutomationEngine, bus: EventBus, logger: Logger): RuleChangePublisher {
  const inFlight = new Set<Promise<void>>();
  const listener = ({ accountId, ruleId, rule }: { accountId: string; ruleId: string; rule: Rule | null }) => {
    const work = bus
      .publish(ruleChanged(accountId, ruleId, rule))
      .then(() => logger.debug({ accountId, ruleId, version: rule?.version ?? null }, 'rule_changed published'))
      .catch((error: unknown) => logger.error({ accountId, ruleId, err: error }, 'rule_changed could not be published; pub/sub trigger services keep the old rule until its next rules_found'))
      .finally(() => inFlight.delete(work));
    inFlight.add(work);
  };
  engine.on('rule:changed', listener);
  return {
    flush: async () => {
      await Promise.all([...inFlight]);
    },
    stop: () => {
      engine.off('rule:changed', listener);
    },
  };
}
