import type { ContactPolicy } from '../policy/contact-policy.js';
import type { Page } from '../rules/rule.js';

/**
 * Ports of the contact policy: the account's policy, the suppression list (consent) and the cap
 * counters. Store adapters implement them next to their trigger store, atomically across processes
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

export interface SuppressionStore {
  findSuppression(accountId: string, channel: string, recipient: string): Promise<Suppression | null>;
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
