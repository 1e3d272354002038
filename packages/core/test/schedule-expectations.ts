import { expect } from 'vitest';
import type { RuleSchedule, ScheduleNote, ScheduledTime } from '@crm-automation/core';

/**
 * The wall-clock time and offset `Intl` (the runtime's tz database, not Luxon's arithmetic nor the
 * code under test) shows for `utc` in `zone`, in the schedule's local format
 * (`2026-03-07T09:00:00.000-05:00`, `Z` for a zero offset). The tables' literals were worked out by
 * hand from the tz rules; this checks each UTC/local pair agrees with the tz database, so a typo in a
 * table fails as a typo rather than as a bug of the scheduler.
 */
export function intlLocal(zone: string, utc: string): string {
  const instant = new Date(utc);
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    timeZoneName: 'longOffset',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const parts = new Map(format.formatToParts(instant).map((part) => [part.type, part.value]));
  // `GMT` alone or `GMT+00:00` (runtimes differ) for a zero offset, which the schedule writes `Z`.
  const offset = (parts.get('timeZoneName') ?? '').replace(/^GMT/, '').replace(/^\+00:00$/, '');
  const ms = String(instant.getUTCMilliseconds()).padStart(3, '0');
  return `${parts.get('year')}-${parts.get('month')}-${parts.get('day')}T${parts.get('hour')}:${parts.get('minute')}:${parts.get('second')}.${ms}${offset === '' ? 'Z' : offset}`;
}

/** The English weekday `Intl` shows for `utc` in `zone` (`Mon`), to check a table's business-day claims. */
export function intlWeekday(zone: string, utc: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short' }).format(new Date(utc));
}

export type NoteCode = ScheduleNote['code'];

/** One scheduled case: the schedule (its anchor read at `$.startsAt`), the event, and what it must give. */
export interface DueCase {
  case: string;
  schedule: Omit<RuleSchedule, 'anchor'> & { anchor?: string };
  /** The payload's `startsAt` (the anchor text). */
  startsAt?: string;
  /** The event's timestamp (for `event.timestamp` anchors). */
  timestamp?: string;
  payload?: Record<string, unknown>;
  now: string;
  utc: string;
  local: string;
  notes?: NoteCode[];
}

export function scheduleOf(row: DueCase): RuleSchedule {
  return { anchor: '$.startsAt', ...row.schedule };
}

export function eventOf(row: Pick<DueCase, 'startsAt' | 'timestamp' | 'payload'>) {
  return {
    timestamp: new Date(row.timestamp ?? '2020-01-01T00:00:00Z'),
    payload: { ...(row.startsAt === undefined ? {} : { startsAt: row.startsAt }), ...row.payload },
  };
}

/** The result is scheduled at `utc`, shown as `local`, with exactly the note codes `notes`, in order. */
export function expectDue(result: ScheduledTime, expected: { utc: string; local: string; notes?: NoteCode[] | undefined }) {
  if (!result.ok) throw new Error(`expected a due time, got ${result.reason}: ${result.message}`);
  expect({ utc: result.evaluateAt.toISOString(), local: result.schedule.local, notes: result.schedule.notes.map((n) => n.code) }).toEqual({
    utc: expected.utc,
    local: expected.local,
    notes: expected.notes ?? [],
  });
}
