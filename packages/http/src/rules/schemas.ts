// One file: the Rules API's response schemas (rules, runs, history, dry runs, deliveries) make one
// OpenAPI document, and the shapes they share are defined once, side by side, so they cannot drift.
import {
  DELIVERY_STATES,
  MAX_ENTITY_KEY_LENGTH,
  TRIGGER_STATUSES,
  type ActionOutcome,
  type CapPeriod,
  type DryRunSchedule,
  type MessageCategory,
  type SuppressionReason,
  type SuppressionSource,
  type HistoryOutcome,
  type RuleSchedule,
  type ScheduleNote,
  type ScheduleSkipReason,
  type TriggerSchedule,
} from '@crm-automation/core';
import { z } from 'zod';
import { deliveryReferenceFields } from '../triggers/delivery-fields.js';

/**
 * Request and response schemas of the Rules Service API. Requests are parsed with them; the OpenAPI
 * document is generated from them; the response schemas describe exactly what the routes serialize.
 */

const isoDate = z.iso.datetime({ offset: true });
/** Ids of rules and triggers: printable ASCII without spaces, at most 64 characters. */
const id = z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const idParams = z.strictObject({ id });

const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');
const limit = z.coerce.number().int().min(1).max(500).optional();
const cursor = z.string().min(1).max(100).optional();

export const listRulesQuery = z.strictObject({
  eventName: z.string().min(1).max(200).optional(),
  enabled: booleanString.optional(),
  limit,
  cursor,
});

const statusList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter(Boolean))
  .pipe(z.array(z.enum(TRIGGER_STATUSES as [string, ...string[]])).min(1));

/** A trigger's `entityKey`: the value of its rule's `trigger.key` in the event, as a string. */
export const entityKey = z.string().min(1).max(MAX_ENTITY_KEY_LENGTH);

export const listTriggersQuery = z.strictObject({
  status: statusList.optional(),
  ruleId: id.optional(),
  /** Only the runs of one entity (the rule's `trigger.key` value, e.g. a job id). */
  entityKey: entityKey.optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  limit,
  cursor,
});

const stateList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter(Boolean))
  .pipe(z.array(z.enum(DELIVERY_STATES as [string, ...string[]])).min(1));

export const listDeliveriesQuery = z.strictObject({
  triggerId: id.optional(),
  /** An E.164 number, an email address (matched lower-cased) or a webhook's host. */
  recipient: z.string().min(1).max(320).optional(),
  provider: z.string().min(1).max(100).optional(),
  providerId: z.string().min(1).max(200).optional(),
  state: stateList.optional(),
  limit,
  cursor,
});

export const resolveDeliveryBody = z.strictObject({
  /** `sent`: it did reach the provider (the delivery becomes `accepted`); `resend`: send the action again. */
  as: z.enum(['sent', 'resend']),
  note: z.string().max(500).optional(),
});

// Any value: core reads the timestamp (ISO 8601 with real calendar days, RFC 2822, epoch
// milliseconds) and answers invalid_timestamp or timestamp_out_of_range on `timestamp`, in-process
// and over HTTP alike; a stricter schema here answered other codes for the same mistakes.
// Typed as what a valid timestamp is; any value passes here and core refuses the bad ones.
const eventTimestamp = (z.unknown() as unknown as z.ZodType<string | number>).meta({
  type: ['string', 'number'],
  description: 'ISO 8601 date-time (UTC when it has no offset), RFC 2822, or epoch milliseconds',
});

export const sampleEvent = z.strictObject({
  payload: z.record(z.string(), z.unknown()),
  name: z.string().min(1).max(200).optional(),
  timestamp: eventTimestamp.optional(),
  /**
   * Current state, fact by fact (`{ job: {...} }`), for a rule that evaluates facts at fire time
   * (`evaluate: 'current'`): what the engine's `facts` loaders would answer. Facts the rule reads from
   * the event are left as the payload has them.
   */
  current: z.record(z.string(), z.unknown()).optional(),
});

export const validateBody = z.strictObject({
  rule: z.record(z.string(), z.unknown()),
  sample: sampleEvent.optional(),
});

export const eventBody = z.strictObject({
  name: z.string(),
  payload: z.unknown(),
  id: z.string().optional(),
  timestamp: eventTimestamp.optional(),
  accountId: z.string().optional(),
});

const issue = z.object({ path: z.string(), code: z.string(), message: z.string() });

export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })).optional(),
  }),
});

const conditionTrace = z.object({
  path: z.string(),
  fact: z.string(),
  factPath: z.string().optional(),
  operator: z.string(),
  value: z.unknown(),
  factResult: z.unknown().optional(),
  /** Rules evaluated on current state: the value the same path had in the event. */
  eventValue: z.unknown().optional(),
  result: z.boolean(),
  evaluated: z.literal(false).optional(),
});

const errorSummary = z.looseObject({ code: z.string(), message: z.string(), retryable: z.boolean() });

const command = z.object({
  type: z.string(),
  params: z.record(z.string(), z.unknown()),
  metadata: z.object({
    source: z.literal('automation-engine'),
    ruleId: z.string(),
    triggerId: z.string(),
    accountId: z.string(),
    actionIndex: z.number().int(),
    idempotencyKey: z.string(),
  }),
});

const ruleDelay = z.object({ value: z.number(), unit: z.enum(['seconds', 'minutes', 'hours', 'days']) });
const factEvaluation = z.enum(['event', 'current']);

/**
 * Every member of the string union `T`, listed once: the enums below fail to compile when core's
 * union gains a member they lack, so the document cannot fall behind the engine.
 */
const everyOf =
  <T extends string>() =>
  <const A extends readonly [T, ...T[]]>(values: A & ([T] extends [A[number]] ? unknown : { missing: Exclude<T, A[number]> })): A =>
    values;

const HISTORY_OUTCOMES = everyOf<HistoryOutcome>()(['completed', 'skipped', 'failed', 'retrying', 'cancelled', 'retry-requested', 'superseded', 'rescheduled']);
const ACTION_STATUSES = everyOf<ActionOutcome['status']>()(['sent', 'already-sent', 'failed', 'not-attempted', 'unknown', 'skipped']);
const ACTION_SKIP_REASONS = everyOf<NonNullable<ActionOutcome['reason']>>()(['suppressed', 'capped']);
const SCHEDULE_SKIP_REASONS = everyOf<ScheduleSkipReason>()(['anchor-missing', 'zone-unknown', 'past', 'beyond-horizon']);
const SCHEDULE_NOTE_CODES = everyOf<ScheduleNote['code']>()(['dst-gap', 'dst-overlap', 'window', 'past-now', 'month-end']);
const ZONE_SOURCES = everyOf<TriggerSchedule['zoneSource']>()(['rule', 'payload', 'fallback', 'default']);

const localClock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/);

/** A stored rule's `schedule`, as saved (the request side is the engine's JSON Schema, `RuleDocument`). */
const ruleSchedule = z
  .object({
    anchor: z.string().meta({ description: 'JSONPath to an ISO date in the payload ($.appointment.startsAt), or event.timestamp' }),
    offset: z
      .object({ value: z.number(), unit: z.enum(['seconds', 'minutes', 'hours', 'days', 'weeks', 'months']) })
      .meta({ description: 'Added to the anchor, negative for before; days, weeks and months are calendar units in the zone (the same wall-clock time across a DST change)' })
      .optional(),
    at: localClock.meta({ description: 'Local time of day of the due time (HH:mm, 24-hour), after the offset' }).optional(),
    timeZone: z.string().meta({ description: 'An IANA zone (America/Chicago) or a JSONPath to one in the payload ($.client.timeZone); UTC when absent' }).optional(),
    fallbackTimeZone: z.string().meta({ description: 'The IANA zone used when the payload has no zone at the timeZone path' }).optional(),
    window: z
      .object({ days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).optional(), from: localClock, to: localClock })
      .meta({ description: 'Local hours a run may start in (to before from wraps past midnight); a due time outside moves to the next opening' })
      .optional(),
    ifPast: z.enum(['skip', 'now']).meta({ description: 'A due time already past at intake: skip (default; the run is recorded skipped) or run now' }).optional(),
  })
  .meta({ description: 'When a run is due, relative to a date in the event, in the recipient’s time zone (instead of delay; delay is then zero)' }) satisfies z.ZodType<RuleSchedule>;

const scheduleNote = z.object({ code: z.enum(SCHEDULE_NOTE_CODES), message: z.string() });
const zoneSource = z.enum(ZONE_SOURCES).meta({ description: 'Where the zone came from: the rule, the payload, the rule’s fallback, or UTC by default' });

/** A scheduled rule's run: how its `evaluateAt` was computed. */
const triggerScheduleFields = {
  timeZone: z.string().meta({ description: 'The IANA zone the due time was computed in' }),
  zoneSource,
  anchor: z.string().meta({ description: 'The anchor as read from the event' }),
  local: isoDate.meta({ description: 'The due time in that zone, with its offset (2026-03-07T09:00:00.000-06:00)' }),
  notes: z.array(scheduleNote).meta({ description: 'Why the due time is not plain anchor + offset (window, DST gap or repeat, past, month end), in the order applied' }),
};
const triggerSchedule = z.object(triggerScheduleFields).meta({ description: 'How a scheduled rule’s due time was computed, in the recipient’s zone' }) satisfies z.ZodType<TriggerSchedule>;
const partialTriggerSchedule = z.object(triggerScheduleFields).partial();

const dryRunSchedule = z
  .object({
    outcome: z.enum(['scheduled', 'skipped']),
    reason: z.enum(SCHEDULE_SKIP_REASONS).optional(),
    message: z.string().optional(),
    local: isoDate.meta({ description: 'The due time in the recipient’s zone, with its offset' }).optional(),
    utc: isoDate.meta({ description: 'The due time in UTC' }).optional(),
    timeZone: z.string().optional(),
    zoneSource: zoneSource.optional(),
    anchor: z.string().optional(),
    notes: z.array(scheduleNote),
  })
  .meta({ description: 'A scheduled rule’s due time for the sample as intake would compute it now: scheduled at utc, or skipped for reason' }) satisfies z.ZodType<DryRunSchedule>;

export const ruleResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  enabled: z.boolean(),
  /** `key`: the JSONPath naming the entity the rule's runs are about (`$.job.id`). */
  trigger: z.object({ eventName: z.string(), key: z.string().optional() }),
  delay: ruleDelay,
  schedule: ruleSchedule.optional(),
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.object({ type: z.string(), params: z.record(z.string(), z.unknown()), category: z.enum(everyOf<MessageCategory>()(['transactional', 'marketing'])).optional() })),
  /** Events that cancel this rule's runs for the same entity (`key`: where they carry it, default `trigger.key`). */
  cancelOn: z.array(z.object({ eventName: z.string(), conditions: z.record(z.string(), z.unknown()).optional(), key: z.string().optional() })).optional(),
  /** What a new event for an entity does while a run of it is pending; `maxWait` with `supersede` only. */
  concurrency: z.object({ mode: z.enum(['all', 'supersede', 'skipIfPending']), maxWait: ruleDelay.optional() }).optional(),
  /** Which value of each fact conditions and templates see: the event's or the `facts` loader's at fire time. */
  evaluate: z.union([factEvaluation, z.record(z.string(), factEvaluation)]).optional(),
  version: z.number().int().min(1),
  createdAt: isoDate,
  updatedAt: isoDate,
});

/** A rule as `POST /rules` and `PUT /rules/:id` answer it: with the save's warnings, when there are any. */
export const savedRuleResponse = ruleResponse.extend({ warnings: z.array(issue).optional() });

export const rulePage = z.object({ items: z.array(ruleResponse), nextCursor: z.string().optional() });

const historyEntry = z.object({
  at: isoDate,
  attempt: z.number().int(),
  outcome: z.enum(HISTORY_OUTCOMES),
  reason: z.string().optional(),
  ruleVersion: z.number().int().optional(),
  conditions: z.array(conditionTrace).optional(),
  actions: z
    .array(
      z.object({
        index: z.number().int(),
        type: z.string(),
        status: z.enum(ACTION_STATUSES),
        /** `skipped`: the contact policy's reason (the recipient is suppressed, or a cap was full). */
        reason: z.enum(ACTION_SKIP_REASONS).optional(),
        result: z.unknown().optional(),
        error: errorSummary.optional(),
        durationMs: z.number().optional(),
        deliveryId: z.string().optional(),
      }),
    )
    .optional(),
  error: errorSummary.optional(),
  nextAttemptAt: isoDate.optional(),
  by: z.string().optional(),
  /** The event that cancelled or superseded the run, or that it was skipped for. */
  event: z.object({ id: z.string(), name: z.string() }).optional(),
  /** The other run involved: the one that superseded this one, or the pending one this was skipped or stale for. */
  triggerId: z.string().optional(),
  from: isoDate.meta({ description: 'rescheduled (and the superseded run it replaced): the due time before' }).optional(),
  to: isoDate.meta({ description: 'rescheduled: the due time after' }).optional(),
  eventId: z.string().meta({ description: 'rescheduled: the event that moved the due time' }).optional(),
  schedule: partialTriggerSchedule.meta({ description: 'A scheduled run skipped at intake: what was computed before it was skipped' }).optional(),
});

export const triggerResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  status: z.enum(TRIGGER_STATUSES as [string, ...string[]]),
  evaluateAt: isoDate,
  attempt: z.number().int().min(0),
  triggeringEvent: z.object({ id: z.string(), name: z.string(), timestamp: isoDate, payload: z.record(z.string(), z.unknown()) }),
  executionHistory: z.array(historyEntry),
  sentActions: z.array(z.number().int()),
  createdAt: isoDate,
  updatedAt: isoDate,
  leaseExpiresAt: isoDate.optional(),
  /** The rule's `trigger.key` in the event (keyed rules only). */
  entityKey: z.string().optional(),
  /** `supersede` rules: the first event's time of the chain of runs this one replaced (`maxWait` counts from it). */
  firstEventAt: isoDate.optional(),
  /** A cancelling event arrived while the run was processing; it stops before its next unsent action. */
  cancelRequested: z.object({ event: z.object({ id: z.string(), name: z.string() }), at: isoDate }).optional(),
  schedule: triggerSchedule.optional(),
});

export const triggerPage = z.object({ items: z.array(triggerResponse), nextCursor: z.string().optional() });

const deliveryState = z.enum(DELIVERY_STATES as [string, ...string[]]);

export const deliveryResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  ...deliveryReferenceFields,
  recipient: z.string().optional(),
  state: deliveryState,
  providerId: z.string().optional(),
  error: errorSummary.optional(),
  /** Whether the provider deduplicates by the idempotency key (an unknown send may then be retried). */
  dedupes: z.boolean(),
  events: z.array(
    z.object({
      at: isoDate,
      state: deliveryState,
      source: z.enum(['engine', 'receipt', 'operator', 'reconcile']),
      detail: z.string().optional(),
    }),
  ),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const deliveryPage = z.object({ items: z.array(deliveryResponse), nextCursor: z.string().optional() });

/** Every send of one trigger, oldest first (no pages: a trigger has a handful of actions and attempts). */
export const triggerDeliveries = z.object({ items: z.array(deliveryResponse) });

/** What the account's contact policy would do to a dry run's send at the run's due time (engines with a contact policy). */
const dryRunContact = z
  .union([
    z.object({ outcome: z.literal('skipped'), reason: z.literal('suppressed') }),
    z.object({ outcome: z.literal('deferred'), reason: z.literal('quiet-hours'), until: isoDate }),
    z.object({ outcome: z.literal('counted'), caps: z.array(z.object({ max: z.number().int(), per: z.enum(everyOf<CapPeriod>()(['hour', 'day', 'week'])) })) }),
  ])
  .meta({ description: 'skipped: the recipient is suppressed; deferred: quiet hours hold it until; counted: the caps it would count against' });

export const dryRunResponse = z.union([
  z.object({ valid: z.literal(false), issues: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })) }),
  z.object({
    valid: z.literal(true),
    eventMatches: z.boolean(),
    enabled: z.boolean(),
    evaluateAt: isoDate,
    schedule: dryRunSchedule.optional(),
    matched: z.boolean(),
    conditions: z.array(conditionTrace),
    commands: z.array(z.object({ index: z.number().int(), type: z.string(), command: command.optional(), error: errorSummary.optional(), contactPolicy: dryRunContact.optional() })),
    /**
     * A run would be skipped with nothing wrong in the rule: the entity is gone (`current` has it null),
     * the recipient is missing, or the schedule skips it at intake (its reason, as in `schedule.reason`).
     */
    skipped: z.enum(['entity-missing', 'recipient-missing', ...SCHEDULE_SKIP_REASONS]).optional(),
    /** The facts whose value came from the `current` sample instead of the event. */
    currentFacts: z.array(z.string()).optional(),
    error: errorSummary.optional(),
  }),
]);

export const validateResponse = z.union([
  z.object({ valid: z.literal(true), rule: z.record(z.string(), z.unknown()), warnings: z.array(issue).optional(), dryRun: dryRunResponse.optional() }),
  z.object({ valid: z.literal(false), issues: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })) }),
]);

export const ruleStatsResponse = z.object({
  ruleId: z.string(),
  since: isoDate,
  lastFiredAt: isoDate.nullable(),
  counts: z.record(z.enum(TRIGGER_STATUSES as [string, ...string[]]), z.number().int()),
  /** True when more runs happened in the window than were counted. */
  truncated: z.boolean(),
});

export const eventAccepted = z.object({
  id: z.string(),
  triggers: z.array(z.object({ id: z.string(), ruleId: z.string(), evaluateAt: isoDate, status: z.string(), entityKey: z.string().optional() })),
});

export const eventTypesResponse = z.object({
  items: z.array(z.object({ name: z.string(), description: z.string().optional(), samplePayload: z.record(z.string(), z.unknown()).optional() })),
});

export const healthResponse = z.object({ status: z.literal('ok') });

// Contact policy and suppressions (issue 18). The engine validates policies and entries itself and
// answers every issue with its path (a policy body is described by the engine's own JSON Schema);
// these schemas describe what the routes answer.

const zoneSpec = z.string().meta({ description: 'An IANA time zone (`America/New_York`) or a JSONPath into the triggering event’s payload (`$.client.timeZone`)' });

const channelPolicy = z.object({
  quietHours: z
    .object({
      from: localClock.meta({ description: 'Local time HH:mm the quiet window opens' }),
      to: localClock.meta({ description: 'Local time HH:mm it closes (exclusive); before `from` spans midnight' }),
      timeZone: zoneSpec.optional(),
      fallbackTimeZone: z.string().meta({ description: 'IANA zone when `timeZone` is a path that finds no zone' }).optional(),
    })
    .optional(),
  caps: z.array(z.object({ max: z.number().int().min(1), per: z.enum(everyOf<CapPeriod>()(['hour', 'day', 'week'])) })).optional(),
  overCap: z.enum(['skip', 'defer']).meta({ description: 'A marketing send over a cap: skipped (default) or deferred to the end of the full bucket' }).optional(),
  timeZone: zoneSpec.optional(),
  fallbackTimeZone: z.string().optional(),
});

export const contactPolicyResponse = z.object({
  accountId: z.string(),
  channels: z.record(z.string(), channelPolicy),
  version: z.number().int().min(0).meta({ description: '0: the account has no policy yet (nothing is deferred or capped)' }),
  updatedAt: isoDate.optional(),
});

const suppressionReason = z.enum(everyOf<SuppressionReason>()(['stop', 'unsubscribe', 'bounce', 'spam-report', 'provider-opt-out', 'manual']));
const suppressionSource = z.enum(everyOf<SuppressionSource>()(['inbound-sms', 'provider-error', 'email-event', 'api', 'cli', 'ui', 'engine']));
/** An action type: what suppressions are kept by. */
const channel = z.string().min(1).max(50);

export const suppressionParams = z.strictObject({
  channel,
  /** An E.164 number for sms, an email address for email (matched lower-cased). */
  recipient: z.string().min(1).max(320),
});

export const listSuppressionsQuery = z.strictObject({ channel: channel.optional(), limit, cursor });

export const suppressionChangesQuery = z.strictObject({
  channel: channel.optional(),
  recipient: z.string().min(1).max(320).optional(),
  limit,
  cursor,
});

/**
 * The interface a person used to change the list by hand, as the client says it: a client may tell
 * the Management UI from other API callers, never pass itself off as a provider, the CLI or the engine.
 */
const manualChangeSource = z
  .enum(['api', 'ui'])
  .meta({ description: 'The interface the change was made in: `ui` from the Management UI; default `api`. `by` is always the caller of the credential' });

export const addSuppressionBody = z.strictObject({
  /** Default `manual`. */
  reason: suppressionReason.optional(),
  detail: z.string().max(1000).optional(),
  source: manualChangeSource.optional(),
});

export const removeSuppressionQuery = z.strictObject({
  /** Why it is lifted; default `manual`. */
  reason: suppressionReason.optional(),
  detail: z.string().max(1000).optional(),
  source: manualChangeSource.optional(),
});

export const suppressionResponse = z.object({
  accountId: z.string(),
  channel: z.string(),
  recipient: z.string(),
  reason: suppressionReason,
  source: suppressionSource,
  detail: z.string().optional(),
  by: z.string().optional(),
  createdAt: isoDate,
});

export const suppressionPage = z.object({ items: z.array(suppressionResponse), nextCursor: z.string().optional() });

export const suppressionLookupResponse = z.object({
  channel: z.string(),
  recipient: z.string().meta({ description: 'As the list keys it (E.164, lower-cased email)' }),
  suppressed: z.boolean(),
  suppression: suppressionResponse.optional(),
});

export const addSuppressionResponse = z.object({ created: z.boolean().meta({ description: 'false: the recipient was suppressed already (the entry is unchanged)' }), suppression: suppressionResponse });

export const removeSuppressionResponse = z.object({ removed: z.boolean().meta({ description: 'false: the recipient was not suppressed' }) });

export const suppressionChangeResponse = z.object({
  accountId: z.string(),
  channel: z.string(),
  recipient: z.string(),
  action: z.enum(['added', 'removed']),
  reason: suppressionReason,
  source: suppressionSource,
  by: z.string().optional(),
  detail: z.string().optional(),
  at: isoDate,
});

export const suppressionChangePage = z.object({ items: z.array(suppressionChangeResponse), nextCursor: z.string().optional() });
