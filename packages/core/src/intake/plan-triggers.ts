import { AutomationError } from '../errors.js';
import type { NormalizedEvent } from '../events/event.js';
import type { CancelRequest, NewTrigger, TriggerConcurrency } from '../ports/store.js';
import { hasTraceContext, type TraceCarrier } from '../ports/tracer.js';
import { delayToMs, type Rule } from '../rules/rule.js';
import { computeDueTime, scheduleReads, type ScheduleReads, type ScheduleSkipReason } from '../scheduling/schedule.js';
import { entityKeyOf } from './entity-key.js';
import type { IntakeContext } from './ingest.js';

/** A rule this event starts (`trigger.eventName`), rather than only cancels. */
export const starts = (rule: Rule, name: string) => rule.trigger.eventName === name;

function concurrencyOf(rule: Rule): TriggerConcurrency | undefined {
  const mode = rule.concurrency?.mode;
  if (mode === 'skipIfPending') return { mode };
  // A keyed scheduled rule's runs follow the entity's latest date: a later event moves the pending run.
  if (rule.schedule && (mode === undefined || mode === 'supersede')) return { mode: 'supersede', reschedule: true };
  if (mode !== 'supersede') return undefined;
  const maxWait = rule.concurrency?.maxWait;
  return maxWait ? { mode, maxWaitMs: delayToMs(maxWait) } : { mode };
}

/** What one event makes: triggers to store, and (scheduled keyed rules) older runs to cancel first. */
export interface TriggerPlan {
  triggers: NewTrigger[];
  cancels: CancelRequest[];
}

export function planTriggers(event: NormalizedEvent, rules: readonly Rule[], trace: TraceCarrier | undefined, ctx: IntakeContext): TriggerPlan {
  const triggeringEvent = { id: event.id, name: event.name, timestamp: event.timestamp, payload: event.payload };
  const base = event.timestamp.getTime();
  const plan: TriggerPlan = { triggers: [], cancels: [] };
  const now = ctx.clock.now();
  let reads: ScheduleReads | undefined;
  for (const rule of rules) {
    if (!starts(rule, event.name)) continue;
    const keyPath = rule.trigger.key;
    const entityKey = keyPath === undefined ? undefined : entityKeyOf(event.payload, keyPath);
    if (keyPath !== undefined && entityKey === undefined) {
      // Refusing the event would lose it for every other rule; without a key this run is simply unkeyed.
      ctx.logger.warn({ accountId: event.accountId, eventId: event.id, ruleId: rule.id, key: keyPath }, 'event has no usable entity key for the rule (a string or finite number, at most 256 characters); its trigger runs unkeyed, as concurrency "all"');
    }
    const concurrency = entityKey === undefined ? undefined : concurrencyOf(rule);
    const common = {
      accountId: event.accountId,
      ruleId: rule.id,
      ruleVersion: rule.version,
      triggeringEvent,
      ...(hasTraceContext(trace) ? { trace } : {}),
      ...(entityKey === undefined ? {} : { entityKey }),
    };
    if (rule.schedule) {
      const due = computeDueTime(rule.schedule, event, now, (reads ??= scheduleReads()));
      if (due.ok) {
        plan.triggers.push({ ...common, evaluateAt: due.evaluateAt, schedule: due.schedule, ...(concurrency ? { concurrency } : {}) });
        continue;
      }
      ctx.logger.info({ accountId: event.accountId, eventId: event.id, ruleId: rule.id, reason: due.reason, detail: due.message }, 'scheduled rule: the event gives no due time; its run is recorded skipped');
      // Stored skipped (visible, and a redelivery is recognised); never pending, so never in the slot.
      plan.triggers.push({
        ...common,
        evaluateAt: due.evaluateAt && Number.isFinite(due.evaluateAt.getTime()) ? due.evaluateAt : now,
        skipped: { outcome: 'skipped', reason: due.reason, error: { code: scheduleErrorCode(due.reason), message: due.message, retryable: false }, event: { id: event.id, name: event.name }, schedule: due.schedule, ruleVersion: rule.version, at: now, attempt: 0 },
      });
      // The entity's latest event says its run has no time any more: the pending run of an older event goes.
      if (entityKey !== undefined && concurrency?.mode === 'supersede') {
        plan.cancels.push({ accountId: event.accountId, ruleId: rule.id, entityKey, eventTimestamp: event.timestamp, event: { id: event.id, name: event.name }, now, by: ctx.instanceId, reason: due.reason });
      }
      continue;
    }
    const evaluateAt = new Date(base + delayToMs(rule.delay));
    // Unreachable for validated rules and events (both are range-checked); a rule from a remote source
    // that is not must fail this intake loudly rather than store a trigger with no due time.
    if (Number.isNaN(evaluateAt.getTime())) {
      throw new AutomationError('CRM_ERR_RULE_INVALID', `rule ${rule.id} has a delay that gives no valid due time`);
    }
    plan.triggers.push({ ...common, evaluateAt, ...(concurrency ? { concurrency } : {}) });
  }
  return plan;
}

/** The error code a scheduled run's skip carries in its history. */
function scheduleErrorCode(reason: ScheduleSkipReason): string {
  switch (reason) {
    case 'anchor-missing':
      return 'CRM_ERR_SCHEDULE_ANCHOR';
    case 'zone-unknown':
      return 'CRM_ERR_SCHEDULE_ZONE';
    case 'past':
      return 'CRM_ERR_SCHEDULE_PAST';
    case 'beyond-horizon':
      return 'CRM_ERR_SCHEDULE_HORIZON';
  }
}
