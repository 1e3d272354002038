import { MongoServerError, type Collection, type Document, type IndexSpecification } from 'mongodb';
import { AutomationError } from '@crm-automation/core';

/** How expired documents are removed: by the server (TTL index) or by the adapter's periodic delete. */
export type ExpiryMode = 'ttl' | 'periodic';

interface IndexDefinition {
  name: string;
  key: IndexSpecification;
  unique?: boolean;
}

/**
 * The indexes every query of the store is answered from (names appear in `explain()` output):
 * - `rules_by_event`: `findRulesForEvent` (account + event name + enabled: equality on all three).
 * - `rules_by_account`: `listRules` pages in `_id` order within one account.
 * - `triggers_due`: the claim query, `status ∈ {pending, retrying}, evaluateAt <= now` in due order.
 * - `triggers_lease_expiry`: claims of expired leases, `status = processing, leaseExpiresAt <= now`.
 * - `triggers_intake_dedupe` (unique): a redelivered event cannot create a second trigger per rule.
 * - `triggers_by_account`, `triggers_by_rule`, `triggers_by_status`: `listTriggers`, newest first.
 * - `triggers_purge`: `purgeTriggers` by status and age.
 */
export const RULE_INDEXES: readonly IndexDefinition[] = [
  { name: 'rules_by_event', key: { accountId: 1, 'trigger.eventName': 1, enabled: 1 } },
  { name: 'rules_by_account', key: { accountId: 1, _id: 1 } },
];

export const TRIGGER_INDEXES: readonly IndexDefinition[] = [
  { name: 'triggers_due', key: { status: 1, evaluateAt: 1 } },
  { name: 'triggers_lease_expiry', key: { status: 1, leaseExpiresAt: 1 } },
  { name: 'triggers_intake_dedupe', key: { accountId: 1, 'triggeringEvent.id': 1, ruleId: 1 }, unique: true },
  { name: 'triggers_by_account', key: { accountId: 1, _id: -1 } },
  { name: 'triggers_by_rule', key: { accountId: 1, ruleId: 1, _id: -1 } },
  { name: 'triggers_by_status', key: { accountId: 1, status: 1, _id: -1 } },
  { name: 'triggers_purge', key: { status: 1, updatedAt: 1 } },
];

/**
 * Creates the indexes not there yet, one command each: FerretDB v1.24 drops the connection (a
 * server-side panic) on a multi-index `createIndexes` whose indexes all exist already.
 */
export async function createIndexes<D extends Document>(collection: Collection<D>, definitions: readonly IndexDefinition[]): Promise<void> {
  const existing = new Set((await existingIndexes(collection)).map((i) => i['name'] as string));
  for (const d of definitions) {
    if (existing.has(d.name)) continue;
    await collection.createIndex(d.key, { name: d.name, ...(d.unique ? { unique: true } : {}) });
  }
}

/** The collection's indexes; none when the collection does not exist yet. */
async function existingIndexes<D extends Document>(collection: Collection<D>): Promise<Document[]> {
  try {
    return await collection.listIndexes().toArray();
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 26) return [];
    throw error;
  }
}

/** FerretDB answers `NotImplemented` (238) for `expireAfterSeconds`; other servers may word it differently. */
function rejectsTtl(error: unknown): boolean {
  return error instanceof MongoServerError && (error.code === 238 || /expireAfterSeconds|TTL/i.test(error.message));
}

/**
 * Creates the single-field index that expiry runs on: a TTL index where the server accepts one,
 * else a plain index the periodic delete uses. An index that already exists under `name` is kept as
 * it is (that is what makes this idempotent); its kind decides the mode.
 */
export async function ensureExpiryIndex<D extends Document>(
  collection: Collection<D>,
  field: string,
  name: string,
  expireAfterSeconds: number,
  wanted: 'auto' | ExpiryMode,
): Promise<ExpiryMode> {
  const existing = (await existingIndexes(collection)).find((i) => i['name'] === name);
  if (existing) return typeof existing['expireAfterSeconds'] === 'number' ? 'ttl' : 'periodic';
  if (wanted !== 'periodic') {
    try {
      await collection.createIndex({ [field]: 1 }, { name, expireAfterSeconds });
      return 'ttl';
    } catch (error) {
      if (!rejectsTtl(error)) throw error;
      if (wanted === 'ttl') {
        throw new AutomationError('CRM_ERR_CONFIG', `the server rejected a TTL index on ${collection.collectionName}.${field}; use retention mode 'auto' or 'periodic'`, { cause: error });
      }
    }
  }
  await collection.createIndex({ [field]: 1 }, { name });
  return 'periodic';
}
