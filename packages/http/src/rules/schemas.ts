import { DELIVERY_STATES, TRIGGER_STATUSES } from '@crm-automation/core';
import { z } from 'zod';

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

export const listTriggersQuery = z.strictObject({
  status: statusList.optional(),
  ruleId: id.optional(),
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

export const ruleResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  enabled: z.boolean(),
  trigger: z.object({ eventName: z.string() }),
  delay: z.object({ value: z.number(), unit: z.enum(['seconds', 'minutes', 'hours', 'days']) }),
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.object({ type: z.string(), params: z.record(z.string(), z.unknown()) })),
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
  outcome: z.enum(['completed', 'skipped', 'failed', 'retrying', 'cancelled', 'retry-requested']),
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
});

export const triggerPage = z.object({ items: z.array(triggerResponse), nextCursor: z.string().optional() });

const deliveryState = z.enum(DELIVERY_STATES as [string, ...string[]]);

export const deliveryResponse = z.object({
  id: z.string(),
  accountId: z.string(),
  triggerId: z.string(),
  ruleId: z.string(),
  actionIndex: z.number().int(),
  attempt: z.number().int(),
  type: z.string(),
  /** The gateway's name; after a failover or through a Notification Service, the provider that took it. */
  provider: z.string(),
  idempotencyKey: z.string(),
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
  triggers: z.array(z.object({ id: z.string(), ruleId: z.string(), evaluateAt: isoDate, status: z.string() })),
});

export const eventTypesResponse = z.object({
  items: z.array(z.object({ name: z.string(), description: z.string().optional(), samplePayload: z.record(z.string(), z.unknown()).optional() })),
});

export const healthResponse = z.object({ status: z.literal('ok') });
