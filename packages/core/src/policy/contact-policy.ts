/**
 * The contact policy of an account: what every rule's sends to one person add up to. Quiet hours and
 * caps hold per channel (action type) and per normalised recipient, in the recipient's calendar.
 */

/**
 * What a message is for. `transactional` (a confirmation the person asked for) skips caps and quiet
 * hours, never suppression. An action without a category is `marketing`: a wrong default then costs a
 * delayed text, where the other default would cost a text at 3 a.m. or over a cap (TCPA/CTIA exposure).
 */
export type MessageCategory = 'transactional' | 'marketing';

export const MESSAGE_CATEGORIES: readonly MessageCategory[] = ['transactional', 'marketing'];

/** The category of an action that names none. */
export const DEFAULT_MESSAGE_CATEGORY: MessageCategory = 'marketing';

/** A window of local time in which marketing sends wait; `from` after `to` spans midnight (21:00–08:00). */
export interface QuietHours {
  /** Local time `HH:mm` the window opens. */
  from: string;
  /** Local time `HH:mm` the window closes (exclusive). */
  to: string;
  /** IANA zone literal (`America/New_York`) or a `$.path` into the triggering event's payload. */
  timeZone?: string | undefined;
  /** IANA zone used when `timeZone` is a path that resolves to nothing or to an unknown zone. */
  fallbackTimeZone?: string | undefined;
}

export type CapPeriod = 'hour' | 'day' | 'week';

export const CAP_PERIODS: readonly CapPeriod[] = ['hour', 'day', 'week'];

/** At most `max` marketing sends per recipient per local calendar hour, day or ISO week (Monday start). */
export interface ContactCap {
  /** Integer, at least 1. */
  max: number;
  per: CapPeriod;
}

/** What happens to a send over a cap: `skip` (default) it, or `defer` it until the full bucket ends. */
export type OverCapBehaviour = 'skip' | 'defer';

export interface ChannelPolicy {
  quietHours?: QuietHours | undefined;
  caps?: ContactCap[] | undefined;
  overCap?: OverCapBehaviour | undefined;
  /**
   * The recipient's zone for cap buckets (and quiet hours without their own `timeZone`): IANA literal
   * or `$.path`; `quietHours.timeZone ?? timeZone ?? 'UTC'`.
   */
  timeZone?: string | undefined;
  fallbackTimeZone?: string | undefined;
}

/** One account's policy, by action type (`sms`, `email`, custom types with a person behind them). */
export interface ContactPolicy {
  channels: { [actionType: string]: ChannelPolicy };
}

/** Action types without a person behind them: never capped or quiet-houred. */
export const IMPERSONAL_ACTION_TYPES: ReadonlySet<string> = new Set(['webhook']);
