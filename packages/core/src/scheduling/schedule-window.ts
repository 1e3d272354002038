import type { ScheduleWindow, Weekday } from '../rules/rule.js';

// Local times here are wall-clock times as milliseconds of a UTC clock showing them: calendar
// arithmetic on them is exact (no zone is involved until the due time is resolved to an instant).
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after midnight of an `HH:mm` clock time, or undefined when it is not one. */
export function clockMinutes(text: string): number | undefined {
  const match = CLOCK.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}


export interface CompiledWindow {
  days: ReadonlySet<Weekday>;
  fromMs: number;
  /** Where an opening ends, from the start of the day it opens (past a day when it wraps midnight). */
  endMs: number;
  label: string;
}

export function compileWindow(window: ScheduleWindow): CompiledWindow | undefined {
  const from = clockMinutes(window.from);
  const to = clockMinutes(window.to);
  // Validated rules never get here without both; a rule from elsewhere runs without its window.
  if (from === undefined || to === undefined || from === to) return undefined;
  const days = new Set<Weekday>(window.days && window.days.length > 0 ? window.days : WEEKDAYS);
  const fromMs = from * MINUTE_MS;
  const endMs = (to > from ? to : to + 1_440) * MINUTE_MS;
  const dayList = WEEKDAYS.filter((d) => days.has(d));
  return { days, fromMs, endMs, label: `${dayList.length === 7 ? 'every day' : dayList.join(',')} ${window.from}–${window.to}` };
}

/** Day 0 of the epoch, 1970-01-01, was a Thursday (index 4 of WEEKDAYS). */
const weekdayOf = (dayStartMs: number): Weekday => WEEKDAYS[(((Math.floor(dayStartMs / DAY_MS) + 4) % 7) + 7) % 7] ?? 'sun';
export const dayStart = (localMs: number) => Math.floor(localMs / DAY_MS) * DAY_MS;
/** A local wall-clock time (ms of a UTC clock showing it) as `Sat 2026-03-07 10:00`. */
export const describeLocal = (localMs: number) => {
  const iso = new Date(localMs).toISOString();
  const day = weekdayOf(dayStart(localMs));
  return `${day[0]?.toUpperCase() ?? ''}${day.slice(1)} ${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
};

export function insideWindow(localMs: number, window: CompiledWindow): boolean {
  const today = dayStart(localMs);
  // An opening that wraps midnight started the day before.
  for (const start of [today, today - DAY_MS]) {
    if (window.days.has(weekdayOf(start)) && localMs >= start + window.fromMs && localMs < start + window.endMs) return true;
  }
  return false;
}

/**
 * The first local time at or after `localMs` inside the window: `localMs` itself when it is inside;
 * otherwise `at` on the next day it is open at `at` (when the schedule sets an `at` inside the
 * window's hours, the user's chosen time of day), else the next opening.
 */
export function intoWindow(localMs: number, window: CompiledWindow, atMs: number | undefined): number {
  if (insideWindow(localMs, window)) return localMs;
  const today = dayStart(localMs);
  if (atMs !== undefined) {
    for (let k = 0; k <= 8; k++) {
      const candidate = today + k * DAY_MS + atMs;
      if (candidate >= localMs && insideWindow(candidate, window)) return candidate;
    }
  }
  for (let k = 0; k <= 8; k++) {
    const start = today + k * DAY_MS;
    if (start + window.fromMs >= localMs && window.days.has(weekdayOf(start))) return start + window.fromMs;
  }
  // Unreachable: a window is open at least one day a week.
  return localMs;
}
