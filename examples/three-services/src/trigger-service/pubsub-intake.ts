import { normalizeEvent, type AutomationEngine, type BusSubscription, type EventBus } from '@crm-automation/core';
import type { Logger } from 'pino';
import { lookupRequest, parseLookupMessage } from '../wire/lookup-messages.js';
import type { RuleReplica } from './rule-lookup/rule-replica.js';

export interface PubSubIntakeOptions {
  engine: AutomationEngine;
  /** CRM events. */
  events: EventBus;
  /** Where `rule_lookup_requested` goes. */
  lookups: EventBus;
  /** Where `rules_found` and `rule_changed` arrive. */
  updates: EventBus;
  replica: RuleReplica;
  logger: Logger;
  group?: string | undefined;
}

export interface PubSubIntake {
  stop(): Promise<void>;
}

/**
 * Intake of the pub/sub pattern (the design doc's Option 3), replacing the engine's own bus intake:
 * 1. a CRM event is validated and republished as `rule_lookup_requested` (then acknowledged);
 * 2. the rules service answers with `rules_found` (rules + original event);
 * 3. here the rules go into the replica and the event into `engine.ingest(event, { rules })`.
 * While the rules service is down, requests wait in the bus and nothing blocks.
 * `rule_changed` keeps the replica current for the re-read at fire time.
 */
export async function startPubSubIntake(options: PubSubIntakeOptions): Promise<PubSubIntake> {
  const group = options.group ?? 'trigger-service';
  const log = options.logger.child({ component: 'pubsub-intake' });

  // Answers first: the queue for rules_found must exist before the first request goes out.
  const answers: BusSubscription = await options.updates.subscribe(
    async (message) => {
      const parsed = parseLookupMessage(message);
      if (parsed.kind === 'found') {
        await options.replica.upsert(parsed.rules);
        await options.engine.ingest(parsed.event, { rules: parsed.rules });
      } else if (parsed.kind === 'changed') {
        await options.replica.applyChange(parsed.accountId, parsed.ruleId, parsed.rule);
        log.info({ accountId: parsed.accountId, ruleId: parsed.ruleId, version: parsed.rule?.version ?? null, deleted: parsed.rule === null }, 'replica updated');
      }
    },
    { group },
  );

  const requests: BusSubscription = await options.events.subscribe(
    async (message) => {
      // Malformed events throw a non-retryable error here: the bus dead-letters them at once.
      const event = normalizeEvent(message, new Date());
      await options.lookups.publish(lookupRequest(event));
      log.debug({ accountId: event.accountId, eventId: event.id, eventName: event.name }, 'rule_lookup_requested published');
    },
    { group },
  );

  return {
    async stop() {
      await requests.stop();
      await answers.stop();
    },
  };
}
