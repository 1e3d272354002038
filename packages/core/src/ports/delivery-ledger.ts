import type { Page } from '../rules/rule.js';
import type { ErrorSummary } from '../scheduling/trigger.js';

/**
 * Where a send is, from the engine's intent to the provider's last receipt. States only move forward
 * (by rank); a late or repeated receipt never moves a delivery back:
 *
 *   intent ─┬→ accepted ─→ delivered | undelivered | bounced | failed        (receipts)
 *           ├→ refused                                                       (the provider said no)
 *           └→ unknown ─→ accepted | delivered | ... (a receipt) | abandoned  (an operator resends)
 *
 * `unknown`: the request may have reached the provider but no answer says so (a timeout, a lost
 * connection, a crash between the provider's answer and the engine's record). It is not sent again
 * unless the provider deduplicates by our idempotency key; a receipt or an operator resolves it.
 */
export type DeliveryState = 'intent' | 'accepted' | 'refused' | 'unknown' | 'delivered' | 'undelivered' | 'bounced' | 'failed' | 'abandoned';

export const DELIVERY_STATES: readonly DeliveryState[] = ['intent', 'accepted', 'refused', 'unknown', 'delivered', 'undelivered', 'bounced', 'failed', 'abandoned'];

/** States a delivery settles in: nothing the engine does changes them (receipts still may, forward). */
export const SETTLED_DELIVERY_STATES: readonly DeliveryState[] = ['refused', 'delivered', 'undelivered', 'bounced', 'failed', 'abandoned'];

/** Who moved a delivery. */
export type DeliverySource = 'engine' | 'receipt' | 'operator' | 'reconcile';

export interface DeliveryEvent {
  at: Date;
  state: DeliveryState;
  source: DeliverySource;
  /** The provider's status word (`delivered`, `bounce`, ...), an operator's note, an error code. */
  detail?: string | undefined;
}

/** One send of one action in one attempt of one trigger. */
export interface Delivery {
  id: string;
  accountId: string;
  triggerId: string;
  ruleId: string;
  actionIndex: number;
  /** The trigger attempt it belongs to. */
  attempt: number;
  /** Action type (`sms`, `email`, `webhook`, custom). */
  type: string;
  /** The gateway's name (`twilio`, `sendgrid`, ...); after a failover, the provider that took it. */
  provider: string;
  idempotencyKey: string;
  /** Normalised recipient (E.164, lower-cased email, webhook host), when the action has one. */
  recipient?: string | undefined;
  state: DeliveryState;
  /** The provider's id of the message (Twilio SID, SendGrid message id, SMTP Message-ID, webhook-id). */
  providerId?: string | undefined;
  /** Why it was refused or is unknown. */
  error?: ErrorSummary | undefined;
  /** Whether the provider deduplicates by our idempotency key (an unknown send may then be retried). */
  dedupes: boolean;
  events: DeliveryEvent[];
  createdAt: Date;
  updatedAt: Date;
}

/** A delivery as the engine records it before calling the gateway. */
export type NewDelivery = Omit<Delivery, 'id' | 'state' | 'providerId' | 'error' | 'events' | 'createdAt' | 'updatedAt'> & { at: Date };

/** What the engine learned from the gateway's answer (or the lack of one). */
export interface DeliveryOutcome {
  id: string;
  state: Extract<DeliveryState, 'accepted' | 'refused' | 'unknown'>;
  providerId?: string | undefined;
  /** The provider that took it, when it is not the gateway's name (a failover gateway, a Notification Service). */
  provider?: string | undefined;
  error?: ErrorSummary | undefined;
  at: Date;
  source?: DeliverySource | undefined;
}

/** A provider's report about a message, found by its provider id or, when we gave it one, our delivery id. */
export interface DeliveryReceipt {
  provider: string;
  providerId?: string | undefined;
  deliveryId?: string | undefined;
  state: Extract<DeliveryState, 'accepted' | 'delivered' | 'undelivered' | 'bounced' | 'failed'>;
  at: Date;
  detail?: string | undefined;
}

export interface DeliveryFilter {
  triggerId?: string | undefined;
  recipient?: string | undefined;
  provider?: string | undefined;
  providerId?: string | undefined;
  state?: DeliveryState | DeliveryState[] | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** What applying a receipt did. */
export type ReceiptResult =
  | { applied: true; delivery: Delivery }
  /** Known delivery, but the receipt would move it backwards (a late `sent` after `delivered`). */
  | { applied: false; reason: 'stale'; delivery: Delivery }
  /** No delivery has that id: accepted and ignored (providers retry on errors). */
  | { applied: false; reason: 'unknown-id' };

/**
 * The delivery ledger: one record per action attempt, written before the gateway is called. Store
 * adapters implement it next to their trigger store (contract-tested by `describeDeliveryLedgerContract`).
 * Every method that takes an `accountId` behaves as if other accounts' deliveries did not exist.
 */
export interface DeliveryLedger {
  /** Records intents (state `intent`), in order; returns them with their ids. */
  recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]>;
  /**
   * Records what the gateway answered. Moves only a delivery in `intent` (or, from `reconcile` and
   * `operator`, in `unknown`); returns one boolean per outcome, whether it was applied.
   */
  recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<boolean[]>;
  /** Applies a provider receipt, forward only (see {@link DeliveryState}). */
  applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult>;
  getDelivery(accountId: string, id: string): Promise<Delivery | null>;
  /** An account's deliveries, newest first, in pages. */
  listDeliveries(accountId: string, filter: DeliveryFilter): Promise<Page<Delivery>>;
  /** Every delivery of one trigger, oldest first (what dispatch reads before retrying an action). */
  deliveriesOfTrigger(accountId: string, triggerId: string): Promise<Delivery[]>;
  /** Intents older than `olderThan` that never got an outcome (the engine died mid-send), oldest first. */
  staleIntents(olderThan: Date, limit: number): Promise<Delivery[]>;
  /**
   * An operator's decision on an `unknown` delivery: `sent` (it reached the provider: `accepted`) or
   * `resend` (`abandoned`, so the engine may send the action again). Null when not found; the
   * delivery unchanged when it is not `unknown`.
   */
  resolveDelivery(accountId: string, id: string, resolution: { as: 'sent' | 'resend'; at: Date; by: string; note?: string | undefined }): Promise<Delivery | null>;
  /** Counts by state over an account's deliveries since `since` (for metrics and the run view). */
  countDeliveries?(accountId: string, since: Date): Promise<Partial<Record<DeliveryState, number>>>;
}

/** Rank of a state: a delivery only moves to a higher rank (and `abandoned` only from `unknown`). */
export function deliveryRank(state: DeliveryState): number {
  switch (state) {
    case 'intent':
      return 0;
    case 'unknown':
      return 1;
    case 'accepted':
    case 'refused':
      return 2;
    case 'abandoned':
      return 3;
    case 'delivered':
    case 'undelivered':
    case 'bounced':
    case 'failed':
      return 4;
  }
}
