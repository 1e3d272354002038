import { AutomationError } from '../errors.js';
import { normalizeEvent, type EventTimeWindow, type NormalizedEvent } from '../events/event.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { InsertedTrigger, NewTrigger, TriggerStore } from '../ports/store.js';
import type { Rule } from '../rules/rule.js';
import { hasTraceContext, type TraceCarrier } from '../ports/tracer.js';
import { delayToMs } from '../rules/rule.js';

export interface IntakeContext {
  store: TriggerStore;
  rules: RuleSource;
  clock: Clock;
  logger: Logger;
  eventTimeWindow?: EventTimeWindow | undefined;
}

export interface IntakeResult {
  event: NormalizedEvent;
  inserted: InsertedTrigger[];
}

/**
 * The intake step: validate the event, find the account's enabled rules for its name (an indexed
 * lookup, or the rules given by a caller that looked them up already), and store one pending trigger per rule, due at event time + the rule's delay. A redelivered
 * event (same id) finds its triggers already stored and creates nothing.
 */
export async function ingestEvent(input: unknown, ctx: IntakeContext, matched?: readonly Rule[], trace?: TraceCarrier): Promise<IntakeResult> {
  const event = normalizeEvent(input, ctx.clock.now(), ctx.eventTimeWindow);
  // Rules looked up elsewhere (the pub/sub lookup pattern) are still checked against this event.
  const rules = matched
    ? matched.filter((r) => r.enabled && r.accountId === event.accountId && r.trigger.eventName === event.name)
    : await ctx.rules.findRulesForEvent(event.accountId, event.name);
  if (rules.length === 0) return { event, inserted: [] };
  const triggeringEvent = { id: event.id, name: event.name, timestamp: event.timestamp, payload: event.payload };
  const base = event.timestamp.getTime();
  const triggers: NewTrigger[] = rules.map((rule) => {
    const evaluateAt = new Date(base + delayToMs(rule.delay));
    // Unreachable for validated rules and events (both are range-checked); a rule from a remote source
    // that is not must fail this intake loudly rather than store a trigger with no due time.
    if (Number.isNaN(evaluateAt.getTime())) {
      throw new AutomationError('CRM_ERR_RULE_INVALID', `rule ${rule.id} has a delay that gives no valid due time`);
    }
    return {
      accountId: event.accountId,
      ruleId: rule.id,
      ruleVersion: rule.version,
      evaluateAt,
      triggeringEvent,
      ...(hasTraceContext(trace) ? { trace } : {}),
    };
  });
  const inserted = await ctx.store.insertTriggers(triggers, ctx.clock.now());
  return { event, inserted };
}
