import type { ContactPolicy } from '../policy/contact-policy.js';
import type { Page } from '../rules/rule.js';

/**
 * Ports of the contact policy: the account's policy, the suppression list (consent), the cap
 * counters and the send throttle. Store adapters implement them next to their trigger store, atomically across processes
 * (a unique key, a conditional upsert, findOneAndUpdate); every method that takes an `accountId`
 * behaves as if other accounts' data did not exist.
 */

/** A policy as stored: `version` starts at 1 and grows by one on every put. */
export type StoredContactPolicy = ContactPolicy & { accountId: string; version: number; updatedAt: Date };

export interface PutContactPolicyOptions {
  now: Date;
  /** Refuse the write (`VersionConflictError`) unless the stored policy is at this version (0: none stored). */
  expectedVersion?: number | undefined;
}

export interface ContactPolicyStore {
  getContactPolicy(accountId: string): Promise<StoredContactPolicy | null>;
  /**
   * Optional: the policies of several accounts in one read (those that have one, in any order). With
   * it, the engine reads the policies its concurrent sends need in one query per turn of the event loop.
   */
  getContactPolicies?(accountIds: readonly string[]): Promise<StoredContactPolicy[]>;
  /** Replaces the account's policy (already validated by the engine). */
  putContactPolicy(accountId: string, policy: ContactPolicy, options: PutContactPolicyOptions): Promise<StoredContactPolicy>;
}

/** Why a recipient must not be contacted on a channel. */
export type SuppressionReason = 'stop' | 'unsubscribe' | 'bounce' | 'spam-report' | 'provider-opt-out' | 'manual';

export const SUPPRESSION_REASONS: readonly SuppressionReason[] = ['stop', 'unsubscribe', 'bounce', 'spam-report', 'provider-opt-out', 'manual'];

/** What told us: an inbound keyword, a provider's error or event, a person through an interface, the engine. */
export type SuppressionSource = 'inbound-sms' | 'provider-error' | 'email-event' | 'api' | 'cli' | 'ui' | 'engine';

export const SUPPRESSION_SOURCES: readonly SuppressionSource[] = ['inbound-sms', 'provider-error', 'email-event', 'api', 'cli', 'ui', 'engine'];

/** One suppressed recipient on one channel of one account. */
export interface Suppression {
  accountId: string;
  /** Action type (`sms`, `email`, ...). */
  channel: string;
  /** Normalised recipient (E.164, lower-cased email). */
  recipient: string;
  reason: SuppressionReason;
  source: SuppressionSource;
  /** Free text: the inbound message id, the provider's error, an operator's note. */
  detail?: string | undefined;
  /** Who: a principal, an operator, an engine instance. */
  by?: string | undefined;
  createdAt: Date;
}

export type NewSuppression = Suppression;

/** One add or remove, kept for audits (who or what, when, why). */
export interface SuppressionChange {
  accountId: string;
  channel: string;
  recipient: string;
  action: 'added' | 'removed';
  /** `removed`: why it was lifted (a START keyword: `stop`, an operator: `manual`). */
  reason: SuppressionReason;
  source: SuppressionSource;
  by?: string | undefined;
  detail?: string | undefined;
  at: Date;
}

/** What a removal records. */
export interface SuppressionRemoval {
  at: Date;
  reason: SuppressionReason;
  source: SuppressionSource;
  by?: string | undefined;
  detail?: string | undefined;
}

export interface SuppressionFilter {
  channel?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface SuppressionChangeFilter {
  channel?: string | undefined;
  recipient?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** One recipient on one channel of one account. */
export interface SuppressionKey {
  accountId: string;
  channel: string;
  recipient: string;
}

export interface SuppressionStore {
  findSuppression(accountId: string, channel: string, recipient: string): Promise<Suppression | null>;
  /**
   * Optional: the suppressions among several keys in one read (those suppressed, in any order). With
   * it, the engine looks up the recipients of its concurrent sends in one query per turn of the event loop.
   */
  findSuppressions?(keys: readonly SuppressionKey[]): Promise<Suppression[]>;
  /**
   * Idempotent on (accountId, channel, recipient): `created: false` with the existing entry when it is
   * already suppressed (no change recorded). A new entry records an `added` change.
   */
  addSuppression(entry: NewSuppression): Promise<{ created: boolean; suppression: Suppression }>;
  /** False when there was nothing to remove (no change recorded); true records a `removed` change. */
  removeSuppression(accountId: string, channel: string, recipient: string, change: SuppressionRemoval): Promise<boolean>;
  /** An account's suppressions, newest first, in pages. */
  listSuppressions(accountId: string, filter: SuppressionFilter): Promise<Page<Suppression>>;
  /** Every add and remove, oldest first, in pages (the audit export). */
  suppressionChanges(accountId: string, filter: SuppressionChangeFilter): Promise<Page<SuppressionChange>>;
}

/** One cap's calendar bucket for one recipient. */
export interface CounterBucket {
  /** `${channel}|${recipient}|${per}|${bucketStartLocalISO}`. */
  key: string;
  max: number;
  /** When the store may forget the bucket (its end plus a day). */
  expiresAt: Date;
}

export interface ReserveRequest {
  accountId: string;
  channel: string;
  recipient: string;
  buckets: CounterBucket[];
  /** The send's delivery idempotency key: a second reserve by the same holder is a no-op `ok`. */
  holder: string;
  now: Date;
}

export type ReserveResult = { ok: true } | { ok: false; /** The bucket key that is full. */ full: string };

export interface ReleaseRequest {
  accountId: string;
  channel: string;
  recipient: string;
  bucketKeys: string[];
  holder: string;
}

/**
 * Counts marketing sends per recipient for caps, atomically across engines: `reserve` takes one unit
 * in every bucket or in none, so a cap of 3 holds with any number of engines firing at once.
 */
export interface ContactCounter {
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /** Gives the holder's unit back in each bucket (the send failed permanently); a no-op when it holds none. */
  release(request: ReleaseRequest): Promise<void>;
}

export interface ThrottleRequest {
  accountId: string;
  /** Action type (`sms`, `email`, ...). */
  channel: string;
  /** The engine's clock at the send. */
  now: Date;
  /** Refill rate, tokens per second (more than 0, at most 1000). */
  perSecond: number;
  /** Bucket size (a whole number, at least 1); absent: 1. */
  burst?: number | undefined;
}

export type ThrottleResult = { ok: true } | { ok: false; /** Epoch ms at which the bucket next holds a whole token (after `now`). */ retryAtMs: number };

/**
 * A token bucket per (accountId, channel), shared by every engine on the store, that paces an
 * account's sends on a channel (the provider number it shares) whatever their recipient.
 *
 * Semantics, which every adapter keeps:
 * - A bucket holds up to `burst ?? 1` tokens and gains `perSecond` tokens per second of `now`,
 *   continuously (fractions count). A bucket never seen, or forgotten, is full.
 * - `take` adds what accrued since the bucket's last update, capped at `burst`, then takes one token
 *   when at least one is there (`ok: true`). Otherwise it takes nothing and answers `ok: false` with
 *   `retryAtMs` = the instant the bucket holds one token again: its last update plus
 *   `ceil((1 - tokens) * 1000 / perSecond)` ms. A refused take leaves no debt and holds no place.
 * - Read, refill and take are one atomic step across engines: N engines taking at once get at most
 *   the tokens there are. PostgreSQL: one `INSERT ... ON CONFLICT (account_id, channel) DO UPDATE`
 *   (or `SELECT ... FOR UPDATE`) computing the new count in SQL; MongoDB: `findOneAndUpdate` with an
 *   update pipeline and `upsert`; Redis: one Lua script on a hash per bucket.
 * - Time never runs backwards for a bucket: a `now` before its last update (another engine's clock
 *   ahead of this one) refills nothing and leaves the last update where it is.
 * - The rate and burst come with each call (the policy may change between calls); a smaller burst
 *   caps what the bucket holds from the next call on.
 * - A bucket may be forgotten once it would be full again (`burst / perSecond` seconds after its last
 *   update), so a TTL of that much (a few seconds) keeps the store small.
 * - A take is not given back: a send that then fails has used its place in the rate, as it did at
 *   the provider.
 */
export interface SendThrottle {
  take(request: ThrottleRequest): Promise<ThrottleResult>;
}
