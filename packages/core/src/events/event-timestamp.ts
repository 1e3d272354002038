import { types } from 'node:util';

/**
 * Reading an event's `timestamp`. `new Date(text)` is not used on tenant text: it rolls a date the
 * calendar does not have over into the next month (`2026-02-30` is 2 March), reads a date-time without
 * an offset in the server's own time zone, and guesses at anything (`"1"` is 2001, `"foo 2026"` is
 * New Year's Day). Each of those is either refused here or read one documented way.
 */

/** Longest timestamp text read; an ISO 8601 date-time with nine fraction digits and an offset is 35. */
export const MAX_TIMESTAMP_LENGTH = 64;

/** JavaScript's date range: ±100,000,000 days around 1970 (ECMA-262 § 21.4.1.22). */
export const MAX_DATE_MS = 8.64e15;

export type TimestampReading = { ok: true; date: Date } | { ok: false; message: string };

const ACCEPTED = 'a Date, epoch milliseconds, or an ISO 8601 date-time such as "2026-03-10T15:00:00Z" or "2026-03-10T15:00:00-04:00"';

/**
 * `YYYY-MM-DD` (or an extended year `±YYYYYY-MM-DD`), optionally `T`/`t`/space and `HH:mm`, optional
 * `:ss` and a fraction (`.` or `,`), optionally `Z`/`z` or an offset `±HH`, `±HHmm`, `±HH:mm`.
 */
const ISO = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** RFC 2822 / RFC 9110 (HTTP-date, `Date.prototype.toUTCString()`): `Mon, 01 Jun 2026 11:00:00 GMT`. */
const RFC_2822 = /^(?:(?:mon|tue|wed|thu|fri|sat|sun),\s*)?(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+(gmt|ut|utc|z|[+-]\d{4})$/i;

/** Milliseconds of a calendar date and time of day in UTC, or a reason it names no instant. */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number, millis: number): number | string {
  if (month < 1 || month > 12) return `there is no month ${month}`;
  // 24:00 is the end of the day (ISO 8601), the next day's 00:00; a leap second (:60) has no instant here.
  const endOfDay = hour === 24 && minute === 0 && second === 0 && millis === 0;
  if ((hour > 23 && !endOfDay) || minute > 59 || second > 59) return 'the time of day is out of range (00:00:00 to 23:59:59, or 24:00)';
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')} has no day ${day}`;
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime();
}

function fromIso(match: RegExpExecArray): number | string {
  const [, y, mo, d, h, mi, sec, frac, zulu, sign, offH, offM] = match;
  // ISO 8601 has no year -0: the extended form of year 0 is +000000.
  if (y === '-000000') return 'the year -000000 does not exist (year 0 is +000000)';
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  const local = utcMs(Number(y), Number(mo), Number(d), Number(h ?? 0), Number(mi ?? 0), Number(sec ?? 0), millis);
  if (typeof local === 'string' || zulu !== undefined || sign === undefined) return local;
  const offsetHours = Number(offH);
  const offsetMinutes = Number(offM ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return `the offset ${sign}${offH ?? ''}:${offM ?? '00'} is out of range`;
  return local - (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
}

function fromRfc2822(match: RegExpExecArray): number | string {
  const [, d, mon, y, h, mi, sec, zone] = match;
  const local = utcMs(Number(y), MONTHS.indexOf((mon ?? '').toLowerCase()) + 1, Number(d), Number(h), Number(mi), Number(sec ?? 0), 0);
  if (typeof local === 'string' || zone === undefined || !/^[+-]/.test(zone)) return local;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(3, 5));
  if (hours > 23 || minutes > 59) return `the offset ${zone} is out of range`;
  return local - (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

/**
 * An event timestamp as a Date, or why it is not one: a valid `Date`; a finite number of epoch
 * milliseconds; an ISO 8601 calendar date or date-time (a date-time without an offset, and a date
 * alone, are UTC, as in `Date.parse` for a date alone; the date must exist: `2026-02-30` does not;
 * `24:00` is the next day's midnight; a leap second is refused); or an RFC 2822 date (`Mon, 01 Jun 2026
 * 11:00:00 GMT`, what `toUTCString()` writes). Surrounding white space is ignored. Anything else,
 * including `null`, numeric text and week or ordinal dates, is refused.
 */
export function readTimestamp(value: unknown): TimestampReading {
  let ms: number | string;
  if (types.isDate(value)) {
    // Date.prototype's own getTime: a subclass (or another realm's Date) cannot answer for it.
    ms = Date.prototype.getTime.call(value);
    if (Number.isNaN(ms)) return { ok: false, message: 'timestamp is an invalid Date' };
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, message: `timestamp must be a finite number of epoch milliseconds, got ${value}` };
    ms = value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (text.length === 0) return { ok: false, message: `timestamp must be ${ACCEPTED}; got an empty string` };
    if (text.length > MAX_TIMESTAMP_LENGTH) return { ok: false, message: `timestamp text is ${text.length} characters; a date is at most ${MAX_TIMESTAMP_LENGTH}` };
    const iso = ISO.exec(text);
    const rfc = iso ? null : RFC_2822.exec(text);
    if (!iso && !rfc) return { ok: false, message: `timestamp must be ${ACCEPTED}; got ${JSON.stringify(text)}` };
    ms = iso ? fromIso(iso) : fromRfc2822(rfc as RegExpExecArray);
    if (typeof ms === 'string') return { ok: false, message: `timestamp ${JSON.stringify(text)} is not a valid date: ${ms}` };
  } else {
    return { ok: false, message: `timestamp must be ${ACCEPTED}; got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}` };
  }
  if (Math.abs(ms) > MAX_DATE_MS) return { ok: false, message: `timestamp ${typeof value === 'string' ? JSON.stringify(value.trim()) : String(ms)} is outside JavaScript's date range (±8.64e15 ms)` };
  return { ok: true, date: new Date(ms) };
}
