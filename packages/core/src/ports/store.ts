import type { Page } from '../rules/rule.js';
import type { RuleStore } from './rule-store.js';
import type { StoreCapabilities } from './store-capabilities.js';
import type { TraceCarrier } from './tracer.js';
import type {
  ClaimedTrigger,
  HistoryEntry,
  Trigger,
  TriggerFilter,
  TriggeringEvent,
  TriggerSchedule,
  TriggerStatus,
} from '../scheduling/trigger.js';

/** A trigger as intake builds it, before the store assigns an id. */
export interface NewTrigger {
  accountId: string;
  ruleId: string;
  ruleVersion: number;
  evaluateAt: Date;
  triggeringEvent: TriggeringEvent;
  /** Trace context of the intake that created it, so processing joins the same trace. */
  trace?: TraceCarrier | undefined;
  /** The rule's `trigger.key` resolved in the payload (keyed rules only). */
  entityKey?: string | undefined;
  /**
   * Keyed rules in `supersede` or `skipIfPending` mode: the store keeps at most one `pending` trigger
   * per (accountId, ruleId, entityKey), deciding atomically (a unique key or compare-and-set), so that
   * concurrent intake on several engines cannot leave two. See {@link InsertOutcome}.
   */
  concurrency?: TriggerConcurrency | undefined;
  /** Rules with a `schedule`: how `evaluateAt` was computed (stored as the trigger's `schedule`). */
  schedule?: TriggerSchedule | undefined;
  /**
   * Stored finished, never due: the trigger is written with status `skipped` and this as its only
   * history entry (a scheduled rule whose event gives no time to run: `anchor-missing`, `past`, ...).
   * It never takes the pending slot, whatever its `concurrency`; a redelivery finds it as usual.
   */
  skipped?: HistoryEntry | undefined;
}

/**
 * `supersede`: an existing pending trigger of the same (account, rule, entityKey) whose event is older
 * than this one is cancelled (history `superseded`, naming this event) and this trigger is stored
 * pending, its `firstEventAt` carried over and its `evaluateAt` capped at `firstEventAt + maxWaitMs`;
 * when the pending one's event is as new or newer, this trigger is stored `cancelled` (reason
 * `superseded`, naming the pending trigger) instead. `skipIfPending`: when one is pending, this trigger
 * is stored `skipped` (reason `pending-exists`). Either way the event is recorded, so a redelivery of
 * it is recognised by the usual (account, event id, rule) key.
 */
export type TriggerConcurrency =
  | {
      mode: 'supersede';
      maxWaitMs?: number | undefined;
      /**
       * Scheduled rules: when the new trigger's `evaluateAt` differs from the replaced one's, its
       * history starts with `{ outcome: 'rescheduled', from, to, eventId, event, triggerId }` (the
       * replaced trigger's due time, its own, this event, the replaced trigger).
       */
      reschedule?: boolean | undefined;
    }
  | { mode: 'skipIfPending' };

/**
 * What an insert did: `created` pending (or, for a keyed rule, `superseded` the pending one it
 * replaced), `redelivered` (the (account, event id, rule) key existed: nothing changed), or stored the
 * event's trigger finished at once: `stale` (supersede: the pending trigger holds a newer event) or
 * `skipped` (skipIfPending: one is pending).
 */
export type InsertOutcome = 'created' | 'superseded' | 'redelivered' | 'stale' | 'skipped';

export interface InsertedTrigger {
  trigger: Trigger;
  /** `false` when a trigger for the same (account, event id, rule) already existed: a redelivery. */
  created: boolean;
  /** What the insert did; stores without keyed concurrency may leave it out (`created` or `redelivered`). */
  outcome?: InsertOutcome | undefined;
  /** `superseded`: the trigger this one replaced; `stale`/`skipped`: the pending trigger that stays. */
  pendingTriggerId?: string | undefined;
}

/**
 * A cancelling event for one rule and entity: pending and retrying triggers of (accountId, ruleId,
 * entityKey) whose event is older than `eventTimestamp` become `cancelled` (history `cancelled`, reason
 * `cancelled-by-event`, with `event`); processing ones whose event is older get `cancelRequested`, which
 * the worker holding them honours before each action it has not sent yet.
 */
export interface CancelRequest {
  accountId: string;
  ruleId: string;
  entityKey: string;
  /** Only triggers whose `triggeringEvent.timestamp` is strictly before this are affected. */
  eventTimestamp: Date;
  event: { id: string; name: string };
  now: Date;
  /** Engine instance id, for history `by`. */
  by: string;
  /** History `reason`; `cancelled-by-event` when absent (a scheduled rule's event with no anchor: `anchor-missing`). */
  reason?: string | undefined;
}

export interface CancelResult {
  /** Triggers moved to `cancelled`. */
  cancelled: Trigger[];
  /** Processing triggers marked `cancelRequested`. */
  requested: Trigger[];
}


export interface ClaimRequest {
  /** The engine's current time; due means `evaluateAt <= now`, an expired lease means `leaseExpiresAt <= now`. */
  now: Date;
  limit: number;
  leaseMs: number;
  /** Identifies the claiming engine instance, for diagnostics. */
  owner: string;
}

/** How one attempt ended; written only while the lease token still matches. */
export interface AttemptResult {
  /** `cancelled`: a cancel was requested while the trigger was processing (see {@link CancelRequest}). */
  status: Extract<TriggerStatus, 'completed' | 'skipped' | 'failed' | 'retrying' | 'cancelled'>;
  /** Next evaluation time, required when status is `retrying`. */
  evaluateAt?: Date | undefined;
  /** Action indexes a gateway accepted during this attempt. */
  sentActions: number[];
  history: HistoryEntry;
  now: Date;
}

export interface TransitionRequest {
  from: readonly TriggerStatus[];
  to: Extract<TriggerStatus, 'pending' | 'cancelled'>;
  evaluateAt?: Date | undefined;
  history: HistoryEntry;
  now: Date;
}

export type TransitionResult =
  | { ok: true; trigger: Trigger }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'conflict'; current: TriggerStatus };

export interface PurgeRequest {
  statuses: readonly TriggerStatus[];
  /** Triggers last updated before this time are removed. */
  olderThan: Date;
}

/**
 * Persistence of triggers, one aggregate: intake stores them, the claim loop leases and finishes
 * them. Adapters store, match and claim atomically; the engine owns validation, scheduling, leases,
 * retries and dispatch. Rule ids in triggers are opaque references (the rules may live in another
 * store). Trigger ids are the store's own and opaque to the engine. Every method that takes an
 * `accountId` behaves as if other accounts' triggers did not exist, and treats an id the store could
 * not have issued as not found, never as an error. A due time that is not a valid date is refused
 * with `CRM_ERR_CONFIG` before anything is stored.
 */
export interface TriggerStore {
  readonly capabilities: StoreCapabilities;

  /** Inserts triggers, ignoring any whose (accountId, event id, rule id) already exists. */
  insertTriggers(triggers: readonly NewTrigger[], now: Date): Promise<InsertedTrigger[]>;
  getTrigger(accountId: string, id: string): Promise<Trigger | null>;
  /** An account's triggers, newest first (the reverse of the order they were created), in pages. */
  listTriggers(accountId: string, filter: TriggerFilter): Promise<Page<Trigger>>;
  /**
   * Atomically moves up to `limit` due triggers (pending or retrying with `evaluateAt <= now`, or
   * processing with an expired lease) to processing, increments `attempt` and gives each a fresh
   * lease token. No trigger is handed to two callers while its lease is valid.
   */
  claimDueTriggers(request: ClaimRequest): Promise<ClaimedTrigger[]>;
  /** Records an attempt's outcome if `leaseToken` still holds the lease; returns false otherwise. */
  finishAttempt(id: string, leaseToken: string, result: AttemptResult): Promise<boolean>;
  /** Moves a trigger between user-controlled states (cancel, manual retry). */
  transitionTrigger(accountId: string, id: string, request: TransitionRequest): Promise<TransitionResult>;
  /** Earliest time any trigger becomes claimable, or null when none is waiting. */
  nextDueAt(): Promise<Date | null>;
  /** Deletes finished triggers by age; returns how many were removed. */
  purgeTriggers(request: PurgeRequest): Promise<number>;
  /**
   * Optional (required for rules with `cancelOn`): cancels one rule's runs for one entity, as
   * {@link CancelRequest} says, with indexed writes on (accountId, ruleId, entityKey, status).
   */
  cancelTriggers?(request: CancelRequest): Promise<CancelResult>;
  /**
   * Optional: records several outcomes in one round trip, each exactly as `finishAttempt` would
   * (guarded by its own lease token); resolves to one boolean per request, in order. The claim loop
   * uses it, when present, to write the outcomes of concurrent triggers together.
   */
  finishAttempts?(requests: readonly FinishRequest[]): Promise<boolean[]>;
  /**
   * Optional: tells `onDue` the due time of triggers stored by any process (PostgreSQL
   * `LISTEN/NOTIFY`, change streams, ...), so idle claim loops everywhere wake for them rather than
   * at their next poll. Resolves to a function that stops watching. The poll stays the backstop.
   */
  watchDue?(onDue: (dueAt: Date) => void): Promise<() => Promise<void>>;
  /** Releases what the store opened itself; never closes a client it was handed. */
  close?(): Promise<void>;
}

/** One outcome for {@link TriggerStore.finishAttempts}. */
export interface FinishRequest {
  id: string;
  leaseToken: string;
  result: AttemptResult;
}

/**
 * Both aggregates in one adapter (`createMemoryStore()`, `createMongoStore()`): what
 * `createAutomationEngine({ store })` takes. A deployment that keeps them apart passes `ruleStore` and
 * `triggerStore` instead.
 */
export interface AutomationStore extends RuleStore, TriggerStore {
  readonly capabilities: StoreCapabilities;
  close?(): Promise<void>;
}

export type { RuleReplaceResult, RuleStore } from './rule-store.js';
export type { StoreCapabilities } from './store-capabilities.js';
