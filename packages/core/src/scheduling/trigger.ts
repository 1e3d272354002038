/**
 * Lifecycle of a trigger (the design doc's `pending_triggers`):
 *
 *   pending ─claim→ processing ─→ completed | skipped | failed
 *                        └──────→ retrying ─claim→ processing ...
 *   pending | retrying ─user→ cancelled          failed ─user retry→ pending
 */
export type TriggerStatus = 'pending' | 'processing' | 'retrying' | 'completed' | 'skipped' | 'failed' | 'cancelled';

export const TRIGGER_STATUSES: readonly TriggerStatus[] = [
  'pending',
  'processing',
  'retrying',
  'completed',
  'skipped',
  'failed',
  'cancelled',
];

/** Statuses a trigger never leaves on its own. */
export const FINAL_STATUSES: readonly TriggerStatus[] = ['completed', 'skipped', 'failed', 'cancelled'];

export interface TriggeringEvent {
  id: string;
  name: string;
  timestamp: Date;
  payload: Record<string, unknown>;
}

/** One evaluated leaf condition, as json-rules-engine saw it. */
export interface ConditionTrace {
  path: string;
  fact: string;
  factPath?: string | undefined;
  operator: string;
  value: unknown;
  /** The value the fact resolved to (json-rules-engine's `factResult`). */
  factResult?: unknown;
  /** Rules evaluated on current state: the value the same path had in the stored event. */
  eventValue?: unknown;
  result: boolean;
  /** `false` when json-rules-engine decided the group before reaching this condition. */
  evaluated?: false | undefined;
}

export interface ErrorSummary {
  code: string;
  message: string;
  retryable: boolean;
  [key: string]: unknown;
}

/** Why the contact policy skipped an action. */
export type ActionSkipReason = 'suppressed' | 'capped';

export interface ActionOutcome {
  index: number;
  type: string;
  /**
   * `sent` now, `already-sent` by an earlier attempt, `failed` now, `not-attempted` after an earlier
   * failure, `unknown`: the send may have reached the provider (a timeout, a crash mid-send) and the
   * gateway cannot deduplicate it, so it is held until a receipt or an operator resolves it.
   * `skipped`: the contact policy kept it from being sent, never retried (`reason` says why).
   */
  status: 'sent' | 'already-sent' | 'failed' | 'not-attempted' | 'unknown' | 'skipped';
  /** `skipped`: `suppressed` (the recipient opted out) or `capped` (a cap was full, `overCap: 'skip'`). */
  reason?: ActionSkipReason | undefined;
  /** The delivery ledger's record of this send, when the engine keeps a ledger. */
  deliveryId?: string | undefined;
  /** What the gateway returned (provider message id, ...). */
  result?: unknown;
  error?: ErrorSummary | undefined;
  durationMs?: number | undefined;
}

export type HistoryOutcome =
  | 'completed'
  | 'skipped'
  | 'failed'
  | 'retrying'
  | 'cancelled'
  | 'retry-requested'
  /** A newer event for the same entity replaced this pending trigger (`supersede`). */
  | 'superseded'
  /** A newer event for the same entity moved the due time of a scheduled rule's run (`from` → `to`). */
  | 'rescheduled';

/** Why a scheduled due time is not the plain anchor + offset: each adjustment, in the order applied. */
export interface ScheduleNote {
  code: 'dst-gap' | 'dst-overlap' | 'window' | 'past-now' | 'month-end';
  message: string;
}

/** How a scheduled rule's due time was computed (stored on the trigger, shown by dry run and the UI). */
export interface TriggerSchedule {
  /** The IANA zone the schedule was computed in. */
  timeZone: string;
  /** Where the zone came from: the rule's literal, the payload's path, the fallback, or UTC by default. */
  zoneSource: 'rule' | 'payload' | 'fallback' | 'default';
  /** The anchor as read (the payload's string, or the event timestamp as ISO). */
  anchor: string;
  /** The due time in that zone, ISO 8601 with its offset (`2026-03-07T09:00:00.000-06:00`). */
  local: string;
  notes: ScheduleNote[];
}

export interface HistoryEntry {
  at: Date;
  attempt: number;
  outcome: HistoryOutcome;
  /** Why: `conditions-not-met`, `rule-disabled`, `rule-deleted`, `max-attempts`, ... */
  reason?: string | undefined;
  ruleVersion?: number | undefined;
  conditions?: ConditionTrace[] | undefined;
  actions?: ActionOutcome[] | undefined;
  error?: ErrorSummary | undefined;
  nextAttemptAt?: Date | undefined;
  /** Who wrote the entry: an engine instance id, or `user` for cancel and retry. */
  by?: string | undefined;
  /** The event that cancelled or superseded the trigger, or that it was skipped for. */
  event?: { id: string; name: string } | undefined;
  /** The other trigger involved: the one that superseded this, or the pending one this was skipped or stale for. */
  triggerId?: string | undefined;
  /** `rescheduled`: the due time before and after, and the event that moved it. */
  from?: Date | undefined;
  to?: Date | undefined;
  eventId?: string | undefined;
  /** A scheduled rule's run skipped at intake (`anchor-missing`, `zone-unknown`, `past`, `beyond-horizon`): what was computed. */
  schedule?: Partial<TriggerSchedule> | undefined;
}

export interface Trigger {
  id: string;
  accountId: string;
  ruleId: string;
  /** The rule version matched at intake; evaluation reads the rule as it is at fire time. */
  ruleVersion: number;
  status: TriggerStatus;
  evaluateAt: Date;
  /** Number of claims so far. */
  attempt: number;
  triggeringEvent: TriggeringEvent;
  /** W3C trace context of the intake that created it (present only when tracing is on). */
  trace?: Record<string, string> | undefined;
  executionHistory: HistoryEntry[];
  /** Indexes of actions a gateway accepted in any attempt; they are never sent again. */
  sentActions: number[];
  createdAt: Date;
  updatedAt: Date;
  leaseExpiresAt?: Date | undefined;
  /** The rule's `trigger.key` resolved in the event payload (keyed rules only). */
  entityKey?: string | undefined;
  /** Keyed `supersede` rules: the first event's timestamp of the chain of superseded triggers. */
  firstEventAt?: Date | undefined;
  /** A cancelling event arrived while it was processing; the worker stops before its next action. */
  cancelRequested?: { event: { id: string; name: string }; at: Date } | undefined;
  /** Rules with a `schedule`: how `evaluateAt` was computed, and in which zone. */
  schedule?: TriggerSchedule | undefined;
}

/** A trigger handed to one worker, with the token that proves it still holds the lease. */
export interface ClaimedTrigger extends Trigger {
  leaseToken: string;
  leaseExpiresAt: Date;
}

export interface TriggerFilter {
  status?: TriggerStatus | TriggerStatus[] | undefined;
  ruleId?: string | undefined;
  /** Only triggers of this entity (keyed rules' `entityKey`). */
  entityKey?: string | undefined;
  /** Only triggers whose evaluateAt is at or after this time. */
  from?: Date | undefined;
  /** Only triggers whose evaluateAt is before this time. */
  to?: Date | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}
