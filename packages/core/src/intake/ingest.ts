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

function triggersFor(event: NormalizedEvent, rules: readonly Rule[], trace: TraceCarrier | undefined): NewTrigger[] {
  const triggeringEvent = { id: event.id, name: event.name, timestamp: event.timestamp, payload: event.payload };
  const base = event.timestamp.getTime();
  return rules.map((rule) => {
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
}

/**
 * The intake step: validate the event, find the account's enabled rules for its name (an indexed
 * lookup, or the rules given by a caller that looked them up already), and store one pending trigger
 * per rule, due at event time + the rule's delay. A redelivered event (same id) finds its triggers
 * already stored and creates nothing.
 */
export async function ingestEvent(input: unknown, ctx: IntakeContext, matched?: readonly Rule[], trace?: TraceCarrier): Promise<IntakeResult> {
  const event = normalizeEvent(input, ctx.clock.now(), ctx.eventTimeWindow);
  // Rules looked up elsewhere (the pub/sub lookup pattern) are still checked against this event.
  const rules = matched
    ? matched.filter((r) => r.enabled && r.accountId === event.accountId && r.trigger.eventName === event.name)
    : await ctx.rules.findRulesForEvent(event.accountId, event.name);
  if (rules.length === 0) return { event, inserted: [] };
  const inserted = await ctx.store.insertTriggers(triggersFor(event, rules, trace), ctx.clock.now());
  return { event, inserted };
}

/** One event of a batch: stored (with its triggers) or refused (with why). */
export type BatchIntakeResult = { ok: true; event: NormalizedEvent; inserted: InsertedTrigger[] } | { ok: false; index: number; error: unknown };

/**
 * Intake of many events at once (a CRM's bulk import, a batch off the bus): each is validated on its
 * own (an invalid one is refused, the others go on), rules are looked up once per (account, event
 * name), and every trigger of the batch is stored with one `insertTriggers` call.
 */
export async function ingestEvents(inputs: readonly unknown[], ctx: IntakeContext): Promise<BatchIntakeResult[]> {
  const now = ctx.clock.now();
  const results: Array<BatchIntakeResult | { ok: true; event: NormalizedEvent; from: number; count: number }> = [];
  const lookups = new Map<string, Promise<Rule[]>>();
  const normalized: Array<{ index: number; event: NormalizedEvent } | { index: number; error: unknown }> = inputs.map((input, index) => {
    try {
      return { index, event: normalizeEvent(input, now, ctx.eventTimeWindow) };
    } catch (error) {
      return { index, error };
    }
  });
  const rulesOf = (event: NormalizedEvent) => {
    const key = `${event.accountId}\u0000${event.name}`;
    let found = lookups.get(key);
    if (!found) lookups.set(key, (found = ctx.rules.findRulesForEvent(event.accountId, event.name)));
    return found;
  };
  const batch: NewTrigger[] = [];
  for (const item of normalized) {
    if ('error' in item) {
      results.push({ ok: false, index: item.index, error: item.error });
      continue;
    }
    const triggers = triggersFor(item.event, await rulesOf(item.event), undefined);
    results.push({ ok: true, event: item.event, from: batch.length, count: triggers.length });
    batch.push(...triggers);
  }
  const inserted = batch.length > 0 ? await ctx.store.insertTriggers(batch, ctx.clock.now()) : [];
  return results.map((r) => (r.ok && 'from' in r ? { ok: true, event: r.event, inserted: inserted.slice(r.from, r.from + r.count) } : (r as BatchIntakeResult)));
}
