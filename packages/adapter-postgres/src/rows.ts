import type { CancelOn, ConditionGroup, DelayUnit, FactEvaluation, HistoryEntry, Rule, RuleAction, RuleConcurrency, RuleSchedule, Trigger, TriggeringEvent, TriggerSchedule, TriggerStatus } from '@crm-automation/core';

export interface RuleRow {
  id: string;
  account_id: string;
  name: string;
  description: string | null;
  enabled: boolean;
  event_name: string;
  delay_value: number;
  delay_unit: DelayUnit;
  conditions: ConditionGroup;
  actions: RuleAction[];
  version: number;
  created_at: Date;
  updated_at: Date;
  trigger_key: string | null;
  cancel_on: CancelOn[] | null;
  concurrency: RuleConcurrency | null;
  evaluate: FactEvaluation | Record<string, FactEvaluation> | null;
  schedule: RuleSchedule | null;
}

export const RULE_COLUMNS =
  'id, account_id, name, description, enabled, event_name, delay_value, delay_unit, conditions, actions, version, created_at, updated_at, trigger_key, cancel_on, concurrency, evaluate, schedule';

export function toRule(row: RuleRow): Rule {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    ...(row.description === null ? {} : { description: row.description }),
    enabled: row.enabled,
    trigger: row.trigger_key === null ? { eventName: row.event_name } : { eventName: row.event_name, key: row.trigger_key },
    delay: { value: row.delay_value, unit: row.delay_unit },
    conditions: row.conditions,
    actions: row.actions,
    ...(row.cancel_on === null ? {} : { cancelOn: row.cancel_on }),
    ...(row.concurrency === null ? {} : { concurrency: row.concurrency }),
    ...(row.evaluate === null ? {} : { evaluate: row.evaluate }),
    ...(row.schedule === null ? {} : { schedule: row.schedule }),
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The JSONB form of a triggering event and of history entries: dates as ISO strings. */
export interface StoredEvent {
  id: string;
  name: string;
  timestamp: string;
  payload: Record<string, unknown>;
}

export type StoredHistoryEntry = Omit<HistoryEntry, 'at' | 'nextAttemptAt' | 'from' | 'to'> & { at: string; nextAttemptAt?: string | undefined; from?: string | undefined; to?: string | undefined };

export interface TriggerRow {
  id: string;
  account_id: string;
  rule_id: string;
  rule_version: number;
  status: TriggerStatus;
  evaluate_at: Date;
  attempt: number;
  triggering_event: StoredEvent;
  trace: Record<string, string> | null;
  execution_history: StoredHistoryEntry[];
  sent_actions: number[];
  lease_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  entity_key: string | null;
  first_event_at: Date | null;
  cancel_requested: StoredCancelRequest | null;
  /** Rules with a `schedule`: how the due time was computed (no dates inside, so stored as it is). */
  schedule: TriggerSchedule | null;
}

/** The JSONB form of `Trigger.cancelRequested`. */
export interface StoredCancelRequest {
  event: { id: string; name: string };
  at: string;
}

export const TRIGGER_COLUMNS =
  'id, account_id, rule_id, rule_version, status, evaluate_at, attempt, triggering_event, trace, execution_history, sent_actions, lease_expires_at, created_at, updated_at, entity_key, first_event_at, cancel_requested, schedule';

/**
 * JSONB keeps JSON: the dates the engine puts in an event and in history entries come back as
 * strings and are turned back into dates here. Dates inside an event's payload stay strings, as
 * they would after any JSON transport.
 */
export function reviveEvent(stored: StoredEvent): TriggeringEvent {
  return { id: stored.id, name: stored.name, timestamp: new Date(stored.timestamp), payload: stored.payload };
}

export function reviveHistory(stored: readonly StoredHistoryEntry[]): HistoryEntry[] {
  return stored.map((entry) => {
    const revived: HistoryEntry = { ...entry, at: new Date(entry.at) } as HistoryEntry;
    if (typeof entry.nextAttemptAt === 'string') revived.nextAttemptAt = new Date(entry.nextAttemptAt);
    // A reschedule's due times before and after.
    if (typeof entry.from === 'string') revived.from = new Date(entry.from);
    if (typeof entry.to === 'string') revived.to = new Date(entry.to);
    return revived;
  });
}

export function toTrigger(row: TriggerRow): Trigger {
  const trigger: Trigger = {
    id: row.id,
    accountId: row.account_id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    status: row.status,
    evaluateAt: row.evaluate_at,
    attempt: row.attempt,
    triggeringEvent: reviveEvent(row.triggering_event),
    executionHistory: reviveHistory(row.execution_history),
    sentActions: row.sent_actions,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.trace !== null) trigger.trace = row.trace;
  if (row.lease_expires_at !== null) trigger.leaseExpiresAt = row.lease_expires_at;
  if (row.entity_key !== null) trigger.entityKey = row.entity_key;
  if (row.first_event_at !== null) trigger.firstEventAt = row.first_event_at;
  if (row.cancel_requested !== null) trigger.cancelRequested = reviveCancelRequest(row.cancel_requested);
  if (row.schedule !== null) trigger.schedule = row.schedule;
  return trigger;
}

export function reviveCancelRequest(stored: StoredCancelRequest): NonNullable<Trigger['cancelRequested']> {
  return { event: { id: stored.event.id, name: stored.event.name }, at: new Date(stored.at) };
}
