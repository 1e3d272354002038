// A rule's schedule in plain words, for the rule form and the rules list. Pure: no DOM, no clock.

/** The units a schedule offset may be expressed in (core's `ScheduleUnit`). */
export type ScheduleUnit = 'seconds' | 'minutes' | 'hours' | 'days' | 'weeks' | 'months';
export const SCHEDULE_UNITS: readonly ScheduleUnit[] = ['minutes', 'hours', 'days', 'weeks', 'months', 'seconds'];
export const isScheduleUnit = (value: unknown): value is ScheduleUnit => typeof value === 'string' && (SCHEDULE_UNITS as readonly string[]).includes(value);

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
/** Monday first, as the engine's window days and most business calendars list them. */
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
export const isWeekday = (value: unknown): value is Weekday => typeof value === 'string' && (WEEKDAYS as readonly string[]).includes(value);
export const WEEKDAY_NAMES: Record<Weekday, string> = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };

/** The anchor that means "the event's own timestamp" (core's `EVENT_TIMESTAMP_ANCHOR`). */
export const EVENT_TIMESTAMP_ANCHOR = 'event.timestamp';

/** A rule's `schedule` as the document holds it (core's `RuleSchedule`). */
export interface ScheduleDoc {
  anchor: string;
  offset?: { value: number; unit: ScheduleUnit } | undefined;
  at?: string | undefined;
  timeZone?: string | undefined;
  fallbackTimeZone?: string | undefined;
  window?: { days?: readonly Weekday[] | undefined; from: string; to: string } | undefined;
  ifPast?: 'skip' | 'now' | undefined;
}

/** Whether a time zone value names a path in the payload (`$.client.timeZone`) rather than a zone. */
export const isZonePath = (timeZone: string): boolean => timeZone.startsWith('$');

/** The names of a JSONPath's segments, in order: `$.appointment['starts at']` → appointment, starts at. */
function pathNames(path: string): string[] {
  const names: string[] = [];
  for (const match of path.matchAll(/\.([A-Za-z_$][\w$-]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]/g)) {
    const name = match[1] ?? match[2] ?? match[3];
    if (name !== undefined && name !== '') names.push(name);
  }
  return names;
}

/** `startsAt`, `starts_at`, `starts-at` → "starts at". */
function words(name: string): string {
  return name
    .replace(/([a-z\d])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
}

const capitalize = (text: string) => (text === '' ? text : `${text.charAt(0).toUpperCase()}${text.slice(1)}`);

/**
 * The date a schedule counts from, as a person names it: the last two names of its path humanised
 * (`$.appointment.startsAt` → "Appointment starts at", `$.job.closedAt` → "Job closed at"), "the
 * event's time" for `event.timestamp`, and the path itself when it has no names to read.
 */
export function anchorLabel(anchor: string): string {
  if (anchor.trim() === EVENT_TIMESTAMP_ANCHOR) return "the event's time";
  const names = pathNames(anchor).slice(-2).map(words).filter((w) => w !== '');
  return names.length === 0 ? anchor : capitalize(names.join(' '));
}

/** Whose time zone a payload path holds: `$.client.timeZone` → "the client's", `$.timeZone` → "the event's". */
export function zoneOwner(path: string): string {
  const names = pathNames(path);
  const owner = names.length >= 2 ? names[names.length - 2] : undefined;
  return owner === undefined ? "the event's" : `the ${words(owner)}'s`;
}

function quantity(value: number, unit: ScheduleUnit): string {
  const amount = Math.abs(value);
  return `${amount} ${amount === 1 ? unit.replace(/s$/, '') : unit}`;
}

/** "weekdays", "weekends", "every day", or the days by name ("Mon, Wed, Fri"). */
export function describeDays(days: readonly Weekday[] | undefined): string {
  if (days === undefined) return 'every day';
  const set = new Set(days);
  if (set.size === 0) return 'no day';
  if (WEEKDAYS.every((d) => set.has(d))) return 'every day';
  const only = (list: readonly Weekday[]) => set.size === list.length && list.every((d) => set.has(d));
  if (only(['mon', 'tue', 'wed', 'thu', 'fri'])) return 'weekdays';
  if (only(['sat', 'sun'])) return 'weekends';
  return WEEKDAYS.filter((d) => set.has(d))
    .map((d) => WEEKDAY_NAMES[d].slice(0, 3))
    .join(', ');
}

/** The time zone part: "in UTC", "in America/Chicago", "in the client's time zone ($.client.timeZone, else America/Chicago)". */
export function describeZone(timeZone: string | undefined, fallbackTimeZone: string | undefined): string {
  if (timeZone === undefined || timeZone === '') return 'in UTC';
  if (!isZonePath(timeZone)) return `in ${timeZone}`;
  return `in ${zoneOwner(timeZone)} time zone (${timeZone}, else ${fallbackTimeZone ?? 'UTC'})`;
}

/**
 * A schedule in one line, the way the form and the rules list show it: "1 day before Appointment
 * starts at, at 09:00, in the client's time zone ($.client.timeZone, else America/Chicago), weekdays
 * 08:00–18:00, skipped if already past". Every part the schedule sets is named, defaults included
 * (UTC, skipped if past), so two schedules that behave differently never read the same.
 */
export function describeSchedule(schedule: ScheduleDoc): string {
  const anchor = anchorLabel(schedule.anchor);
  const offset = schedule.offset;
  const parts: string[] = [];
  if (offset !== undefined && offset.value !== 0) parts.push(`${quantity(offset.value, offset.unit)} ${offset.value < 0 ? 'before' : 'after'} ${anchor}`);
  else parts.push(schedule.at === undefined ? `At ${anchor}` : `On the day of ${anchor}`);
  if (schedule.at !== undefined) parts.push(`at ${schedule.at}`);
  parts.push(describeZone(schedule.timeZone, schedule.fallbackTimeZone));
  const window = schedule.window;
  if (window !== undefined) {
    // `to` before `from` is an opening that ends the next day (22:00–06:00).
    const overnight = window.to < window.from ? ' (past midnight)' : '';
    parts.push(`${describeDays(window.days)} ${window.from}–${window.to}${overnight}`);
  }
  parts.push(schedule.ifPast === 'now' ? 'run at once if already past' : 'skipped if already past');
  return parts.join(', ');
}
