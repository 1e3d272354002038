import { DELIVERY_STATES, MAX_ENTITY_KEY_LENGTH, TRIGGER_STATUSES } from '@crm-automation/core';
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

const eventTimestamp = z.union([isoDate, z.number()]);

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

export const ruleResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  enabled: z.boolean(),
  /** `key`: the JSONPath naming the entity the rule's runs are about (`$.job.id`). */
  trigger: z.object({ eventName: z.string(), key: z.string().optional() }),
  delay: ruleDelay,
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.object({ type: z.string(), params: z.record(z.string(), z.unknown()) })),
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
  outcome: z.enum(['completed', 'skipped', 'failed', 'retrying', 'cancelled', 'retry-requested', 'superseded']),
  reason: z.string().optional(),
  ruleVersion: z.number().int().optional(),
  conditions: z.array(conditionTrace).optional(),
  actions: z
    .array(
      z.object({
        index: z.number().int(),
        type: z.string(),
        status: z.enum(['sent', 'already-sent', 'failed', 'not-attempted', 'unknown']),
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

export const dryRunResponse = z.union([
  z.object({ valid: z.literal(false), issues: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })) }),
  z.object({
    valid: z.literal(true),
    eventMatches: z.boolean(),
    enabled: z.boolean(),
    evaluateAt: isoDate,
    matched: z.boolean(),
    conditions: z.array(conditionTrace),
    commands: z.array(z.object({ index: z.number().int(), type: z.string(), command: command.optional(), error: errorSummary.optional() })),
    /** A run would be skipped with nothing wrong in the rule: the entity is gone (`current` has it null), or the recipient is missing. */
    skipped: z.enum(['entity-missing', 'recipient-missing']).optional(),
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
