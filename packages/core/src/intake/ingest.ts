import { describeError, EventValidationError } from '../errors.js';
import { normalizeEvent, type EventTimeWindow, type NormalizedEvent } from '../events/event.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { CancelRequest, InsertedTrigger, InsertOutcome, NewTrigger, TriggerStore } from '../ports/store.js';
import type { CompiledRuleCache } from '../rules/compiled-rule-cache.js';
import type { Rule } from '../rules/rule.js';
import type { Trigger } from '../scheduling/trigger.js';
import type { TraceCarrier } from '../ports/tracer.js';
import { entityKeyOf } from './entity-key.js';
import type { ScheduleSkipReason } from '../scheduling/schedule.js';
import { planTriggers, starts } from './plan-triggers.js';

export interface IntakeContext {
  store: TriggerStore;
  rules: RuleSource;
  clock: Clock;
  logger: Logger;
  eventTimeWindow?: EventTimeWindow | undefined;
  /** Compiles the `cancelOn` conditions intake evaluates (the claim loop's cache, shared). */
  compiled: CompiledRuleCache;
  /** Engine instance id, for the history of the triggers a cancelling event cancels. */
  instanceId: string;
}

/** What a cancelling event did to one rule's runs for one entity. */
export interface CancelOutcome {
  ruleId: string;
  entityKey: string;
  /** Pending and retrying triggers now `cancelled`. */
  cancelled: Trigger[];
  /** Triggers being processed, asked to stop before their next action. */
  requested: Trigger[];
  /** `cancelled-by-event` (`cancelOn`), or the schedule skip reason of the newer event. */
  reason: 'cancelled-by-event' | ScheduleSkipReason;
}

/** What intake did with one event, by kind (see `InsertOutcome`). */
export interface IntakeSummary {
  /** New pending triggers (including those that superseded a pending one). */
  created: number;
  /** New pending triggers that replaced a pending one of the same rule and entity (`supersede`). */
  superseded: number;
  /** Triggers stored cancelled because a pending one held a newer event (`supersede`). */
  stale: number;
  /** Triggers stored skipped: one was pending (`skipIfPending`), or a scheduled rule's event gives no due time. */
  skipped: number;
  /** Of `superseded`: scheduled rules' runs whose due time the new event moved (history `rescheduled`). */
  rescheduled: number;
  /** Triggers that existed already for this event (a redelivery): nothing changed. */
  redelivered: number;
  /** Triggers of other events this event cancelled (`cancelOn`). */
  cancelled: number;
  /** Triggers being processed that this event asked to stop (`cancelOn`). */
  cancelRequested: number;
}

export interface IntakeResult {
  event: NormalizedEvent;
  inserted: InsertedTrigger[];
  cancels: CancelOutcome[];
  summary: IntakeSummary;
}

/** What an insert did, for stores that do not say (no keyed concurrency): created or redelivered. */
export function outcomeOf(inserted: InsertedTrigger): InsertOutcome {
  // A scheduled run with no due time is stored skipped; stores may call that `created`.
  if (inserted.created && inserted.trigger.status === 'skipped') return 'skipped';
  return inserted.outcome ?? (inserted.created ? 'created' : 'redelivered');
}

export function summarize(inserted: readonly InsertedTrigger[], cancels: readonly CancelOutcome[]): IntakeSummary {
  const summary: IntakeSummary = { created: 0, superseded: 0, stale: 0, skipped: 0, redelivered: 0, cancelled: 0, cancelRequested: 0, rescheduled: 0 };
  for (const i of inserted) {
    const outcome = outcomeOf(i);
    if (outcome === 'superseded') {
      summary.superseded += 1;
      summary.created += 1;
      if (i.trigger.executionHistory.some((h) => h.outcome === 'rescheduled')) summary.rescheduled += 1;
    } else {
      summary[outcome] += 1;
    }
  }
  for (const c of cancels) {
    summary.cancelled += c.cancelled.length;
    summary.cancelRequested += c.requested.length;
  }
  return summary;
}

/** A rule with a `cancelOn` entry for this event name. */
const cancelledBy = (rule: Rule, name: string) => rule.cancelOn?.some((c) => c.eventName === name) === true;

/**
 * The cancel requests of one event: for each rule with a `cancelOn` entry of this name whose
 * conditions pass on the event, one request for the entity key found at the entry's `key` (or the
 * rule's `trigger.key`). A broken condition or a missing key cancels nothing and is logged: retrying
 * the event would not mend either, and refusing it would lose it for the rules it starts.
 */
async function cancelsFor(event: NormalizedEvent, rules: readonly Rule[], ctx: IntakeContext): Promise<CancelRequest[]> {
  const requests = new Map<string, CancelRequest>();
  for (const rule of rules) {
    const entries = rule.cancelOn ?? [];
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index];
      if (!entry || entry.eventName !== event.name) continue;
      const log = { accountId: event.accountId, eventId: event.id, eventName: event.name, ruleId: rule.id, cancelOn: index };
      let matches: boolean;
      try {
        matches = await ctx.compiled.get(rule).cancelMatches(index, event.payload);
      } catch (error) {
        ctx.logger.error({ ...log, error: describeError(error, 'CRM_ERR_EVALUATION') }, 'cancelOn conditions could not be evaluated; the event cancels nothing for this rule');
        continue;
      }
      if (!matches) continue;
      const keyPath = entry.key ?? rule.trigger.key;
      const entityKey = keyPath === undefined ? undefined : entityKeyOf(event.payload, keyPath);
      if (entityKey === undefined) {
        ctx.logger.warn({ ...log, key: keyPath }, 'cancelling event has no usable entity key; it cancels nothing for this rule');
        continue;
      }
      requests.set(`${rule.id}\u0000${entityKey}`, {
        accountId: event.accountId,
        ruleId: rule.id,
        entityKey,
        eventTimestamp: event.timestamp,
        event: { id: event.id, name: event.name },
        now: ctx.clock.now(),
        by: ctx.instanceId,
      });
    }
  }
  return [...requests.values()];
}

async function runCancels(requests: readonly CancelRequest[], ctx: IntakeContext): Promise<CancelOutcome[]> {
  if (requests.length === 0) return [];
  const cancel = ctx.store.cancelTriggers;
  if (!cancel) {
    // Rules with cancelOn are refused at create on such an engine; this one came from elsewhere.
    ctx.logger.error({ rules: requests.map((r) => r.ruleId), eventId: requests[0]?.event.id }, 'the trigger store cannot cancel triggers (no cancelTriggers); cancelOn is ignored');
    return [];
  }
  return Promise.all(
    requests.map(async (request) => {
      const result = await cancel.call(ctx.store, request);
      const reason = (request.reason ?? 'cancelled-by-event') as CancelOutcome['reason'];
      return { ruleId: request.ruleId, entityKey: request.entityKey, cancelled: result.cancelled, requested: result.requested, reason };
    }),
  );
}

/** One request per (rule, entity): a `cancelOn` entry's and a schedule's for the same run are one cancel. */
function mergeCancels(byCancelOn: readonly CancelRequest[], bySchedule: readonly CancelRequest[]): CancelRequest[] {
  if (bySchedule.length === 0) return [...byCancelOn];
  const merged = new Map<string, CancelRequest>();
  for (const request of [...byCancelOn, ...bySchedule]) {
    const key = `${request.ruleId}\u0000${request.entityKey}`;
    if (!merged.has(key)) merged.set(key, request);
  }
  return [...merged.values()];
}

/** The rules of `matched` (looked up by a caller) that this event starts or cancels. */
function relevant(matched: readonly Rule[], event: NormalizedEvent): Rule[] {
  return matched.filter((r) => r.enabled && r.accountId === event.accountId && (starts(r, event.name) || cancelledBy(r, event.name)));
}

/**
 * The intake step: validate the event, find the account's enabled rules for its name (an indexed
 * lookup, or the rules given by a caller that looked them up already), cancel the runs it cancels
 * (`cancelOn`), and store one trigger per rule it starts, due at event time + the rule's delay (keyed
 * rules with a concurrency mode: the store decides supersede / skip atomically). A redelivered event
 * (same id) finds its triggers already stored and creates nothing.
 */
export async function ingestEvent(input: unknown, ctx: IntakeContext, matched?: readonly Rule[], trace?: TraceCarrier): Promise<IntakeResult> {
  const event = normalizeEvent(input, ctx.clock.now(), ctx.eventTimeWindow);
  // Rules looked up elsewhere (the pub/sub lookup pattern) are still checked against this event.
  const rules = matched ? relevant(matched, event) : await ctx.rules.findRulesForEvent(event.accountId, event.name);
  if (rules.length === 0) return { event, inserted: [], cancels: [], summary: summarize([], []) };
  // Cancel before inserting: a rule may start and cancel on the same name, and the run this event
  // starts is newer than any it cancels, so it must not be among them.
  const plan = planTriggers(event, rules, trace, ctx);
  const requests = rules.some((r) => r.cancelOn !== undefined) ? await cancelsFor(event, rules, ctx) : [];
  const cancels = await runCancels(mergeCancels(requests, plan.cancels), ctx);
  const triggers = plan.triggers;
  const inserted = triggers.length > 0 ? await ctx.store.insertTriggers(triggers, ctx.clock.now()) : [];
  return { event, inserted, cancels, summary: summarize(inserted, cancels) };
}

/** One event of a batch: stored (with its triggers) or refused (with why). */
export type BatchIntakeResult = { ok: true; event: NormalizedEvent; inserted: InsertedTrigger[]; cancels: CancelOutcome[]; summary: IntakeSummary } | { ok: false; index: number; error: unknown };

/** One event of a batch; an element whose getter throws is refused like any other unreadable event. */
function readItem(inputs: readonly unknown[], index: number): unknown {
  try {
    return inputs[index];
  } catch (error) {
    throw new EventValidationError([{ path: '', code: 'not_json', message: `event ${index} of the batch could not be read (${error instanceof Error ? error.message.slice(0, 120) : 'it threw'})` }]);
  }
}

/**
 * Intake of many events at once (a CRM's bulk import, a batch off the bus): each is validated on its
 * own (an invalid one is refused, the others go on), rules are looked up once per (account, event
 * name), and every trigger of the batch is stored with one `insertTriggers` call. An event that
 * cancels runs splits the batch there, so that it cancels the runs of the events before it.
 */
export async function ingestEvents(inputs: readonly unknown[], ctx: IntakeContext): Promise<BatchIntakeResult[]> {
  const now = ctx.clock.now();
  const lookups = new Map<string, Promise<Rule[]>>();
  const rulesOf = (event: NormalizedEvent) => {
    const key = `${event.accountId}\u0000${event.name}`;
    let found = lookups.get(key);
    if (!found) lookups.set(key, (found = ctx.rules.findRulesForEvent(event.accountId, event.name)));
    return found;
  };
  const results: BatchIntakeResult[] = [];
  const pending: Array<{ result: Extract<BatchIntakeResult, { ok: true }>; triggers: NewTrigger[] }> = [];
  const flush = async () => {
    const batch = pending.flatMap((p) => p.triggers);
    const inserted = batch.length > 0 ? await ctx.store.insertTriggers(batch, ctx.clock.now()) : [];
    let from = 0;
    for (const p of pending) {
      p.result.inserted = inserted.slice(from, from + p.triggers.length);
      p.result.summary = summarize(p.result.inserted, p.result.cancels);
      from += p.triggers.length;
    }
    pending.length = 0;
  };
  for (let index = 0; index < inputs.length; index++) {
    let event: NormalizedEvent;
    try {
      event = normalizeEvent(readItem(inputs, index), now, ctx.eventTimeWindow);
    } catch (error) {
      results.push({ ok: false, index, error });
      continue;
    }
    const rules = await rulesOf(event);
    const plan = planTriggers(event, rules, undefined, ctx);
    const requests = mergeCancels(await cancelsFor(event, rules, ctx), plan.cancels);
    if (requests.length > 0) await flush();
    const result: Extract<BatchIntakeResult, { ok: true }> = { ok: true, event, inserted: [], cancels: await runCancels(requests, ctx), summary: summarize([], []) };
    results.push(result);
    pending.push({ result, triggers: plan.triggers });
  }
  await flush();
  return results;
}
