// One file: the contact policy's collections, their documents and indexes, and the two ports that keep
// entries (policies, suppressions with their change log) are one schema, read next to the writes that rely on it.
import { ObjectId, type Collection, type Db, type Filter, type UpdateFilter } from 'mongodb';
import { AutomationError, VersionConflictError } from '@crm-automation/core';
import type {
  ChannelPolicy,
  ContactPolicy,
  ContactPolicyStore,
  Page,
  StoredContactPolicy,
  Suppression,
  SuppressionChange,
  SuppressionStore,
} from '@crm-automation/core';
import { clampLimit, requireValidDate } from '@crm-automation/core/spi';
import { parseObjectId } from './documents.js';
import { createIndexes, type IndexDefinition } from './indexes.js';
import type { CounterDocument, ThrottleDocument } from './mongo-contact-counter.js';
import { isDuplicateKey } from './write-errors.js';

/**
 * A `contact_policies` document: one per account (`_id` is the account id). The channels are an array
 * of `{ type, policy }` rather than an object keyed by action type, so a type name is never a field
 * name (a dot or a leading `$` in a custom type would be a path there).
 */
export interface ContactPolicyDocument {
  _id: string;
  channels: Array<{ type: string; policy: ChannelPolicy }>;
  version: number;
  updatedAt: Date;
}

/**
 * A `suppressions` document: one per (account, channel, recipient), which the unique index
 * `suppressions_key` holds. `_id` is an ObjectId made at insert: the list's order (newest first) and cursor.
 */
/** A `suppressions` document: the entry as the port has it, under an ObjectId (the list's order and cursor). */
export interface SuppressionDocument extends Suppression {
  _id: ObjectId;
  /** A change written with the entry and not yet copied to `suppression_changes` (see `suppressionOperations`). */
  pending?: SuppressionChangeDocument | undefined;
}

/** A `suppression_changes` document: append-only, `_id` the export's order (oldest first) and cursor. */
export interface SuppressionChangeDocument extends SuppressionChange {
  _id: ObjectId;
}

/**
 * - `suppressions_key` (unique): one entry per (account, channel, recipient); answers `findSuppression`
 *   and is what makes `addSuppression` idempotent across processes.
 * - `suppressions_by_account`, `suppressions_by_channel`: `listSuppressions`, newest first.
 * - `suppression_changes_by_account`, `suppression_changes_by_recipient`: the audit export, oldest first.
 * - `contact_counters_expiry` (TTL): drops a recipient's counters a day after their last bucket ends.
 * - `send_throttles_expiry` (TTL): drops a throttle bucket once it is full again.
 * Policies and counters are read and written by `_id`.
 */
export const SUPPRESSION_INDEXES: readonly IndexDefinition[] = [
  {
    name: 'suppressions_key',
    key: { accountId: 1, channel: 1, recipient: 1 },
    unique: true,
  },
  { name: 'suppressions_by_account', key: { accountId: 1, _id: -1 } },
  {
    name: 'suppressions_by_channel',
    key: { accountId: 1, channel: 1, _id: -1 },
  },
];

export const SUPPRESSION_CHANGE_INDEXES: readonly IndexDefinition[] = [
  { name: 'suppression_changes_by_account', key: { accountId: 1, _id: 1 } },
  {
    name: 'suppression_changes_by_recipient',
    key: { accountId: 1, channel: 1, recipient: 1, _id: 1 },
  },
];

export interface ContactCollections {
  contactPolicies: Collection<ContactPolicyDocument>;
  suppressions: Collection<SuppressionDocument>;
  suppressionChanges: Collection<SuppressionChangeDocument>;
  contactCounters: Collection<CounterDocument>;
  sendThrottles: Collection<ThrottleDocument>;
}

export interface ContactCollectionNames {
  /** Default `contact_policies`. */
  contactPolicies?: string | undefined;
  /** Default `suppressions`. */
  suppressions?: string | undefined;
  /** Default `suppression_changes`. */
  suppressionChanges?: string | undefined;
  /** Default `contact_counters`. */
  contactCounters?: string | undefined;
  /** The send throttle's token buckets. Default `send_throttles`. */
  sendThrottles?: string | undefined;
}

export const CONTACT_COLLECTION_KEYS = ['contactPolicies', 'suppressions', 'suppressionChanges', 'contactCounters', 'sendThrottles'] as const;

export function contactCollections(db: Db, names: ContactCollectionNames | undefined): ContactCollections {
  return {
    contactPolicies: db.collection<ContactPolicyDocument>(names?.contactPolicies ?? 'contact_policies'),
    suppressions: db.collection<SuppressionDocument>(names?.suppressions ?? 'suppressions'),
    suppressionChanges: db.collection<SuppressionChangeDocument>(names?.suppressionChanges ?? 'suppression_changes'),
    contactCounters: db.collection<CounterDocument>(names?.contactCounters ?? 'contact_counters'),
    sendThrottles: db.collection<ThrottleDocument>(names?.sendThrottles ?? 'send_throttles'),
  };
}

/** Creates the indexes of the contact policy collections; the server keeps identical existing ones. */
export async function ensureContactIndexes(collections: ContactCollections): Promise<void> {
  await createIndexes(collections.suppressions, SUPPRESSION_INDEXES);
  await createIndexes(collections.suppressionChanges, SUPPRESSION_CHANGE_INDEXES);
  // A server that runs no TTL monitor keeps the documents (each holds only live buckets after a reserve prunes it).
  await collections.contactCounters.createIndex({ expireAt: 1 }, { name: 'contact_counters_expiry', expireAfterSeconds: 0 });
  // A forgotten throttle bucket is full, so the server may drop one as soon as it is full again.
  await collections.sendThrottles.createIndex({ expireAt: 1 }, { name: 'send_throttles_expiry', expireAfterSeconds: 0 });
}

function toStoredPolicy(doc: ContactPolicyDocument, accountId: string): StoredContactPolicy {
  const channels: ContactPolicy['channels'] = {};
  for (const { type, policy } of doc.channels ?? []) channels[type] = policy;
  return {
    channels,
    accountId,
    version: doc.version,
    updatedAt: doc.updatedAt,
  };
}

function toSuppression(doc: SuppressionDocument): Suppression {
  return {
    accountId: doc.accountId,
    channel: doc.channel,
    recipient: doc.recipient,
    reason: doc.reason,
    source: doc.source,
    ...(typeof doc.detail === 'string' ? { detail: doc.detail } : {}),
    ...(typeof doc.by === 'string' ? { by: doc.by } : {}),
    createdAt: doc.createdAt,
  };
}

function toChange(doc: SuppressionChangeDocument): SuppressionChange {
  return {
    accountId: doc.accountId,
    channel: doc.channel,
    recipient: doc.recipient,
    action: doc.action,
    reason: doc.reason,
    source: doc.source,
    ...(typeof doc.by === 'string' ? { by: doc.by } : {}),
    ...(typeof doc.detail === 'string' ? { detail: doc.detail } : {}),
    at: doc.at,
  };
}

/** `limit` items out of `limit + 1` read, the cursor being the last shown document's `_id`. */
function pageOf<D extends { _id: ObjectId }, T>(docs: D[], limit: number, map: (doc: D) => T): Page<T> {
  const shown = docs.slice(0, limit);
  const items = shown.map(map);
  const last = shown[shown.length - 1];
  return docs.length > limit && last ? { items, nextCursor: last._id.toHexString() } : { items };
}

/** The account's policy in one document; a put is one conditional write (the version compare-and-set). */
export function contactPolicyOperations(collections: ContactCollections, ready: () => Promise<void>): ContactPolicyStore {
  const { contactPolicies: policies } = collections;
  const conflict = async (accountId: string, expected: number): Promise<never> => {
    const current = await policies.findOne({ _id: accountId }, { projection: { version: 1 } });
    throw new VersionConflictError(accountId, expected, current?.version ?? 0, 'Contact policy of account');
  };
  return {
    async getContactPolicy(accountId) {
      await ready();
      const doc = await policies.findOne({ _id: accountId });
      return doc ? toStoredPolicy(doc, accountId) : null;
    },
    async getContactPolicies(accountIds) {
      if (accountIds.length === 0) return [];
      await ready();
      const docs = await policies.find({ _id: { $in: [...accountIds] } }).toArray();
      return docs.map((doc) => toStoredPolicy(doc, doc._id));
    },
    async putContactPolicy(accountId, policy, { now, expectedVersion }) {
      requireValidDate(now, 'now');
      await ready();
      const channels = Object.entries(policy.channels).map(([type, channel]) => ({ type, policy: channel }));
      if (expectedVersion === 0) {
        // "None stored" is the insert itself: the `_id` refuses a second one.
        const doc: ContactPolicyDocument = {
          _id: accountId,
          channels,
          version: 1,
          updatedAt: now,
        };
        try {
          await policies.insertOne(doc);
        } catch (error) {
          if (isDuplicateKey(error)) return conflict(accountId, 0);
          throw error;
        }
        return toStoredPolicy(doc, accountId);
      }
      const update: UpdateFilter<ContactPolicyDocument> = {
        $set: { channels, updatedAt: now },
        $inc: { version: 1 },
      };
      if (expectedVersion !== undefined) {
        // The version is part of the filter: the server compares and writes in one step.
        const doc = await policies.findOneAndUpdate({ _id: accountId, version: expectedVersion }, update, { returnDocument: 'after' });
        return doc ? toStoredPolicy(doc, accountId) : conflict(accountId, expectedVersion);
      }
      for (;;) {
        try {
          const doc = await policies.findOneAndUpdate({ _id: accountId }, update, { upsert: true, returnDocument: 'after' });
          if (doc) return toStoredPolicy(doc, accountId);
        } catch (error) {
          // Two first puts at once: one inserted, the other now finds the document and updates it.
          if (!isDuplicateKey(error)) throw error;
        }
      }
    },
  };
}

/**
 * The suppression list: one document per (account, channel, recipient) under a unique index, and every
 * add and remove appended to the changes collection. The server may run no transaction (a standalone
 * server), so the two writes go through the entry itself: the write that adds an entry, or marks it
 * for removal, carries the change to record (`pending`, with the change's `_id`) in the same document;
 * the change is then inserted under that `_id` (a second insert is a duplicate, ignored) and the mark
 * cleared, or the entry deleted. A process that dies between the writes leaves the change in the
 * entry, where the next add or remove of that recipient, and every audit export of the account,
 * finish it: no effective add or remove goes unrecorded, and none is recorded twice.
 */
export function suppressionOperations(collections: ContactCollections, ready: () => Promise<void>): SuppressionStore {
  const { suppressions, suppressionChanges } = collections;
  /** Writes an entry's pending change, then clears it (an add) or deletes the entry (a removal). */
  const finish = async (doc: Pick<SuppressionDocument, '_id' | 'pending'>): Promise<void> => {
    const pending = doc.pending;
    if (!pending) return;
    try {
      await suppressionChanges.insertOne(pending);
    } catch (error) {
      // Already written: by this process before it died, or by another finishing the same change.
      if (!isDuplicateKey(error)) throw error;
    }
    if (pending.action === 'removed') await suppressions.deleteOne({ _id: doc._id, 'pending._id': pending._id });
    else await suppressions.updateOne({ _id: doc._id, 'pending._id': pending._id }, { $unset: { pending: '' } });
  };
  const changeOf = (key: { accountId: string; channel: string; recipient: string }, change: Omit<SuppressionChange, 'accountId' | 'channel' | 'recipient'>): SuppressionChangeDocument => ({
    _id: new ObjectId(),
    accountId: key.accountId,
    channel: key.channel,
    recipient: key.recipient,
    action: change.action,
    reason: change.reason,
    source: change.source,
    ...(change.by === undefined ? {} : { by: change.by }),
    ...(change.detail === undefined ? {} : { detail: change.detail }),
    at: change.at,
  });
  const addSuppression: SuppressionStore['addSuppression'] = async (entry) => {
    requireValidDate(entry.createdAt, 'createdAt');
    await ready();
    const { accountId, channel, recipient } = entry;
    for (let round = 0; ; round++) {
      const doc: SuppressionDocument = {
        _id: new ObjectId(),
        accountId,
        channel,
        recipient,
        reason: entry.reason,
        source: entry.source,
        ...(entry.detail === undefined ? {} : { detail: entry.detail }),
        ...(entry.by === undefined ? {} : { by: entry.by }),
        createdAt: entry.createdAt,
      };
      doc.pending = changeOf(entry, { action: 'added', reason: doc.reason, source: doc.source, by: doc.by, detail: doc.detail, at: doc.createdAt });
      let created = false;
      try {
        const { _id, accountId: _a, channel: _c, recipient: _r, ...rest } = doc;
        const result = await suppressions.updateOne({ accountId, channel, recipient }, { $setOnInsert: { _id, ...rest } }, { upsert: true });
        created = result.upsertedCount === 1;
      } catch (error) {
        // Two first adds at once: the unique index let one insert; this one is the duplicate.
        if (!isDuplicateKey(error)) throw error;
      }
      if (created) {
        await finish(doc);
        return { created: true, suppression: toSuppression(doc) };
      }
      const existing = await suppressions.findOne({ accountId, channel, recipient });
      // An entry being removed is finished first; then this add adds it again.
      if (existing?.pending?.action === 'removed' && round < 5) {
        await finish(existing);
        continue;
      }
      // Removed between the two requests: this add's entry was refused by one that no longer exists, so add again.
      if (!existing && round < 5) continue;
      if (!existing) throw new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `addSuppression: the ${channel} entry kept changing under this add; try again`, { retryable: true });
      // An earlier add that did not finish recording its change: finish it.
      if (existing.pending) await finish(existing);
      return { created: false, suppression: toSuppression(existing) };
    }
  };
  return {
    async findSuppression(accountId, channel, recipient) {
      await ready();
      // An entry marked for removal still suppresses until its removal is recorded.
      const doc = await suppressions.findOne({ accountId, channel, recipient });
      return doc ? toSuppression(doc) : null;
    },
    async findSuppressions(keys) {
      if (keys.length === 0) return [];
      await ready();
      // One clause a key, each an equality match on the unique index's fields.
      const docs = await suppressions.find({ $or: keys.map(({ accountId, channel, recipient }) => ({ accountId, channel, recipient })) }).toArray();
      return docs.map(toSuppression);
    },
    addSuppression,
    async removeSuppression(accountId, channel, recipient, change) {
      requireValidDate(change.at, 'at');
      await ready();
      const key = { accountId, channel, recipient };
      for (let round = 0; round < 5; round++) {
        const pending = changeOf(key, { action: 'removed', reason: change.reason, source: change.source, by: change.by, detail: change.detail, at: change.at });
        // Only the remover whose mark was written records the change.
        const marked = await suppressions.findOneAndUpdate({ ...key, pending: { $exists: false } }, { $set: { pending } }, { projection: { _id: 1 } });
        if (marked) {
          await finish({ _id: marked._id, pending });
          return true;
        }
        const existing = await suppressions.findOne(key);
        if (!existing) return false;
        // Another change of this entry is under way or was left unfinished: finish it, then decide again.
        await finish(existing);
      }
      throw new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `removeSuppression: the ${channel} entry kept changing under this removal; try again`, { retryable: true });
    },
    async listSuppressions(accountId, filter): Promise<Page<Suppression>> {
      const limit = clampLimit(filter.limit);
      const query: Filter<SuppressionDocument> = { accountId };
      if (filter.channel !== undefined) query.channel = filter.channel;
      // A cursor this store never issued reads from the start, as the memory store does.
      const before = filter.cursor === undefined ? null : parseObjectId(filter.cursor);
      if (before) query._id = { $lt: before };
      await ready();
      const docs = await suppressions
        .find(query)
        .sort({ _id: -1 })
        .limit(limit + 1)
        .toArray();
      return pageOf(docs, limit, toSuppression);
    },
    async suppressionChanges(accountId, filter): Promise<Page<SuppressionChange>> {
      const limit = clampLimit(filter.limit);
      const query: Filter<SuppressionChangeDocument> = { accountId };
      if (filter.channel !== undefined) query.channel = filter.channel;
      if (filter.recipient !== undefined) query.recipient = filter.recipient;
      const after = filter.cursor === undefined ? null : parseObjectId(filter.cursor);
      if (after) query._id = { $gt: after };
      await ready();
      // Changes a process left in their entries (it died between the two writes) are written first.
      const unfinished = await suppressions.find({ accountId, pending: { $exists: true } }, { projection: { _id: 1, pending: 1 } }).toArray();
      for (const doc of unfinished) await finish(doc);
      const docs = await suppressionChanges
        .find(query)
        .sort({ _id: 1 })
        .limit(limit + 1)
        .toArray();
      return pageOf(docs, limit, toChange);
    },
  };
}
