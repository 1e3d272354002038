import type { BuiltInActionType } from '../actions/built-in.js';
import type { MessageCategory } from '../policy/contact-policy.js';
import type { BuiltInOperator, OperatorDecorator } from './operators.js';

/** Units a rule delay may be expressed in. */
export type DelayUnit = 'seconds' | 'minutes' | 'hours' | 'days';

export interface RuleDelay {
  value: number;
  unit: DelayUnit;
}

/**
 * A json-rules-engine leaf condition: compare a fact (optionally at a JSONPath) with a value.
 * `Operator` is `string` in stored rules; rules written for an engine use {@link ConditionOperator}.
 */
export interface LeafCondition<Operator extends string = string> {
  fact: string;
  operator: Operator;
  value: unknown;
  path?: string | undefined;
  params?: Record<string, unknown> | undefined;
  name?: string | undefined;
  priority?: number | undefined;
}

export type NestedCondition<Operator extends string = string> = LeafCondition<Operator> | ConditionGroup<Operator>;

/** A json-rules-engine boolean group: `all`, `any` or `not`. */
export type ConditionGroup<Operator extends string = string> =
  | { all: NestedCondition<Operator>[]; name?: string | undefined; priority?: number | undefined }
  | { any: NestedCondition<Operator>[]; name?: string | undefined; priority?: number | undefined }
  | { not: NestedCondition<Operator>; name?: string | undefined; priority?: number | undefined };

type OperatorName<CustomOperator extends string> = BuiltInOperator | CustomOperator;

/**
 * The operators a rule may name: json-rules-engine's built-ins and `CustomOperator` (the names given
 * in the engine's `operators`), each with up to two decorators (`everyFact:equal`, `not:someValue:in`).
 * Run-time validation accepts deeper decoration too; such a rule goes through {@link asUntrustedRule}.
 */
export type ConditionOperator<CustomOperator extends string = never> =
  | OperatorName<CustomOperator>
  | `${OperatorDecorator}:${OperatorName<CustomOperator>}`
  | `${OperatorDecorator}:${OperatorDecorator}:${OperatorName<CustomOperator>}`;

/**
 * The entity a rule's runs are about: a JSONPath into the event payload (`$.job.id`) whose value
 * (a string or a finite number, kept as a string) is the trigger's `entityKey`.
 */
export interface RuleTrigger {
  eventName: string;
  /** JSONPath into the payload naming the entity; a rule without it behaves as before (no key). */
  key?: string | undefined;
}

/**
 * An event that cancels a keyed rule's pending and retrying runs for the same entity whose event is
 * older than it (event timestamps, not arrival order), and a run being processed before each action
 * it has not sent yet.
 */
export interface CancelOn<Operator extends string = string> {
  eventName: string;
  /** Only events that satisfy these cancel (same language as the rule's conditions, over the cancelling event). */
  conditions?: ConditionGroup<Operator> | undefined;
  /** Where the cancelling event carries the entity key; defaults to the rule's `trigger.key`. */
  key?: string | undefined;
}

/**
 * What a keyed rule does when an event for an entity arrives while a run for that entity is pending:
 * `all` (default) starts one run per event; `supersede` (debounce) replaces the pending run with one for
 * the new event, due at the new event's time + delay but never later than the first event's time +
 * `maxWait`; `skipIfPending` starts nothing (the event is recorded as a skipped trigger).
 */
export interface RuleConcurrency {
  mode: 'all' | 'supersede' | 'skipIfPending';
  /** `supersede` only: the longest a run may be pushed out, from the first event; at least the delay. */
  maxWait?: RuleDelay | undefined;
}

/** Which value of a fact conditions and templates see: the event's, or the loader's at fire time. */
export type FactEvaluation = 'event' | 'current';

/** Units a schedule offset may be expressed in: `days`, `weeks` and `months` are calendar units. */
export type ScheduleUnit = 'seconds' | 'minutes' | 'hours' | 'days' | 'weeks' | 'months';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/**
 * Local hours a scheduled run may start in: from `from` (inclusive) to `to` (exclusive), on `days`
 * (the day each opening starts; all days when absent). `to` before `from` wraps past midnight
 * (`22:00`–`06:00`). A due time outside it moves to the next opening (to `at` on the next open day
 * when the schedule has an `at` inside these hours).
 */
export interface ScheduleWindow {
  days?: Weekday[] | undefined;
  /** `HH:mm`, 24-hour local time. */
  from: string;
  /** `HH:mm`, 24-hour local time. */
  to: string;
}

/**
 * When a run is due, relative to a date in the event, in the recipient's time zone (docs/schedules.md):
 * the anchor, plus `offset` (calendar units for days, weeks and months: "1 day before" keeps the
 * wall-clock time across a DST change), at `at` local time, moved into `window`. A local time that
 * does not exist (spring forward) becomes the next valid instant; one that exists twice (fall back)
 * the first of them.
 */
export interface RuleSchedule {
  /** JSONPath to an ISO date in the payload (`$.appointment.startsAt`), or `event.timestamp`. */
  anchor: string;
  /** Added to the anchor; negative for "before". */
  offset?: { value: number; unit: ScheduleUnit } | undefined;
  /** `HH:mm`: the local time of day of the due time (after the offset). */
  at?: string | undefined;
  /** An IANA zone (`America/Chicago`) or a JSONPath to one in the payload (`$.client.timeZone`); UTC when absent. */
  timeZone?: string | undefined;
  /** An IANA zone used when `timeZone` is a path the payload does not have. */
  fallbackTimeZone?: string | undefined;
  window?: ScheduleWindow | undefined;
  /**
   * A due time already past at intake: `skip` (the run is recorded skipped) or run `now`. Default:
   * `skip` for an anchor in the payload, `now` for `event.timestamp` (a late event still runs).
   */
  ifPast?: 'skip' | 'now' | undefined;
}

/** A value taken from the triggering event at send time. */
export interface FactReference {
  source: 'fact';
  fact: string;
  path?: string | undefined;
}

export type Recipient = string | FactReference;

export interface SmsParams {
  recipient: Recipient;
  message: string;
}

export interface EmailParams {
  recipient: Recipient;
  subject: string;
  body?: string | undefined;
  html?: string | undefined;
  templateId?: string | undefined;
}

export interface WebhookParams {
  url: string;
  method?: 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET' | undefined;
  headers?: Record<string, string> | undefined;
  payload?: unknown;
}

/** An action of a stored rule: any type, since another engine (with other gateways) may have saved it. */
/**
 * What an action's message is for, as the contact policy reads it: `transactional` skips caps and quiet
 * hours (never suppression); absent means `marketing`.
 */
interface ActionCategory {
  category?: MessageCategory | undefined;
}

export type RuleAction =
  | ({ type: 'sms'; params: SmsParams } & ActionCategory)
  | ({ type: 'email'; params: EmailParams } & ActionCategory)
  | ({ type: 'webhook'; params: WebhookParams } & ActionCategory)
  | ({ type: string; params: Record<string, unknown> } & ActionCategory);

/** An action of a built-in type, with the params core's schemas check. */
export type BuiltInActionInput =
  | ({ type: 'sms'; params: SmsParams } & ActionCategory)
  | ({ type: 'email'; params: EmailParams } & ActionCategory)
  | ({ type: 'webhook'; params: WebhookParams } & ActionCategory);

/**
 * An action of a rule written for an engine: a built-in type with its params, or `CustomActionType`
 * (the engine's `channels` keys and `actionTypes`) with params its gateway's schema checks at run time.
 */
export type ActionInput<CustomActionType extends string = never> = [Exclude<CustomActionType, BuiltInActionType>] extends [never]
  ? BuiltInActionInput
  : BuiltInActionInput | ({ type: Exclude<CustomActionType, BuiltInActionType>; params: Record<string, unknown> } & ActionCategory);

/**
 * What a user writes: the design doc's rule document without id and timestamps. The type parameters
 * name what an engine adds to the built-ins (`rules.create` of an engine fills them in from its
 * `channels`, `actionTypes` and `operators`): `RuleInput<'slack', 'startsWith'>`.
 */
export interface RuleInput<CustomActionType extends string = never, CustomOperator extends string = never> {
  name: string;
  description?: string | undefined;
  enabled?: boolean | undefined;
  /** The design doc's documents carry it; when present it must be the account the rule is saved to. */
  accountId?: string | undefined;
  trigger: RuleTrigger;
  /** A fixed wait from the event's timestamp (the shorthand of a schedule anchored at `event.timestamp`). */
  delay?: RuleDelay | undefined;
  /** Instead of `delay`: a due time relative to a date in the event, in the recipient's time zone. */
  schedule?: RuleSchedule | undefined;
  conditions: ConditionGroup<ConditionOperator<CustomOperator>>;
  actions: ActionInput<CustomActionType>[];
  /** Keyed rules only: events that cancel this rule's runs for the same entity. */
  cancelOn?: CancelOn<ConditionOperator<CustomOperator>>[] | undefined;
  /** Keyed rules only: one run per event (default), supersede (debounce), or skip while one is pending. */
  concurrency?: RuleConcurrency | undefined;
  /**
   * `'current'`: conditions and templates see the engine's `facts` loaders' values at fire time
   * (all facts, or per fact name); `'event'` (default): the event's payload as stored.
   */
  evaluate?: FactEvaluation | Record<string, FactEvaluation> | undefined;
}

declare const untrustedRuleBrand: unique symbol;

/**
 * A rule document whose shape the compiler cannot know (a request body, a parsed file), marked by
 * {@link asUntrustedRule}. The engine validates it at run time like any other input.
 */
export interface UntrustedRuleInput {
  readonly [untrustedRuleBrand]: 'validated at run time';
}

/**
 * Passes a value of unknown shape to `rules.create` / `rules.update` / `rules.dryRun`, which validate
 * it at run time (`RuleValidationError` with every problem and its path). Returns `value` itself.
 */
export function asUntrustedRule(value: unknown): UntrustedRuleInput {
  return value as UntrustedRuleInput;
}

/** A stored rule: the input after validation and defaults, plus what the store assigns. */
export interface Rule {
  id: string;
  accountId: string;
  name: string;
  description?: string | undefined;
  enabled: boolean;
  trigger: RuleTrigger;
  /** Zero when the rule has a `schedule`. */
  delay: RuleDelay;
  schedule?: RuleSchedule | undefined;
  conditions: ConditionGroup;
  actions: RuleAction[];
  cancelOn?: CancelOn[] | undefined;
  concurrency?: RuleConcurrency | undefined;
  evaluate?: FactEvaluation | Record<string, FactEvaluation> | undefined;
  /** Starts at 1 and grows by one on every update. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A validated rule before the store gives it an id and timestamps. */
export type RuleDraft = Omit<Rule, 'id' | 'accountId' | 'version' | 'createdAt' | 'updatedAt'>;

export interface RuleFilter {
  eventName?: string | undefined;
  enabled?: boolean | undefined;
  /** Page size; defaults to 50, at most 500. */
  limit?: number | undefined;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back as `cursor`. */
  nextCursor?: string | undefined;
}

const UNIT_MS: Record<DelayUnit, number> = {
  seconds: 1_000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
};

export function delayToMs(delay: RuleDelay): number {
  return delay.value * UNIT_MS[delay.unit];
}

export function isConditionGroup(condition: NestedCondition): condition is ConditionGroup {
  return 'all' in condition || 'any' in condition || 'not' in condition;
}
