import type { ActionObservation } from '../dispatch/dispatch-actions.js';
import type { ScheduleSkipReason } from '../scheduling/schedule.js';
import type { AutomationError, ValidationIssue } from '../errors.js';
import type { AutomationEvent, NormalizedEvent } from '../events/event.js';
import type { EventBus } from '../ports/bus.js';
import type { Delivery } from '../ports/delivery-ledger.js';
import type { DeliveryAdmin } from './delivery-admin.js';
import type { ContactPolicyAdmin, SuppressionAdmin } from './contact-admin.js';
import type { SuppressionChange } from '../ports/contact-policy.js';
import type { Clock } from '../ports/clock.js';
import type { ActionCommand } from '../ports/gateway.js';
import type { TraceCarrier } from '../ports/tracer.js';
import type { AttemptResult, AutomationStore, RuleStore, TriggerStore } from '../ports/store.js';
import type { Page, Rule, RuleFilter, RuleInput, UntrustedRuleInput } from '../rules/rule.js';
import type { RuleValidationResult } from '../rules/rule-schema.js';
import type { DryRunResult, DryRunSample } from '../rules/dry-run.js';
import type { IntakeSummary } from '../intake/ingest.js';
import type { RunCounts } from '../scheduling/claim-loop.js';
import type { ClaimedTrigger, ConditionTrace, ErrorSummary, Trigger, TriggerFilter } from '../scheduling/trigger.js';

/**
 * A trigger that will not run because of another for the same rule and entity (`concurrency:
 * 'supersede'`): `superseded`, a newer event replaced the pending trigger `triggerId` with
 * `pendingTriggerId`; `stale`, this event's trigger `triggerId` was stored cancelled because the
 * pending `pendingTriggerId` holds a newer event.
 */
export interface TriggerSupersededInfo {
  accountId: string;
  ruleId: string;
  entityKey?: string | undefined;
  reason: 'superseded' | 'stale';
  /** The trigger that will not run. */
  triggerId: string;
  /** The pending trigger that will. */
  pendingTriggerId: string;
  /** The event whose intake decided it. */
  event: { id: string; name: string };
}

/**
 * A run stopped by a cancelling event (`cancelOn`): at `intake` (it was pending or retrying), or during
 * `processing`, before an action it had not sent yet (those sent stay sent).
 */
export interface TriggerCancelledInfo {
  trigger: Trigger;
  /** `cancelled-by-event` (`cancelOn`), or a scheduled rule's newer event that gives no due time (`anchor-missing`, `past`, ...). */
  reason: 'cancelled-by-event' | ScheduleSkipReason;
  event: { id: string; name: string };
  stage: 'intake' | 'processing';
}

/** A newer event for the same entity moved a scheduled rule's pending run (`from` → `to`). */
export interface TriggerRescheduledInfo {
  accountId: string;
  ruleId: string;
  entityKey?: string | undefined;
  /** The pending trigger now (the new event's). */
  triggerId: string;
  /** The trigger it replaced. */
  replacedTriggerId: string;
  from: Date;
  to: Date;
  event: { id: string; name: string };
}

/** A scheduled rule's event that gives its run no due time: the run is stored skipped. */
export interface ScheduleSkippedInfo {
  trigger: Trigger;
  reason: ScheduleSkipReason;
  message: string;
}

/**
 * The contact policy held a send back: the run stops before action `actionIndex` and runs again at
 * `until` (the end of the quiet window or of the full cap bucket, plus up to 120 s of jitter; or, for
 * `throttled`, any category, when the channel's throttle next has a token, plus up to 1 s).
 */
export interface ContactDeferredInfo {
  trigger: ClaimedTrigger;
  actionIndex: number;
  reason: 'quiet-hours' | 'capped' | 'throttled';
  until: Date;
}

/** An action not sent and never retried: its recipient is suppressed, or a cap is full (`overCap: 'skip'`). */
export interface ContactSkippedInfo {
  trigger: ClaimedTrigger;
  actionIndex: number;
  reason: 'suppressed' | 'capped';
}

/** What an engine tells observers (logs, metrics, demos, tests). */
export interface EngineEvents {
  /** `summary` counts what intake did: created, superseded, stale, skipped, redelivered, cancelled. */
  'event:ingested': [info: { event: NormalizedEvent; triggers: Trigger[]; created: number; summary: IntakeSummary }];
  'trigger:superseded': [info: TriggerSupersededInfo];
  'trigger:cancelled': [info: TriggerCancelledInfo];
  'trigger:rescheduled': [info: TriggerRescheduledInfo];
  'schedule:skipped': [info: ScheduleSkippedInfo];
  'trigger:claimed': [trigger: ClaimedTrigger];
  'trigger:evaluated': [info: { trigger: ClaimedTrigger; matched: boolean; conditions: ConditionTrace[] }];
  'trigger:finished': [info: { trigger: ClaimedTrigger; result: AttemptResult; saved: boolean }];
  /** `limit` is what the claim asked for: `batchSize`, or less while triggers take long (see `batchLimit`). */
  'batch:claimed': [info: { size: number; limit: number; at: Date }];
  'action:sent': [info: ActionObservation & { command: ActionCommand; result: unknown }];
  'action:failed': [info: ActionObservation & { command: ActionCommand | undefined; error: ErrorSummary }];
  'loop:error': [error: unknown];
  /** A delivery moved on a receipt, an operator's decision or reconciliation (engine sends: `action:*`). */
  'delivery:changed': [info: { delivery: Delivery; source: 'receipt' | 'operator' | 'reconcile' }];
  /**
   * A rule version was compiled for evaluation: by the condition compiler, or by json-rules-engine with
   * the compiler's reason (`fallback.code`: `async_operator`, `unknown_operator`, ...).
   */
  'rule:compiled': [info: { accountId: string; ruleId: string; version: number; evaluator: 'compiled' | 'json-rules-engine'; fallback?: { code: string; reason: string } | undefined }];
  /** A rule was created, replaced or deleted through this engine (`rule` is null after a delete). */
  'rule:changed': [info: { accountId: string; ruleId: string; rule: Rule | null }];
  'contact:deferred': [info: ContactDeferredInfo];
  'contact:skipped': [info: ContactSkippedInfo];
  /** A suppression was added or removed (through `engine.suppressions`, or by the engine on a provider's opt-out error). */
  'suppression:changed': [info: { change: SuppressionChange }];
}

export interface IngestOptions {
  /**
   * Rules already matched by the caller (the pub/sub lookup pattern: a `rules_found` message carries
   * them); intake skips its own lookup but still keeps only enabled rules of this account and event.
   */
  rules?: readonly Rule[] | undefined;
  /** Trace context the event arrived with (bus or HTTP headers); its triggers join that trace. */
  trace?: TraceCarrier | undefined;
}

/** One event of `ingestMany`: its triggers, or the error that refused it (an `EventValidationError`). */
export type IngestManyResult = { ok: true; eventId: string; triggers: Trigger[]; summary?: IntakeSummary | undefined } | { ok: false; error: AutomationError | Error };

/**
 * The triggers `ingest` stored or found for an event (one per rule it starts, in any status: a
 * `supersede` rule's stale trigger is `cancelled`, a `skipIfPending` rule's is `skipped`), with
 * `summary`, a non-enumerable count of what intake did.
 */
export type IngestedTriggers = Trigger[] & { readonly summary?: IntakeSummary | undefined };

export interface UpdateRuleOptions {
  /** Refuse the write (VersionConflictError) unless the stored rule is at this version. */
  expectedVersion?: number | undefined;
}

/**
 * A rule as `rules.create` / `rules.update` return it: the stored rule, plus the save's `warnings`
 * (not stored) when something deserves a look, such as an action type with no gateway on this engine.
 */
export type SavedRule = Rule & { warnings?: ValidationIssue[] | undefined };

/**
 * An engine. `CustomActionType` and `CustomOperator` are what its rules may use besides the built-ins
 * (`createAutomationEngine` infers them from `channels`, `actionTypes` and `operators`), so a rule
 * literal with a misspelt action type or operator does not compile.
 */
export interface AutomationEngine<CustomActionType extends string = never, CustomOperator extends string = never> {
  readonly rules: {
    /**
     * Validates and stores a rule (`RuleValidationError` with every problem). A document of unknown
     * shape (a request body, a file) goes through `asUntrustedRule`: the same checks apply at run time.
     */
    create(accountId: string, input: RuleInput<CustomActionType, CustomOperator> | UntrustedRuleInput): Promise<SavedRule>;
    get(accountId: string, id: string): Promise<Rule | null>;
    /** Full replace; null when the rule does not exist in this account. */
    update(accountId: string, id: string, input: RuleInput<CustomActionType, CustomOperator> | UntrustedRuleInput, options?: UpdateRuleOptions): Promise<SavedRule | null>;
    delete(accountId: string, id: string): Promise<boolean>;
    list(accountId: string, filter?: RuleFilter): Promise<Page<Rule>>;
    /**
     * Checks a rule without storing it; reports every problem with its path. It takes any value:
     * deciding whether untrusted input is a rule is what it is for.
     */
    validate(input: unknown): RuleValidationResult;
    /**
     * Tries a rule against a sample event: which conditions pass or fail with the values seen, the
     * commands that would be sent, and when. `rule` is a saved rule's id or an unsaved rule document
     * (invalid: `{ valid: false, issues }`). Nothing is stored or sent. Null when a rule id does not
     * exist in this account.
     */
    dryRun(accountId: string, rule: string | RuleInput<CustomActionType, CustomOperator> | UntrustedRuleInput, sample: DryRunSample): Promise<DryRunResult | null>;
    /** JSON Schema (2020-12) of the rule documents this engine accepts, from the validator's zod schema. */
    jsonSchema(): Record<string, unknown>;
  };
  /** The delivery ledger: every send from intent to receipt (when the store keeps one). */
  readonly deliveries: DeliveryAdmin;
  /** Per-account quiet hours and caps (`CRM_ERR_CONFIG` when the engine has no contact policy store). */
  readonly contactPolicy: ContactPolicyAdmin;
  /** The suppression list: STOP, unsubscribes, bounces, opt-outs (`CRM_ERR_CONFIG` when the engine has no suppression store). */
  readonly suppressions: SuppressionAdmin;
  readonly triggers: {
    get(accountId: string, id: string): Promise<Trigger | null>;
    list(accountId: string, filter?: TriggerFilter): Promise<Page<Trigger>>;
    /** Cancels a pending or retrying trigger; null when it does not exist in this account. */
    cancel(accountId: string, id: string): Promise<Trigger | null>;
    /** Schedules a failed trigger again, now, with a fresh attempt budget. */
    retry(accountId: string, id: string): Promise<Trigger | null>;
  };
  /**
   * Intake: validates the event, cancels the runs it cancels (`cancelOn`) and stores one trigger per
   * rule it starts; returns them (with `summary`).
   */
  ingest(event: AutomationEvent, options?: IngestOptions): Promise<IngestedTriggers>;
  /**
   * Intake of many events at once (bulk import, a batch off a queue): each is validated on its own,
   * so one bad event does not refuse the others; rules are looked up once per (account, event name)
   * and all triggers are stored with one store call. One result per event, in order.
   */
  ingestMany(events: readonly AutomationEvent[]): Promise<IngestManyResult[]>;
  /** Validates the event and sends it to the bus; with the in-process bus, intake is done on return. */
  publish(event: AutomationEvent): Promise<{ id: string }>;
  /** One pass of the claim loop: processes everything due now; resolves once its outcomes (and ledger outcomes) are written. */
  runDue(): Promise<RunCounts>;
  /** Starts consuming the bus and running the claim loop. */
  start(): Promise<void>;
  /** Stops fetching, lets in-flight intake and triggers finish and be recorded, then returns. */
  stop(): Promise<void>;
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): AutomationEngine<CustomActionType, CustomOperator>;
  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): AutomationEngine<CustomActionType, CustomOperator>;
  /**
   * The store of both aggregates when the engine was given one (`store`); with `ruleStore` and
   * `triggerStore`, a view of both whose missing half throws `CRM_ERR_CONFIG`.
   * @deprecated read `ruleStore` / `triggerStore`.
   */
  readonly store: AutomationStore;
  /** Where this engine keeps rules (`engine.rules.*`); undefined for a trigger-only engine. */
  readonly ruleStore: RuleStore | undefined;
  /** Where this engine keeps triggers (intake, the claim loop, `engine.triggers.*`); undefined for a rules-only engine. */
  readonly triggerStore: TriggerStore | undefined;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly instanceId: string;
}
