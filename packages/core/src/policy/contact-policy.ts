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

/**
 * A rate for one channel of one account, whatever the category and the recipient: it protects the
 * provider number (or sender) the account shares, not the person. A token bucket of `burst` tokens
 * refilled at `perSecond`; a send that finds it empty defers its run until a token is due (not a
 * failure, not counted against `maxAttempts`). Other accounts have their own buckets.
 */
export interface SendThrottlePolicy {
  /** Sends per second, more than 0 and at most 1000 (0.5: one send every two seconds). */
  perSecond: number;
  /**
   * Sends that may go at once after a quiet spell (whole number, 1 to 10 000). Default 1: sends are
   * spaced `1 / perSecond` apart, so no one-second window sees more than `perSecond` of them; with
   * `burst` b a one-second window may see up to `b - 1 + perSecond`.
   */
  burst?: number | undefined;
}

/** The bucket size of a throttle without a `burst`. */
export const DEFAULT_THROTTLE_BURST = 1;

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
  /** A rate for the channel's sends of every category (the provider number's limit, not the person's). */
  throttle?: SendThrottlePolicy | undefined;
}

/** One account's policy, by action type (`sms`, `email`, custom types with a person behind them). */
export interface ContactPolicy {
  channels: { [actionType: string]: ChannelPolicy };
}

/** Action types without a person behind them: never capped or quiet-houred. */
export const IMPERSONAL_ACTION_TYPES: ReadonlySet<string> = new Set(['webhook']);
