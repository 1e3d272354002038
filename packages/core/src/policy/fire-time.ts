import { resolvePath } from '../rules/json-path.js';
import { clockMinutes } from '../scheduling/schedule.js';
import { TimeZone } from '../scheduling/time-zones.js';
import type { CounterBucket } from '../ports/contact-policy.js';
import type { CapPeriod, ChannelPolicy, ContactCap, QuietHours } from './contact-policy.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Longest jitter added to a deferral, so that the runs a quiet window held do not all fire at once. */
export const MAX_DEFERRAL_JITTER_MS = 120_000;

/** A zone the recipient's could not be read from: where a payload names none (or none known) and no fallback is set. */
export type ZoneSource = 'literal' | 'payload' | 'fallback' | 'default';

export interface RecipientZone {
  zone: TimeZone;
  source: ZoneSource;
  /** The payload's value when it was not a known zone (for the warning). */
  unknown?: unknown;
}

const UTC = (): TimeZone => TimeZone.of('UTC') as TimeZone;

/**
 * The recipient's zone for quiet hours and cap buckets: `quietHours.timeZone ?? timeZone ?? 'UTC'`
 * (with the matching fallback). A payload zone that is missing or unknown, with no fallback, is UTC:
 * the send goes ahead in UTC rather than not at all.
 */
export function recipientZone(channel: ChannelPolicy, payload: Record<string, unknown>): RecipientZone {
  const quietZone = channel.quietHours?.timeZone;
  const spec = quietZone ?? channel.timeZone;
  const fallback = quietZone !== undefined ? channel.quietHours?.fallbackTimeZone : channel.fallbackTimeZone;
  if (spec === undefined) return { zone: UTC(), source: 'default' };
  if (!spec.startsWith('$')) return { zone: TimeZone.of(spec) ?? UTC(), source: 'literal' };
  const value = resolvePath(payload, spec);
  const named = typeof value === 'string' ? TimeZone.of(value) : null;
  if (named) return { zone: named, source: 'payload' };
  const fallbackZone = fallback === undefined ? null : TimeZone.of(fallback);
  if (fallbackZone) return { zone: fallbackZone, source: 'fallback' };
  return { zone: UTC(), source: 'default', unknown: value };
}

/** When the quiet window `now` is inside ends (the instant of its `to`), or undefined when `now` is outside it. */
export function quietUntil(quiet: QuietHours, zone: TimeZone, now: Date): Date | undefined {
  const from = clockMinutes(quiet.from);
  const to = clockMinutes(quiet.to);
  if (from === undefined || to === undefined || from === to) return undefined;
  const nowMs = now.getTime();
  const local = zone.localOf(nowMs);
  const day = Math.floor(local / DAY_MS) * DAY_MS;
  const minute = Math.floor((local - day) / MINUTE_MS);
  let endLocal: number;
  if (from < to) {
    if (minute < from || minute >= to) return undefined;
    endLocal = day + to * MINUTE_MS;
  } else if (minute >= from) {
    endLocal = day + DAY_MS + to * MINUTE_MS;
  } else if (minute < to) {
    endLocal = day + to * MINUTE_MS;
  } else {
    return undefined;
  }
  // A `to` inside a spring-forward gap is the transition; one that exists twice is the first after now.
  const end = zone.instantOf(endLocal, nowMs).instantMs;
  return end > nowMs ? new Date(end) : undefined;
}

/** One cap's bucket at `now`: its store key, when it ends and when the store may forget it. */
export interface CapBucket extends CounterBucket {
  per: CapPeriod;
  endsAt: Date;
}

/** ISO weekday index of a local day start, Monday 0 (1970-01-01 was a Thursday). */
const isoWeekday = (dayStartMs: number) => (((Math.floor(dayStartMs / DAY_MS) + 3) % 7) + 7) % 7;

function bucketStart(per: CapPeriod, local: number): { startLocal: number; endLocal: number } {
  if (per === 'hour') {
    const startLocal = Math.floor(local / HOUR_MS) * HOUR_MS;
    return { startLocal, endLocal: startLocal + HOUR_MS };
  }
  const day = Math.floor(local / DAY_MS) * DAY_MS;
  if (per === 'day') return { startLocal: day, endLocal: day + DAY_MS };
  const monday = day - isoWeekday(day) * DAY_MS;
  return { startLocal: monday, endLocal: monday + 7 * DAY_MS };
}

/**
 * The calendar bucket of each cap at `now` in the recipient's zone: local hour, local day, ISO week
 * (Monday start). Keys are `${channel}|${recipient}|${per}|${bucketStartLocalISO}`.
 */
export function capBuckets(channel: string, recipient: string, caps: readonly ContactCap[], zone: TimeZone, now: Date): CapBucket[] {
  const nowMs = now.getTime();
  const local = zone.localOf(nowMs);
  return caps.map((cap) => {
    const { startLocal, endLocal } = bucketStart(cap.per, local);
    const label = new Date(startLocal).toISOString().slice(0, cap.per === 'hour' ? 16 : 10);
    const end = zone.instantOf(endLocal, nowMs).instantMs;
    return { key: `${channel}|${recipient}|${cap.per}|${label}`, max: cap.max, per: cap.per, endsAt: new Date(end), expiresAt: new Date(end + DAY_MS) };
  });
}

/** FNV-1a of a string. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** 0 to {@link MAX_DEFERRAL_JITTER_MS}, the same for the same trigger id (FNV-1a). */
export function deferralJitterMs(triggerId: string): number {
  return fnv1a(triggerId) % (MAX_DEFERRAL_JITTER_MS + 1);
}

/**
 * Longest jitter added to a throttle deferral: the runs one bucket held spread over a second rather
 * than all coming back for the same next token.
 */
export const MAX_THROTTLE_JITTER_MS = 1_000;

/**
 * 0 to {@link MAX_THROTTLE_JITTER_MS}, from the trigger id and the attempt: a run deferred again
 * lands at another offset, so the same runs do not lose the race for the next token every time.
 */
export function throttleJitterMs(triggerId: string, attempt: number): number {
  return fnv1a(`${triggerId}:${attempt}`) % (MAX_THROTTLE_JITTER_MS + 1);
}
