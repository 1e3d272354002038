import type { BusSubscription, EventBus, RuleSource } from '@crm-automation/core';
import type { Logger } from 'pino';
import { parseLookupMessage, rulesFound } from '../wire/lookup-messages.js';

export interface LookupResponderOptions {
  /** Where `rule_lookup_requested` arrives. */
  requests: EventBus;
  /** Where `rules_found` goes. */
  updates: EventBus;
  rules: RuleSource;
  logger: Logger;
  /** Consumer group of the rules service instances: they share the requests. */
  group?: string | undefined;
}

/**
 * The rules service's side of the pub/sub lookup (the design doc's Option 3): for each
 * `rule_lookup_requested`, find the account's enabled rules for the event and publish `rules_found`
 * with them and the original event. The request is acknowledged only after `rules_found` is
 * confirmed, so a crash in between redelivers it; a duplicate `rules_found` is harmless because the
 * trigger service's intake ignores triggers it already stored for that event.
 */
export async function startLookupResponder(options: LookupResponderOptions): Promise<BusSubscription> {
  const log = options.logger.child({ component: 'lookup-responder' });
  return options.requests.subscribe(
    async (message) => {
      const parsed = parseLookupMessage(message);
      if (parsed.kind !== 'requested') return; // another message kind on this stream is not ours
      const { event } = parsed;
      const rules = await options.rules.findRulesForEvent(event.accountId, event.name);
      await options.updates.publish(rulesFound(event, rules));
      log.debug({ accountId: event.accountId, eventId: event.id, eventName: event.name, rules: rules.length }, 'rules_found published');
    },
    { group: options.group ?? 'rules-service' },
  );
}
