import { DELIVERY_STATES, TRIGGER_STATUSES, type Delivery, type DeliveryState, type ReceiptResult, type Rule, type Trigger, type TriggerStatus } from '@crm-automation/core';
import { z } from 'zod';
import { deliveryReferenceFields } from './delivery-fields.js';
import type { RuleRunStats } from './trigger-administration.js';

/**
 * Triggers, rules and stats as they travel between a rules service and a trigger service in JSON:
 * dates as ISO strings, revived here. Only the shape is checked (the sender is a service of the same
 * deployment); unknown fields of a newer sender are kept.
 */
const date = z.coerce.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a date');
const status = z.enum(TRIGGER_STATUSES as [TriggerStatus, ...TriggerStatus[]]);

const historyEntry = z.looseObject({
  at: date,
  attempt: z.number().int(),
  outcome: z.string(),
  nextAttemptAt: date.optional(),
  // `rescheduled` entries (and the superseded run's): the due time before and after.
  from: date.optional(),
  to: date.optional(),
});

const triggerJson = z.looseObject({
  id: z.string().min(1),
  accountId: z.string().min(1),
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  status,
  evaluateAt: date,
  attempt: z.number().int(),
  triggeringEvent: z.looseObject({ id: z.string(), name: z.string(), timestamp: date, payload: z.record(z.string(), z.unknown()) }),
  executionHistory: z.array(historyEntry),
  sentActions: z.array(z.number().int()),
  createdAt: date,
  updatedAt: date,
  leaseExpiresAt: date.optional(),
  firstEventAt: date.optional(),
  cancelRequested: z.looseObject({ event: z.looseObject({ id: z.string(), name: z.string() }), at: date }).optional(),
});

const ruleJson = z.looseObject({
  id: z.string().min(1),
  accountId: z.string().min(1),
  name: z.string(),
  enabled: z.boolean(),
  trigger: z.looseObject({ eventName: z.string() }),
  delay: z.looseObject({ value: z.number(), unit: z.string() }),
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.looseObject({ type: z.string(), params: z.record(z.string(), z.unknown()) })),
  version: z.number().int(),
  createdAt: date,
  updatedAt: date,
});

const statsJson = z.object({
  since: date,
  lastFiredAt: date.nullable(),
  counts: z.record(status, z.number().int()),
  truncated: z.boolean(),
});

const deliveryState = z.enum(DELIVERY_STATES as [DeliveryState, ...DeliveryState[]]);
const deliveryJson = z.looseObject({
  id: z.string().min(1),
  accountId: z.string().min(1),
  ...deliveryReferenceFields,
  state: deliveryState,
  dedupes: z.boolean(),
  events: z.array(z.looseObject({ at: date, state: deliveryState, source: z.string() })),
  createdAt: date,
  updatedAt: date,
});

const receiptResultJson = z.union([
  z.looseObject({ applied: z.literal(true), delivery: deliveryJson }),
  z.looseObject({ applied: z.literal(false), reason: z.literal('stale'), delivery: deliveryJson }),
  z.looseObject({ applied: z.literal(false), reason: z.literal('unknown-id') }),
]);

/** A JSON answer or request that does not have the expected shape. */
export class WireShapeError extends Error {
  constructor(what: string, error: z.ZodError) {
    super(`malformed ${what}: ${error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'WireShapeError';
  }
}

function read<T>(schema: z.ZodType, what: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new WireShapeError(what, parsed.error);
  return parsed.data as T;
}

// The schemas check what the engine reads; the rest of each document passes through as sent.
export const triggerFromJson = (value: unknown): Trigger => read<Trigger>(triggerJson, 'trigger', value);
export const ruleFromJson = (value: unknown): Rule => read<Rule>(ruleJson, 'rule', value);
export const ruleRunStatsFromJson = (value: unknown): RuleRunStats => read<RuleRunStats>(statsJson, 'rule stats', value);
export const deliveryFromJson = (value: unknown): Delivery => read<Delivery>(deliveryJson, 'delivery', value);
export const receiptResultFromJson = (value: unknown): ReceiptResult => read<ReceiptResult>(receiptResultJson, 'receipt result', value);
