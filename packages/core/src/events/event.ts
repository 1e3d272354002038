import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventValidationError } from '../errors.js';
import { toValidationIssues } from '../rules/issues.js';

/** An event from the CRM, e.g. `{ name: 'job.status.changed', accountId: 'acc_1', payload: { job } }`. */
export interface AutomationEvent {
  name: string;
  accountId: string;
  payload: Record<string, unknown>;
  /** When it happened; defaults to the time of intake. Delays count from here. */
  timestamp?: Date | string | number | undefined;
  /** Unique per account; a redelivered event with the same id creates no new triggers. */
  id?: string | undefined;
}

/** An event after validation: id and timestamp always present. */
export interface NormalizedEvent {
  id: string;
  name: string;
  accountId: string;
  payload: Record<string, unknown>;
  timestamp: Date;
}

export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:\-/]*$/;

const plainObject = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { message: 'payload must be a JSON object' },
);

const eventSchema = z.object({
  name: z.string().min(1).max(200).regex(EVENT_NAME_PATTERN, 'event name may use letters, digits and _ . : - /'),
  accountId: z.string().min(1).max(200),
  payload: plainObject,
  timestamp: z
    .union([z.date(), z.string(), z.number()])
    .optional()
    .refine((v) => v === undefined || !Number.isNaN(new Date(v).getTime()), 'timestamp must be a valid date'),
  id: z.string().min(1).max(200).optional(),
});

/** Largest accepted event, as JSON. Larger events are refused rather than stored. */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * Validates an event and fills in `id` and `timestamp`. Throws {@link EventValidationError}
 * (not retryable) for anything malformed.
 */
export function normalizeEvent(input: unknown, now: Date): NormalizedEvent {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) throw new EventValidationError(toValidationIssues(parsed.error.issues));
  const event = parsed.data;
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(event.payload));
  } catch {
    throw new EventValidationError([{ path: 'payload', code: 'not_json', message: 'payload must be JSON-serializable' }]);
  }
  if (size > MAX_EVENT_BYTES) {
    throw new EventValidationError([
      { path: 'payload', code: 'too_large', message: `payload is ${size} bytes; the limit is ${MAX_EVENT_BYTES}` },
    ]);
  }
  return {
    id: event.id ?? randomUUID(),
    name: event.name,
    accountId: event.accountId,
    payload: event.payload,
    timestamp: event.timestamp === undefined ? now : new Date(event.timestamp),
  };
}
