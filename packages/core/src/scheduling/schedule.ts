// One file: every schedule kind (delay, anchor with offset, local time, window) turns into a due time
// through one luxon path and one range check; split, two kinds could disagree on the same instant.
import { DateTime } from 'luxon';
import { AutomationError } from '../errors.js';
import { resolvePath } from '../rules/json-path.js';
import type { RuleSchedule, ScheduleUnit, ScheduleWindow, Weekday } from '../rules/rule.js';
import { TimeZone } from './time-zones.js';
import { clockMinutes, compileWindow, dayStart, describeLocal, intoWindow, type CompiledWindow } from './schedule-window.js';

export { clockMinutes } from './schedule-window.js';
import type { ScheduleNote, TriggerSchedule } from './trigger.js';

/** The anchor naming the event's own timestamp rather than a date in its payload. */
export const EVENT_TIMESTAMP_ANCHOR = 'event.timestamp';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * The furthest ahead of intake a scheduled run may be due. A due time beyond it is refused (the run
 * is recorded `skipped`, reason `beyond-horizon`), never stored as pending: a date typo in a CRM
 * (year 2206) must not park a trigger for centuries.
 */
export const MAX_SCHEDULE_HORIZON_MS = 400 * DAY_MS;

/**
 * The instants a due time is computed within: JavaScript's date range (±8.64e15 ms) less ten days,
 * room for a zone's offset and a window's move to its next opening, so that no step (nor the text of
 * a note) meets a date that does not exist. Intake keeps event timestamps far inside it.
 */
export const SCHEDULE_RANGE_MS = 8.64e15 - 10 * DAY_MS;
const inRange = (ms: number) => Math.abs(ms) <= SCHEDULE_RANGE_MS;

function requireInstant(value: unknown, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!inRange(ms)) {
    throw new AutomationError('CRM_ERR_CONFIG', `computeDueTime: ${field} must be a valid Date within ±${SCHEDULE_RANGE_MS} ms, got ${value instanceof Date ? (Number.isNaN(ms) ? 'an invalid Date' : String(ms)) : typeof value}`);
  }
  return ms;
}

/** Why a scheduled rule's event gives its run no due time (the skipped trigger's history `reason`). */
export type ScheduleSkipReason = 'anchor-missing' | 'zone-unknown' | 'past' | 'beyond-horizon';

export type ScheduledTime =
  | { ok: true; evaluateAt: Date; schedule: TriggerSchedule }
  | { ok: false; reason: ScheduleSkipReason; message: string; schedule: Partial<TriggerSchedule>; evaluateAt?: Date | undefined };

export interface ScheduleEvent {
  timestamp: Date;
  payload: Record<string, unknown>;
}

const ELAPSED_MS: Partial<Record<ScheduleUnit, number>> = { seconds: 1_000, minutes: MINUTE_MS, hours: 3_600_000 };
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Calendar dates and date-times (`T` or a space), with an optional offset; no week or ordinal dates. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|([+-])(\d{2})(?::?(\d{2}))?)?)?$/i;
/** Longest anchor text read; an ISO date is under 40 characters. */
const MAX_ANCHOR_LENGTH = 64;

/** How far an offset reaches, in days, for the horizon check at save time (a month counts as 31). */
export function offsetReachDays(offset: { value: number; unit: ScheduleUnit }): number {
  const perUnit: Record<ScheduleUnit, number> = { seconds: 1 / 86_400, minutes: 1 / 1_440, hours: 1 / 24, days: 1, weeks: 7, months: 31 };
  return Math.abs(offset.value) * perUnit[offset.unit];
}


interface CompiledSchedule {
  atMs: number | undefined;
  window: CompiledWindow | undefined;
}

const compiledSchedules = new WeakMap<RuleSchedule, CompiledSchedule>();

function compile(schedule: RuleSchedule): CompiledSchedule {
  let compiled = compiledSchedules.get(schedule);
  if (compiled) return compiled;
  const at = schedule.at === undefined ? undefined : clockMinutes(schedule.at);
  compiled = { atMs: at === undefined ? undefined : at * MINUTE_MS, window: schedule.window ? compileWindow(schedule.window) : undefined };
  compiledSchedules.set(schedule, compiled);
  return compiled;
}

type Anchor = { kind: 'instant'; ms: number; text: string } | { kind: 'local'; ms: number; text: string };

function readAnchor(schedule: RuleSchedule, event: ScheduleEvent): Anchor | { problem: string } {
  if (schedule.anchor === EVENT_TIMESTAMP_ANCHOR) {
    const ms = event.timestamp.getTime();
    return { kind: 'instant', ms, text: event.timestamp.toISOString() };
  }
  let value: unknown;
  try {
    value = resolvePath(event.payload, schedule.anchor);
  } catch {
    return { problem: `the anchor path ${schedule.anchor} could not be read in the payload` };
  }
  if (value === undefined || value === null || value === '') return { problem: `the payload has no value at ${schedule.anchor}` };
  if (typeof value !== 'string') return { problem: `the value at ${schedule.anchor} is not an ISO 8601 date (a ${typeof value})` };
  const text = value.trim();
  const match = text.length <= MAX_ANCHOR_LENGTH ? ISO_DATE.exec(text) : null;
  if (!match) return { problem: `the value at ${schedule.anchor} is not an ISO 8601 date: ${JSON.stringify(value.slice(0, MAX_ANCHOR_LENGTH))}` };
  const parsed = parseIsoDate(match);
  if (typeof parsed === 'string') return { problem: `the value at ${schedule.anchor} is not a valid date: ${JSON.stringify(text)} (${parsed})` };
  return { kind: parsed.kind, ms: parsed.ms, text };
}

/**
 * The fields of an {@link ISO_DATE} match as milliseconds: with an offset (or `Z`) the text names an
 * instant; without one, a wall-clock time in the schedule's zone (ms of a UTC clock showing it). Read
 * by hand rather than by Luxon's general ISO parser, which cost 14 µs of intake per scheduled rule
 * (bench/README.md): the pattern has already fixed the shape, and what is left is range checks; a
 * date the calendar does not have (`2027-02-29`) is refused, where `Date.parse` would roll it over.
 */
function parseIsoDate(match: RegExpExecArray): { kind: 'instant' | 'local'; ms: number } | string {
  const [, y, mo, d, h, mi, sec, frac, offset, sign, offH, offM] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(sec ?? 0);
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12) return `there is no month ${month}`;
  if (hour > 23 || minute > 59 || second > 59) return 'the time of day is out of range';
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return `${y}-${mo} has no day ${day}`;
  date.setUTCHours(hour, minute, second, millis);
  const local = date.getTime();
  if (offset === undefined) return { kind: 'local', ms: local };
  if (offset.toUpperCase() === 'Z') return { kind: 'instant', ms: local };
  const offsetHours = Number(offH);
  const offsetMinutes = Number(offM ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return `the offset ${offset} is out of range`;
  const minutes = (offsetHours * 60 + offsetMinutes) * (sign === '-' ? -1 : 1);
  return { kind: 'instant', ms: local - minutes * 60_000 };
}

function resolveZone(schedule: RuleSchedule, payload: Record<string, unknown>): { zone: TimeZone; source: TriggerSchedule['zoneSource'] } | { problem: string; name?: string } {
  const spec = schedule.timeZone;
  if (spec === undefined) return { zone: TimeZone.of('UTC') as TimeZone, source: 'default' };
  if (!spec.startsWith('$')) {
    const zone = TimeZone.of(spec);
    return zone ? { zone, source: 'rule' } : { problem: `the rule's time zone ${spec} is not an IANA zone`, name: spec };
  }
  let value: unknown;
  try {
    value = resolvePath(payload, spec);
  } catch {
    value = undefined;
  }
  if (value === undefined || value === null || value === '') {
    const fallback = schedule.fallbackTimeZone === undefined ? null : TimeZone.of(schedule.fallbackTimeZone);
    if (fallback) return { zone: fallback, source: 'fallback' };
    return { problem: `the payload has no time zone at ${spec} and the schedule has no fallbackTimeZone` };
  }
  if (typeof value !== 'string') return { problem: `the value at ${spec} is not a time zone name (a ${typeof value})` };
  const zone = TimeZone.of(value);
  return zone ? { zone, source: 'payload' } : { problem: `the payload's time zone ${JSON.stringify(value.slice(0, 80))} (at ${spec}) is not an IANA zone`, name: value.slice(0, 80) };
}

function addCalendar(localMs: number, value: number, unit: 'days' | 'weeks' | 'months', notes: ScheduleNote[]): number {
  if (unit !== 'months') return localMs + value * (unit === 'weeks' ? 7 : 1) * DAY_MS;
  const before = DateTime.fromMillis(localMs, { zone: 'utc' });
  const after = before.plus({ months: value });
  if (after.day !== before.day) {
    notes.push({ code: 'month-end', message: `${before.toISODate() ?? ''} + ${value} months has no day ${before.day}; the last day of the month, ${after.toISODate() ?? ''}, is used` });
  }
  return after.toMillis();
}

/**
 * The instant a local wall-clock time names in `zone` (never before `notBefore`, the instant a window
 * moved it from), with a note when a DST gap or repeat decided it. A function of the module, not a
 * closure per call: this runs per trigger at intake.
 */
function resolveLocal(zone: TimeZone, local: number, notBefore: number | undefined, notes: ScheduleNote[]): number {
  const found = zone.instantOf(local, notBefore);
  if (found.adjusted === 'dst-gap') {
    notes.push({ code: 'dst-gap', message: `${describeLocal(local)} does not exist in ${zone.name} (clocks spring forward); the next valid instant, ${zone.formatLocal(found.instantMs)}, is used` });
  } else if (found.occurrence === 'second') {
    notes.push({ code: 'dst-overlap', message: `${describeLocal(local)} occurs twice in ${zone.name} (clocks fall back); the second, ${zone.formatLocal(found.instantMs)}, is used, as the first is before ${zone.formatLocal(notBefore ?? found.instantMs)}, where it was moved from` });
  } else if (found.adjusted === 'dst-overlap') {
    notes.push({ code: 'dst-overlap', message: `${describeLocal(local)} occurs twice in ${zone.name} (clocks fall back); the first, ${zone.formatLocal(found.instantMs)}, is used` });
  }
  return found.instantMs;
}

/** The schedule a trigger stores: a literal object (a spread of a shared base is built key by key). */
function traceOf(zone: TimeZone, zoneSource: TriggerSchedule['zoneSource'], anchor: string, due: number, notes: ScheduleNote[]): TriggerSchedule {
  return { timeZone: zone.name, zoneSource, anchor, local: zone.formatLocal(due), notes };
}

/**
 * What the schedules of one event's rules have read from it (anchors by path, zones by spec), so
 * that rules sharing an anchor and a zone (a reminder the day before and another the hour before)
 * read and parse them once. Only for one event: {@link scheduleReads} makes a fresh one.
 */
export interface ScheduleReads {
  readonly anchors: Map<string, ReturnType<typeof readAnchor>>;
  readonly zones: Map<string, ReturnType<typeof resolveZone>>;
}

export function scheduleReads(): ScheduleReads {
  return { anchors: new Map(), zones: new Map() };
}

/**
 * What a past due time does when the schedule does not say: `skip` for a date in the payload (the
 * moment is gone: a reminder for yesterday's appointment is noise), `now` for the event's own
 * timestamp (an event ingested late must still run, as a delay rule's would, rather than be lost).
 */
export function ifPastOf(schedule: RuleSchedule): 'skip' | 'now' {
  return schedule.ifPast ?? (schedule.anchor === EVENT_TIMESTAMP_ANCHOR ? 'now' : 'skip');
}

/**
 * The due time of a scheduled rule's run for one event, at intake time `now`: anchor + offset
 * (elapsed time for seconds to hours, calendar units in the zone for days to months), at `at`, moved
 * into `window`, resolved to an instant (spring-forward gaps to the transition, fall-back repeats to
 * the first, or the second when a window moved the time there from after the first), then checked against `ifPast` and {@link MAX_SCHEDULE_HORIZON_MS}. Every adjustment is
 * a note of the returned schedule, for dry run, history and the UI.
 */
export function computeDueTime(schedule: RuleSchedule, event: ScheduleEvent, now: Date, reads?: ScheduleReads): ScheduledTime {
  // Exported for other tools: a bad argument is a typed refusal, not a RangeError from a note's text.
  requireInstant(event?.timestamp, 'event.timestamp');
  const nowMs = requireInstant(now, 'now');
  const zoneKey = `${schedule.timeZone ?? ''}\u0000${schedule.fallbackTimeZone ?? ''}`;
  let zoneFound = reads?.zones.get(zoneKey);
  if (!zoneFound) {
    zoneFound = resolveZone(schedule, event.payload);
    reads?.zones.set(zoneKey, zoneFound);
  }
  if ('problem' in zoneFound) {
    return { ok: false, reason: 'zone-unknown', message: zoneFound.problem, schedule: zoneFound.name === undefined ? {} : { timeZone: zoneFound.name } };
  }
  const { zone, source } = zoneFound;
  let anchor = reads?.anchors.get(schedule.anchor);
  if (!anchor) {
    anchor = readAnchor(schedule, event);
    reads?.anchors.set(schedule.anchor, anchor);
  }
  if ('problem' in anchor) return { ok: false, reason: 'anchor-missing', message: anchor.problem, schedule: { timeZone: zone.name, zoneSource: source } };
  const outOfRange = (): ScheduledTime => ({ ok: false, reason: 'beyond-horizon', message: `the due time from ${anchor.text} is outside the range of dates`, schedule: { timeZone: zone.name, zoneSource: source } });
  if (!inRange(anchor.ms)) return outOfRange();
  const { atMs, window } = compile(schedule);
  const notes: ScheduleNote[] = [];
  // `instant` is exact while no wall-clock step has happened: re-reading a repeated local time would
  // pick its first occurrence even when the anchor named the second.
  let instant: number | undefined = anchor.kind === 'instant' ? anchor.ms : undefined;
  let local = anchor.kind === 'instant' ? zone.localOf(anchor.ms) : anchor.ms;
  // Set when a window moves the due time (or `now`) later: the instant it moved from. Without it,
  // a move from 01:10 EST (the second 01:10 of a fall-back night) to a 01:20 opening would take the
  // first 01:20, in EDT, fifty minutes before where it started (before `now`, for ifPast: now).
  let notBefore: number | undefined;
  const offset = schedule.offset;
  if (offset && offset.value !== 0) {
    const elapsed = ELAPSED_MS[offset.unit];
    if (elapsed !== undefined) {
      instant = (instant ?? resolveLocal(zone, local, notBefore, notes)) + offset.value * elapsed;
      local = zone.localOf(instant);
    } else {
      local = addCalendar(local, offset.value, offset.unit as 'days' | 'weeks' | 'months', notes);
      instant = undefined;
    }
    // An offset no rule validation would pass (a rule from elsewhere) may leave the range, or give NaN.
    if (!inRange(instant ?? local)) return outOfRange();
  }
  if (atMs !== undefined) {
    local = dayStart(local) + atMs;
    instant = undefined;
  }
  if (window) {
    const moved = intoWindow(local, window, atMs);
    if (moved !== local) {
      notes.push({ code: 'window', message: `${describeLocal(local)} is outside the window (${window.label}); moved to ${describeLocal(moved)}` });
      notBefore = instant ?? zone.instantOf(local).instantMs;
      local = moved;
      instant = undefined;
    }
  }
  let due = instant ?? resolveLocal(zone, local, notBefore, notes);
  if (due < nowMs) {
    if (ifPastOf(schedule) === 'skip') {
      return { ok: false, reason: 'past', message: `the due time ${zone.formatLocal(due)} had passed at intake (ifPast: skip)`, schedule: traceOf(zone, source, anchor.text, due, notes), evaluateAt: new Date(due) };
    }
    notes.push({ code: 'past-now', message: `the due time ${zone.formatLocal(due)} had passed at intake; runs now (ifPast: now)` });
    due = nowMs;
    if (window) {
      const nowLocal = zone.localOf(nowMs);
      const moved = intoWindow(nowLocal, window, undefined);
      if (moved !== nowLocal) {
        notes.push({ code: 'window', message: `now (${describeLocal(nowLocal)}) is outside the window (${window.label}); moved to ${describeLocal(moved)}` });
        notBefore = nowMs;
        local = moved;
        instant = undefined;
        due = resolveLocal(zone, local, notBefore, notes);
      }
    }
  }
  if (due - nowMs > MAX_SCHEDULE_HORIZON_MS) {
    return { ok: false, reason: 'beyond-horizon', message: `the due time ${zone.formatLocal(due)} is more than ${MAX_SCHEDULE_HORIZON_MS / DAY_MS} days after intake`, schedule: traceOf(zone, source, anchor.text, due, notes), evaluateAt: new Date(due) };
  }
  return { ok: true, evaluateAt: new Date(due), schedule: traceOf(zone, source, anchor.text, due, notes) };
}
