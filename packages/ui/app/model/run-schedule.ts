// A scheduled rule's run in words: its due time in the recipient's zone and in the viewer's, the
// notes on how it was computed, and the history entries that moved or skipped it. Pure: the viewer's
// zone and the locale are parameters (the screens pass the browser's).
import type { DryRunSchedule, HistoryEntry, ScheduleNote, TriggerSchedule } from '../api/types.js';

/** Why intake skipped a scheduled run (core's `ScheduleSkipReason`). */
export const SCHEDULE_SKIP_REASONS = ['anchor-missing', 'zone-unknown', 'past', 'beyond-horizon'] as const;
export type ScheduleSkipReason = (typeof SCHEDULE_SKIP_REASONS)[number];
export const isScheduleSkipReason = (reason: string | undefined): reason is ScheduleSkipReason => (SCHEDULE_SKIP_REASONS as readonly string[]).includes(reason ?? '');

export const SKIP_REASON_TEXT: Record<ScheduleSkipReason, string> = {
  'anchor-missing': 'The date the schedule counts from is missing from the event, or is not a date',
  'zone-unknown': "The event's time zone is not a known IANA zone, and the rule has no fallback zone",
  past: 'The scheduled time was already past when the event arrived',
  'beyond-horizon': 'The scheduled time is further away than the schedule horizon (400 days)',
};

/** What the event that cancelled a keyed run had, when its own schedule skipped (it then cancels the older runs). */
const CANCELLED_BECAUSE: Record<ScheduleSkipReason, string> = {
  'anchor-missing': 'its date to schedule from is gone',
  'zone-unknown': 'its time zone is unknown',
  past: 'its date is already past',
  'beyond-horizon': 'its date is beyond the schedule horizon',
};

export const NOTE_LABELS: Record<ScheduleNote['code'], string> = {
  'dst-gap': 'Daylight-saving gap',
  'dst-overlap': 'Daylight-saving repeat',
  window: 'Moved into the window',
  'past-now': 'Already past: run at once',
  'month-end': 'Month end',
};

export const ZONE_SOURCE_TEXT: Record<TriggerSchedule['zoneSource'], string> = {
  rule: "the rule's zone",
  payload: "the event's zone",
  fallback: "the rule's fallback zone (the event had none)",
  default: 'UTC, the default (the rule names no zone)',
};

/** An engine message as a sentence of its own: "the due time … had passed" → "The due time … had passed." */
function sentence(message: string | undefined): string {
  const text = (message ?? '').trim();
  if (text === '') return '';
  return ` ${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/** The viewer's own IANA zone, as the browser says. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * An instant as a wall-clock time in a zone, with the zone's short name: "Mar 7, 2026, 9:00 AM CST".
 * A zone this browser does not know (a newer tz database on the server) gives the ISO text instead.
 */
export function formatInZone(iso: string, timeZone: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(date) + ` ${zoneName(date, timeZone, locale)}`;
  } catch {
    return iso;
  }
}

function zoneName(date: Date, timeZone: string, locale: string | undefined): string {
  const part = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/** A due time twice: where the recipient is, and where the person looking is. */
export interface DueTimes {
  recipient: { text: string; timeZone: string; iso: string };
  viewer: { text: string; timeZone: string };
  /** The two zones give the same wall-clock time (the viewer is where the recipient is). */
  same: boolean;
}

/** A run's due time in the recipient's zone (`schedule.local` in `schedule.timeZone`) and in the viewer's. */
export function dueTimes(schedule: Pick<TriggerSchedule, 'local' | 'timeZone'>, evaluateAt: string, viewer: string, locale?: string): DueTimes {
  const recipient = formatInZone(schedule.local, schedule.timeZone, locale);
  const mine = formatInZone(evaluateAt, viewer, locale);
  return { recipient: { text: recipient, timeZone: schedule.timeZone, iso: schedule.local }, viewer: { text: mine, timeZone: viewer }, same: recipient === mine };
}

/**
 * A history entry that moved a run, in words: the run that took over ("Moved from … to … by the
 * event …") and the one it replaced ("Rescheduled: the run … is due … instead"). Null for others.
 */
export function rescheduleText(entry: HistoryEntry, format: (iso: string) => string): string | null {
  if (entry.reason !== 'rescheduled' && entry.outcome !== 'rescheduled') return null;
  const from = entry.from === undefined ? 'its earlier time' : format(entry.from);
  const to = entry.to === undefined ? 'a new time' : format(entry.to);
  const eventId = entry.eventId ?? entry.event?.id;
  const by = eventId === undefined ? 'a newer event' : `the event ${entry.event?.name === undefined ? '' : `${entry.event.name} `}(${eventId})`;
  if (entry.outcome === 'rescheduled') return `Moved from ${from} to ${to} by ${by}${entry.triggerId ? `, replacing the run ${entry.triggerId}` : ''}.`;
  return `Rescheduled by ${by}: ${entry.triggerId ? `the run ${entry.triggerId}` : 'a new run'} is due ${to} instead of ${from}.`;
}

/** Why a scheduled run was skipped or cancelled for a schedule reason, in words; null for other entries. */
export function scheduleSkipText(entry: HistoryEntry): string | null {
  if (!isScheduleSkipReason(entry.reason)) return null;
  if (entry.outcome === 'cancelled') {
    const event = entry.event ? `${entry.event.name} (${entry.event.id})` : 'a newer event for the same entity';
    return `Cancelled by the event ${event}: ${CANCELLED_BECAUSE[entry.reason]}.`;
  }
  return `Skipped: ${SKIP_REASON_TEXT[entry.reason].charAt(0).toLowerCase()}${SKIP_REASON_TEXT[entry.reason].slice(1)}.${sentence(entry.error?.message)}`;
}

/** A dry run's schedule in one line: "Due Mar 7, 2026, 9:00 AM CST in America/Chicago (the event's zone)", or why it would be skipped. */
export function dryRunScheduleText(schedule: DryRunSchedule, locale?: string): string {
  if (schedule.outcome === 'skipped') {
    const why = schedule.reason ? SKIP_REASON_TEXT[schedule.reason] : 'The schedule skips this event';
    return `Would be skipped: ${why.charAt(0).toLowerCase()}${why.slice(1)}.${sentence(schedule.message)}`;
  }
  const when = schedule.utc !== undefined && schedule.timeZone !== undefined ? formatInZone(schedule.utc, schedule.timeZone, locale) : (schedule.local ?? 'at a time not given');
  const zone = schedule.timeZone === undefined ? '' : ` in ${schedule.timeZone}${schedule.zoneSource ? ` (${ZONE_SOURCE_TEXT[schedule.zoneSource]})` : ''}`;
  return `Due ${when}${zone}.`;
}
