import { MongoServerError, type Collection, type Document, type IndexDirection } from 'mongodb';
import { AutomationError } from '@crm-automation/core';

/** How expired documents are removed: by the server (TTL index) or by the adapter's periodic delete. */
export type ExpiryMode = 'ttl' | 'periodic';

export interface IndexDefinition {
  name: string;
  key: Record<string, IndexDirection>;
  unique?: boolean;
  /** Leaves out documents that lack the field (a single-field index), so a unique one constrains only those that have it. */
  sparse?: boolean;
  /**
   * MongoDB's `partialFilterExpression`: only matching documents are indexed. Used only on non-unique
   * indexes, where a server that ignores it (the test server indexes every document) is still correct.
   */
  partial?: Document;
}

/**
 * One index per query shape of the rule store (names appear in `explain()` output):
 * - `rules_by_event`: `findRulesForEvent`'s rules an event starts (account + event name + enabled: equality on all three).
 * - `rules_by_cancel_event` (multikey): `findRulesForEvent`'s rules an event cancels (`cancelOn[].eventName`);
 *   the two are the branches of one `$or`, each answered by its own index.
 * - `rules_by_account`: `listRules` pages in `_id` order within one account.
 * Reads and writes of one rule go by `{ _id, accountId }`, which the `_id` index answers.
 */
export const RULE_INDEXES: readonly IndexDefinition[] = [
  { name: 'rules_by_event', key: { accountId: 1, 'trigger.eventName': 1, enabled: 1 } },
  { name: 'rules_by_cancel_event', key: { accountId: 1, 'cancelOn.eventName': 1, enabled: 1 } },
  { name: 'rules_by_account', key: { accountId: 1, _id: 1 } },
];

/**
 * One index per query shape of the trigger store:
 * - `triggers_due`: claim candidates `status ∈ {pending, retrying}, evaluateAt <= now` in due order,
 *   and the waiting half of `nextDueAt`.
 * - `triggers_lease_expiry`: claim candidates `status = processing, leaseExpiresAt <= now`, and the
 *   leased half of `nextDueAt`.
 * - `triggers_intake_dedupe` (unique): a redelivered event cannot create a second trigger per rule;
 *   also answers the read of the existing triggers after a duplicate.
 * - `triggers_pending_slot`, `triggers_slot_latch` (unique, sparse): at most one pending trigger per
 *   (account, rule, entityKey) among those inserted with a concurrency mode, held without a gap through a
 *   supersede (pending-slot.ts); only such triggers carry the fields, and only while pending (or handing over).
 *   Sparse rather than partial: a partial index's filter is the better tool on MongoDB, but servers that
 *   ignore `partialFilterExpression` would then make every document collide (see the README).
 * - `triggers_by_entity_status`: `cancelTriggers` and the entity filter of `listTriggers` within a rule.
 * - `triggers_by_entity`: the entity filter of `listTriggers` across rules, newest first.
 *   Both partial on keyed triggers, so unkeyed ones cost them nothing (their queries name an entity key,
 *   which implies the filter, so MongoDB uses them).
 * - `triggers_by_account`, `triggers_by_rule`, `triggers_by_status`: `listTriggers`, newest first.
 * - `triggers_purge`: `purgeTriggers` by status and age.
 * - `triggers_retention` (see {@link ensureExpiryIndex}): the expiry stamp.
 * Claims, outcomes and transitions write one document by `{ _id, ...guard }`: the `_id` index.
 */
export const TRIGGER_INDEXES: readonly IndexDefinition[] = [
  { name: 'triggers_due', key: { status: 1, evaluateAt: 1 } },
  { name: 'triggers_lease_expiry', key: { status: 1, leaseExpiresAt: 1 } },
  { name: 'triggers_intake_dedupe', key: { accountId: 1, 'triggeringEvent.id': 1, ruleId: 1 }, unique: true },
  { name: 'triggers_pending_slot', key: { pendingSlot: 1 }, unique: true, sparse: true },
  { name: 'triggers_slot_latch', key: { slotLatch: 1 }, unique: true, sparse: true },
  { name: 'triggers_by_entity_status', key: { accountId: 1, ruleId: 1, entityKey: 1, status: 1 }, partial: { entityKey: { $exists: true } } },
  { name: 'triggers_by_entity', key: { accountId: 1, entityKey: 1, _id: -1 }, partial: { entityKey: { $exists: true } } },
  { name: 'triggers_by_account', key: { accountId: 1, _id: -1 } },
  { name: 'triggers_by_rule', key: { accountId: 1, ruleId: 1, _id: -1 } },
  { name: 'triggers_by_status', key: { accountId: 1, status: 1, _id: -1 } },
  { name: 'triggers_purge', key: { status: 1, updatedAt: 1 } },
];

/**
 * One index per query shape of the delivery ledger:
 * - `deliveries_by_account`: `listDeliveries` pages, newest first.
 * - `deliveries_by_trigger`: `deliveriesOfTrigger` (oldest first) and the trigger filter of `listDeliveries`.
 * - `deliveries_by_provider_id`: receipts found by `(provider, providerId)`, the latest first; `providerId`
 *   leads so that the provider-id filter of `listDeliveries` (no provider given) uses it too.
 * - `deliveries_stale`: `staleIntents`, `state = intent, createdAt < t`, oldest first.
 * - `deliveries_by_recipient`: the recipient filter of `listDeliveries`, newest first.
 * - `deliveries_retention` (see {@link ensureExpiryIndex}): the expiry stamp.
 * Outcomes, receipts and resolutions write one document by `{ _id, state: { $in: ... } }`: the `_id` index.
 */
export const DELIVERY_INDEXES: readonly IndexDefinition[] = [
  { name: 'deliveries_by_account', key: { accountId: 1, _id: -1 } },
  { name: 'deliveries_by_trigger', key: { accountId: 1, triggerId: 1, createdAt: 1, _id: 1 } },
  { name: 'deliveries_by_provider_id', key: { providerId: 1, provider: 1, _id: -1 } },
  { name: 'deliveries_stale', key: { state: 1, createdAt: 1, _id: 1 } },
  { name: 'deliveries_by_recipient', key: { accountId: 1, recipient: 1, _id: -1 } },
];

/** Creates the indexes in one command; the server leaves existing identical ones as they are. */
export async function createIndexes<D extends Document>(collection: Collection<D>, definitions: readonly IndexDefinition[]): Promise<void> {
  await collection.createIndexes(
    definitions.map((d) => ({
      key: d.key,
      name: d.name,
      ...(d.unique ? { unique: true } : {}),
      ...(d.sparse ? { sparse: true } : {}),
      ...(d.partial ? { partialFilterExpression: d.partial } : {}),
    })),
  );
}

/** The collection's indexes; none when the collection does not exist yet. */
export async function existingIndexes<D extends Document>(collection: Collection<D>): Promise<Document[]> {
  try {
    return await collection.listIndexes().toArray();
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 26) return [];
    throw error;
  }
}

/**
 * Creates the single-field index that expiry runs on and says who deletes: the server (a TTL index
 * on a server that runs a TTL monitor) or the adapter's periodic delete (a plain index). An index
 * that already exists under `name` is kept as it is, which is what makes this idempotent; drop it to
 * switch kinds.
 *
 * @param ttlMonitor what {@link serverRunsTtlMonitor} said: false means TTL indexes would never fire.
 */
export async function ensureExpiryIndex<D extends Document>(
  collection: Collection<D>,
  field: string,
  name: string,
  wanted: 'auto' | ExpiryMode,
  ttlMonitor: boolean | undefined,
): Promise<ExpiryMode> {
  const refuse = (why: string): never => {
    throw new AutomationError('CRM_ERR_CONFIG', `retention mode 'ttl' on ${collection.collectionName}.${field}: ${why}; use mode 'auto' or 'periodic'`);
  };
  const existing = (await existingIndexes(collection)).find((i) => i['name'] === name);
  if (existing) {
    const mode: ExpiryMode = typeof existing['expireAfterSeconds'] === 'number' && ttlMonitor !== false ? 'ttl' : 'periodic';
    if (wanted === 'ttl' && mode === 'periodic') refuse(ttlMonitor === false ? 'the server runs no TTL monitor' : `the existing index ${name} is not a TTL index`);
    return mode;
  }
  if (wanted === 'ttl' && ttlMonitor === false) refuse('the server accepts TTL indexes but runs no TTL monitor (serverStatus has no metrics.ttl)');
  if (wanted !== 'periodic' && ttlMonitor !== false) {
    try {
      await collection.createIndex({ [field]: 1 }, { name, expireAfterSeconds: 0 });
      return 'ttl';
    } catch (error) {
      // A server that refuses TTL options outright gets the plain index in 'auto' mode.
      if (wanted === 'ttl' || !(error instanceof MongoServerError)) throw error;
    }
  }
  await collection.createIndex({ [field]: 1 }, { name });
  return 'periodic';
}
