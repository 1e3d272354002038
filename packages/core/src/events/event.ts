import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventValidationError, formatPath } from '../errors.js';
import { checkJsonShape, MAX_JSON_DEPTH } from '../input/json-shape.js';
import { toValidationIssues } from '../rules/issues.js';
import { MAX_SCHEDULE_HORIZON_MS, SCHEDULE_RANGE_MS } from '../scheduling/schedule.js';
import { MAX_DATE_MS, readTimestamp } from './event-timestamp.js';

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
  // Read by readTimestamp, after the schema: every problem with it is one `invalid_timestamp` issue.
  timestamp: z.unknown().optional(),
  id: z.string().min(1).max(200).optional(),
});

/** Largest accepted event, as JSON. Larger events are refused rather than stored. */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * Most values walked in one event. Every value takes at least two bytes of JSON (`0,`), so an event
 * within {@link MAX_EVENT_BYTES} holds at most half as many; twice that leaves room for values JSON
 * drops (`undefined`) while a graph of shared references (a DAG) is refused after half the walk the
 * general bound would take.
 */
const MAX_EVENT_NODES = MAX_EVENT_BYTES;

/**
 * Which event timestamps intake accepts, relative to the engine's clock. Delays count from the event's
 * timestamp, so a timestamp far off would schedule work at a nonsensical time (or, past JavaScript's
 * date range, at no time at all).
 */
export interface EventTimeWindow {
  /** How far ahead of the engine's clock a timestamp may be (clock skew). Default 1 day. */
  maxFutureMs: number;
  /**
   * How old an event may be. Default 7 days: the default retention of finished triggers, which is
   * also how long a redelivered event is recognised as one. Keep it at or below your store's retention.
   */
  maxAgeMs: number;
}

export const DEFAULT_EVENT_TIME_WINDOW: EventTimeWindow = { maxFutureMs: 86_400_000, maxAgeMs: 7 * 86_400_000 };

/**
 * How far from an event's timestamp a due time can be computed: a rule's delay (at most 365 days) or
 * a schedule anchored at `event.timestamp` (at most the 400-day horizon), inside the range schedules
 * compute in (ten days short of the date range's ends), with a day to spare.
 */
const DUE_TIME_REACH_MS = MAX_SCHEDULE_HORIZON_MS + (MAX_DATE_MS - SCHEDULE_RANGE_MS) + 86_400_000;

/**
 * Refusal of a timestamp outside `window` around `now`, or null when it is inside. Whatever the
 * window (an operator may widen it), a timestamp so near the end of JavaScript's date range that a
 * delay or schedule from it would leave the range is refused: every accepted event has valid due times.
 */
export function checkEventTime(timestamp: Date, now: Date, window: EventTimeWindow = DEFAULT_EVENT_TIME_WINDOW): string | null {
  const t = timestamp.getTime();
  if (Number.isNaN(t)) return 'timestamp must be a valid date';
  if (t > now.getTime() + window.maxFutureMs) {
    return `timestamp ${timestamp.toISOString()} is more than ${formatDuration(window.maxFutureMs)} ahead of the engine's clock (${now.toISOString()})`;
  }
  if (t < now.getTime() - window.maxAgeMs) {
    return `timestamp ${timestamp.toISOString()} is more than ${formatDuration(window.maxAgeMs)} old; events older than that are refused`;
  }
  if (Math.abs(t) > MAX_DATE_MS - DUE_TIME_REACH_MS) {
    return `timestamp ${timestamp.toISOString()} is too near the end of the date range for a due time to be computed from it`;
  }
  return null;
}

function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  return `${ms} ms`;
}

/**
 * Validates an event and fills in `id` and `timestamp`. Throws {@link EventValidationError}
 * (not retryable) for anything malformed, too large, too deep, or timestamped outside `window`.
 */
export function normalizeEvent(input: unknown, now: Date, window: EventTimeWindow = DEFAULT_EVENT_TIME_WINDOW): NormalizedEvent {
  // Shape first: everything after it (zod, JSON.stringify, structuredClone in stores) recurses.
  const shape = checkJsonShape(input, MAX_JSON_DEPTH, MAX_EVENT_NODES);
  if (shape) {
    // A timestamp of the wrong kind (a bigint, a Luxon DateTime) is a bad timestamp like any other.
    if (shape.path[0] === 'timestamp') {
      throw new EventValidationError([{ path: 'timestamp', code: 'invalid_timestamp', message: `timestamp must be a Date, epoch milliseconds or an ISO 8601 date-time; ${formatPath(shape.path)} ${shape.message}` }]);
    }
    throw new EventValidationError([{ path: formatPath(shape.path), code: shape.code, message: `event ${shape.message}` }]);
  }
  const parsed = eventSchema.safeParse(input);
  const given = (input as { timestamp?: unknown } | null)?.timestamp;
  const reading = given === undefined ? null : readTimestamp(given);
  const timestampIssue = reading && !reading.ok ? [{ path: 'timestamp', code: 'invalid_timestamp', message: reading.message }] : [];
  if (!parsed.success || timestampIssue.length > 0) {
    const issues = parsed.success ? [] : toValidationIssues(parsed.error.issues).filter((i) => i.path !== 'timestamp');
    throw new EventValidationError([...issues, ...timestampIssue]);
  }
  const event = parsed.data;
  const timestamp = reading?.ok ? reading.date : now;
  const refused = checkEventTime(timestamp, now, window);
  if (refused) throw new EventValidationError([{ path: 'timestamp', code: 'timestamp_out_of_range', message: refused }]);
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
    timestamp,
  };
}
