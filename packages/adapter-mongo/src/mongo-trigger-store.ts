// One file: the lease-guarded outcomes, transitions, listing and the intake insert share the trigger
// document's fields and guards; split, their filters would be read apart (claims, keyed decisions and
// cancels live in claim-due-triggers.ts, keyed-insert.ts, pending-slot.ts and cancel-triggers.ts).
import type { Collection, Db, Filter, UpdateFilter } from 'mongodb';
import {
  AutomationError,
  silentLogger,
  type AttemptResult,
  type DeliveryLedger,
  type InsertedTrigger,
  type Logger,
  type NewTrigger,
  type Page,
  type StoreCapabilities,
  type TransitionRequest,
  type TransitionResult,
  type Trigger,
  type TriggerFilter,
  type TriggerStatus,
  type TriggerStore,
} from '@crm-automation/core';
import { checkOptions, clampLimit, optionKeys, requireValidDate, requireValidNewTriggers } from '@crm-automation/core/spi';
import { cancelledInstead, cancelTriggers } from './cancel-triggers.js';
import { claimDueTriggers } from './claim-due-triggers.js';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import { page, parseObjectId, toTrigger, type DeliveryDocument, type TriggerDocument } from './documents.js';
import { createIndexes, ensureExpiryIndex, TRIGGER_INDEXES, type ExpiryMode } from './indexes.js';
import { ledgerContext, ledgerOperations, type LedgerContext } from './mongo-delivery-ledger.js';
import { requireSlotIndexes, SLOT_FIELDS } from './pending-slot.js';
import { prepareOnce } from './prepare-once.js';
import { expireAtFor, resolveRetention, retentionControls, RETENTION_OPTION_KEYS, type MongoRetentionControls, type ResolvedRetention, type RetentionPolicy } from './retention.js';
import { serverRunsTtlMonitor } from './ttl-monitor.js';
import { duplicateKeyIndexes } from './write-errors.js';
import { newTriggerDocument, readHolders, redelivered, settleKeyedTriggers } from './keyed-insert.js';

export type { MongoRetentionControls } from './retention.js';
export { RETENTION_OPTION_KEYS } from './retention.js';

export interface MongoTriggerStoreOptions extends MongoConnectionOptions {
  /** Default `{ triggers: 'pending_triggers', deliveries: 'deliveries' }`. */
  collections?: { triggers?: string | undefined; deliveries?: string | undefined } | undefined;
  /** Purge finished triggers (and deliveries, by the same ages) by age; off by default (everything is kept). */
  retention?: RetentionPolicy | false | undefined;
  /**
   * Run `ensureIndexes()` before the first operation. Default true; set false when indexes are
   * managed by migrations (the intake dedupe depends on the unique index, so do create it).
   */
  autoIndex?: boolean | undefined;
  /** Where periodic retention reports failures. */
  logger?: Logger | undefined;
}

/** What `ensureIndexes()` found and did. */
export interface MongoIndexReport {
  /**
   * Who deletes expired triggers and deliveries: the server (TTL indexes) or `purgeExpired()` /
   * `startRetention()`; `periodic` when either collection needs the periodic delete.
   */
  retention: ExpiryMode;
}

/** Triggers and their delivery ledger in MongoDB: the core ports plus index, retention and lifecycle controls. */
export interface MongoTriggerStore extends TriggerStore, Required<DeliveryLedger>, MongoRetentionControls {
  /** Always present here: the store cancels by event (`capabilities.cancelByEvent`). */
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
  readonly db: Db;
  readonly collections: { readonly triggers: Collection<TriggerDocument>; readonly deliveries: Collection<DeliveryDocument> };
  /** Creates every index the trigger store relies on; safe to call any number of times. */
  ensureIndexes(): Promise<MongoIndexReport>;
  /** Stops retention timers and closes the client if the store opened it. */
  close(): Promise<void>;
}

const intakeKey = (accountId: string, eventId: string, ruleId: string) => `${accountId}\u0000${eventId}\u0000${ruleId}`;
const LEASE_FIELDS = { leaseToken: '', leaseExpiresAt: '', leaseOwner: '' } as const;
/** A user's cancel frees the pending slot; a manual retry to pending never takes it (it is no intake). */
const TRANSITION_UNSET = { ...LEASE_FIELDS, ...SLOT_FIELDS } as const;
const WAITING: readonly TriggerStatus[] = ['pending', 'retrying'];

export interface TriggerContext {
  db: Db;
  triggers: Collection<TriggerDocument>;
  retention: ResolvedRetention | undefined;
  autoIndex: boolean;
  logger: Logger;
}

type TriggerOperations = Omit<TriggerStore, 'capabilities'> & {
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
  ensureIndexes(): Promise<ExpiryMode>;
  purgeExpired(now: Date): Promise<number>;
};

/** The trigger store on one collection, without the connection's lifecycle (the caller owns that). */
export function triggerOperations(ctx: TriggerContext): TriggerOperations {
  const { triggers, retention } = ctx;

  const ensureIndexes = async (): Promise<ExpiryMode> => {
    await createIndexes(triggers, TRIGGER_INDEXES);
    const ttlMonitor = await serverRunsTtlMonitor(ctx.db);
    return ensureExpiryIndex(triggers, 'expireAt', 'triggers_retention', retention?.mode ?? 'auto', ttlMonitor);
  };
  const prepared = prepareOnce(ensureIndexes, ctx.autoIndex);
  const ready = prepared.ready;
  // With indexes left to migrations, checked once before the first keyed-concurrency insert.
  const slotCheck = prepareOnce(() => requireSlotIndexes(triggers), !ctx.autoIndex);
  const slotIndexes = slotCheck.ready;

  /** The triggers that already hold the intake keys of `inputs` (after a duplicate-key error). */
  const existingTriggers = async (inputs: readonly NewTrigger[]) => {
    const byEvent = new Map<string, { accountId: string; eventId: string; ruleIds: Set<string> }>();
    for (const t of inputs) {
      const key = `${t.accountId}\u0000${t.triggeringEvent.id}`;
      const group = byEvent.get(key) ?? { accountId: t.accountId, eventId: t.triggeringEvent.id, ruleIds: new Set<string>() };
      group.ruleIds.add(t.ruleId);
      byEvent.set(key, group);
    }
    // One rule: plain equality on the unique index's keys, which every server answers from the index.
    const clauses = [...byEvent.values()].map((g): Filter<TriggerDocument> => {
      const [only, ...more] = g.ruleIds;
      return { accountId: g.accountId, 'triggeringEvent.id': g.eventId, ruleId: only !== undefined && more.length === 0 ? only : { $in: [...g.ruleIds] } };
    });
    const docs = await triggers.find(clauses.length === 1 ? (clauses[0] as Filter<TriggerDocument>) : { $or: clauses }).toArray();
    return new Map(docs.map((d) => [intakeKey(d.accountId, d.triggeringEvent.id, d.ruleId), d]));
  };

  const ops: TriggerOperations = {
    async ensureIndexes() {
      const result = await ensureIndexes();
      prepared.markReady();
      slotCheck.markReady();
      return result;
    },

    async insertTriggers(batch: readonly NewTrigger[], now): Promise<InsertedTrigger[]> {
      // All or nothing: a bad due time refuses the batch before any trigger is written.
      requireValidNewTriggers(batch, now);
      if (batch.length === 0) return [];
      await ready();
      const docs = batch.map((input) => newTriggerDocument(input, now, retention));
      if (docs.some((d) => d.pendingSlot !== undefined)) await slotIndexes();
      let duplicates = new Set<number>();
      try {
        await triggers.insertMany(docs, { ordered: false });
      } catch (error) {
        const indexes = duplicateKeyIndexes(error);
        if (!indexes) throw error;
        duplicates = indexes;
      }
      // The redelivery check and the read of the refused keyed triggers' slot holders, side by side.
      const [existing, holders] =
        duplicates.size > 0
          ? await Promise.all([existingTriggers(batch.filter((_, i) => duplicates.has(i))), readHolders(triggers, docs.filter((_, i) => duplicates.has(i)))])
          : [new Map<string, TriggerDocument>(), new Map<string, TriggerDocument | null>()];
      const results: (InsertedTrigger | undefined)[] = docs.map((doc, i) => {
        // Keyed triggers say what the insert did; unkeyed ones answer exactly as before issue 16.
        const keyed = doc.entityKey !== undefined;
        if (!duplicates.has(i)) return keyed ? { trigger: toTrigger(doc), created: true, outcome: 'created' } : { trigger: toTrigger(doc), created: true };
        const found = existing.get(intakeKey(doc.accountId, doc.triggeringEvent.id, doc.ruleId));
        if (found) return keyed ? redelivered(found) : { trigger: toTrigger(found), created: false };
        // Refused by the pending slot, not as a redelivery: decided below, one trigger at a time per slot.
        if (doc.pendingSlot !== undefined) return undefined;
        throw new AutomationError('CRM_ERR_TRIGGER_NOT_FOUND', `trigger for event ${doc.triggeringEvent.id} was reported as existing but is gone; retry the intake`, { retryable: true });
      });
      await settleKeyedTriggers({ triggers, retention }, batch, docs, results, now, holders);
      return results.map((r, i) => {
        if (!r) throw new AutomationError('CRM_ERR_TRIGGER_STATE', `trigger ${i} of the batch was not decided`, { retryable: true });
        return r;
      });
    },

    async getTrigger(accountId, id) {
      const _id = parseObjectId(id);
      if (!_id) return null;
      await ready();
      const doc = await triggers.findOne({ _id, accountId });
      return doc ? toTrigger(doc) : null;
    },

    async listTriggers(accountId, filter: TriggerFilter): Promise<Page<Trigger>> {
      const limit = clampLimit(filter.limit);
      const query: Filter<TriggerDocument> = { accountId };
      if (filter.status !== undefined) query.status = { $in: Array.isArray(filter.status) ? filter.status : [filter.status] };
      if (filter.ruleId !== undefined) query.ruleId = filter.ruleId;
      if (filter.entityKey !== undefined) query.entityKey = filter.entityKey;
      if (filter.from || filter.to) query.evaluateAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
      if (filter.cursor !== undefined) {
        const before = parseObjectId(filter.cursor);
        if (!before) return { items: [] };
        query._id = { $lt: before };
      }
      await ready();
      const docs = await triggers.find(query).sort({ _id: -1 }).limit(limit + 1).toArray();
      return page(docs.map(toTrigger), limit);
    },

    async claimDueTriggers(request) {
      await ready();
      return claimDueTriggers(triggers, request);
    },

    async finishAttempt(id, leaseToken, result: AttemptResult) {
      requireValidDate(result.now, 'now');
      if (result.status === 'retrying') requireValidDate(result.evaluateAt ?? result.now, 'evaluateAt');
      const _id = parseObjectId(id);
      if (!_id || typeof leaseToken !== 'string') return false;
      await ready();
      const write = async (outcome: AttemptResult, guard: Filter<TriggerDocument>) => {
        const set: Partial<TriggerDocument> = { status: outcome.status, updatedAt: outcome.now };
        if (outcome.status === 'retrying') set.evaluateAt = outcome.evaluateAt ?? outcome.now;
        const expireAt = expireAtFor(retention, outcome.status, outcome.now);
        if (expireAt) set.expireAt = expireAt;
        const update: UpdateFilter<TriggerDocument> = { $set: set, $unset: LEASE_FIELDS, $push: { executionHistory: outcome.history } };
        if (outcome.sentActions.length > 0) update.$addToSet = { sentActions: { $each: outcome.sentActions } };
        // The lease token is the guard: a worker whose lease was taken over matches nothing.
        return (await triggers.findOneAndUpdate({ _id, status: 'processing', leaseToken, ...guard }, update, { projection: { _id: 1 } })) !== null;
      };
      if (result.status !== 'retrying') return write(result, {});
      // A retry of a trigger whose cancel was requested while it ran is written as the cancel.
      if (await write(result, { cancelRequested: { $exists: false } })) return true;
      const held = await triggers.findOne({ _id, status: 'processing', leaseToken }, { projection: { cancelRequested: 1 } });
      return held?.cancelRequested ? write(cancelledInstead(result, held.cancelRequested), {}) : false;
    },

    async cancelTriggers(request) {
      await ready();
      return cancelTriggers(triggers, retention, request);
    },

    async transitionTrigger(accountId, id, request: TransitionRequest): Promise<TransitionResult> {
      requireValidDate(request.now, 'now');
      if (request.evaluateAt !== undefined) requireValidDate(request.evaluateAt, 'evaluateAt');
      const _id = parseObjectId(id);
      if (!_id) return { ok: false, reason: 'not-found' };
      await ready();
      const set: Partial<TriggerDocument> = { status: request.to, updatedAt: request.now };
      if (request.evaluateAt) set.evaluateAt = request.evaluateAt;
      const expireAt = expireAtFor(retention, request.to, request.now);
      if (expireAt) set.expireAt = expireAt;
      const update: UpdateFilter<TriggerDocument> = { $set: set, $unset: expireAt ? TRANSITION_UNSET : { ...TRANSITION_UNSET, expireAt: '' }, $push: { executionHistory: request.history } };
      // The status may change between a refused update and the re-read; decide on a stable answer.
      for (let i = 0; i < 3; i++) {
        const doc = await triggers.findOneAndUpdate({ _id, accountId, status: { $in: [...request.from] } }, update, { returnDocument: 'after' });
        if (doc) return { ok: true, trigger: toTrigger(doc) };
        const current = await triggers.findOne({ _id, accountId }, { projection: { status: 1 } });
        if (!current) return { ok: false, reason: 'not-found' };
        if (!request.from.includes(current.status)) return { ok: false, reason: 'conflict', current: current.status };
      }
      const current = await triggers.findOne({ _id, accountId }, { projection: { status: 1 } });
      return current ? { ok: false, reason: 'conflict', current: current.status } : { ok: false, reason: 'not-found' };
    },

    async nextDueAt() {
      await ready();
      const [due, lease] = await Promise.all([
        triggers.find({ status: { $in: [...WAITING] } }, { projection: { evaluateAt: 1 } }).sort({ evaluateAt: 1 }).limit(1).next(),
        triggers.find({ status: 'processing' }, { projection: { leaseExpiresAt: 1 } }).sort({ leaseExpiresAt: 1 }).limit(1).next(),
      ]);
      const times = [due?.evaluateAt, lease?.leaseExpiresAt].filter((t): t is Date => t instanceof Date).map((t) => t.getTime());
      return times.length > 0 ? new Date(Math.min(...times)) : null;
    },

    async purgeTriggers({ statuses, olderThan }) {
      requireValidDate(olderThan, 'olderThan');
      if (statuses.length === 0) return 0;
      await ready();
      const result = await triggers.deleteMany({ status: { $in: [...statuses] }, updatedAt: { $lt: olderThan } });
      return result.deletedCount;
    },

    async purgeExpired(now) {
      await ready();
      return (await triggers.deleteMany({ expireAt: { $lte: now } })).deletedCount;
    },
  };
  return ops;
}

/**
 * The trigger store with its delivery ledger next to it, on one database, without the connection's
 * lifecycle: one `ensureIndexes()` and one retention for both collections (the same policy and mode).
 */
export function triggerStoreOperations(triggerCtx: TriggerContext, ledgerCtx: LedgerContext): Omit<MongoTriggerStore, 'db' | 'collections' | 'close'> & { stopRetention(): Promise<void> } {
  const { ensureIndexes: ensureTriggerIndexes, purgeExpired: purgeTriggers, ...trigger } = triggerOperations(triggerCtx);
  const { ensureIndexes: ensureLedgerIndexes, purgeExpired: purgeDeliveries, ...ledger } = ledgerOperations(ledgerCtx);
  const purge = async (now: Date) => (await Promise.all([purgeTriggers(now), purgeDeliveries(now)])).reduce((a, b) => a + b, 0);
  const retention = retentionControls(purge, triggerCtx.retention, triggerCtx.logger, 'finished triggers and deliveries');
  let report: MongoIndexReport | undefined;
  const capabilities: StoreCapabilities = {
    name: 'mongodb',
    keyedConcurrency: true,
    cancelByEvent: true,
    get ttlRetention() {
      return triggerCtx.retention !== undefined && report?.retention === 'ttl';
    },
  };
  return {
    capabilities,
    ...trigger,
    ...ledger,
    ...retention,
    async ensureIndexes() {
      const modes = [await ensureTriggerIndexes(), await ensureLedgerIndexes()];
      report = { retention: modes.every((m) => m === 'ttl') ? 'ttl' : 'periodic' };
      return report;
    },
  };
}

export const TRIGGER_STORE_OPTION_KEYS = optionKeys<MongoTriggerStoreOptions>()(...CONNECTION_OPTION_KEYS, 'collections', 'retention', 'autoIndex', 'logger');

export function triggerContext(db: Db, collection: string, options: Pick<MongoTriggerStoreOptions, 'retention' | 'autoIndex' | 'logger'>): TriggerContext {
  return {
    db,
    triggers: db.collection<TriggerDocument>(collection),
    retention: resolveRetention(options.retention),
    autoIndex: options.autoIndex ?? true,
    logger: options.logger ?? silentLogger,
  };
}

/**
 * Pending triggers in MongoDB, for a deployment that keeps them apart from rules (a Trigger Service
 * with its own database), with the delivery ledger in `deliveries` next to them (the engine uses it
 * because the store has the ledger's methods). Rule ids are stored as the opaque strings they are;
 * trigger and delivery ids are the 24-hex form of ObjectIds. Claims take each trigger with one
 * conditional single-document update, outcomes are guarded by the lease token (see the README).
 *
 * @example
 * const triggerStore = createMongoTriggerStore({ uri: process.env.MONGODB_URI, dbName: 'triggers' });
 * const engine = createAutomationEngine({ ruleSource, triggerStore, channels });
 */
export function createMongoTriggerStore(options: MongoTriggerStoreOptions): MongoTriggerStore {
  checkOptions('createMongoTriggerStore', options, TRIGGER_STORE_OPTION_KEYS, true);
  checkOptions('createMongoTriggerStore: collections', options.collections, optionKeys<NonNullable<MongoTriggerStoreOptions['collections']>>()('triggers', 'deliveries'));
  if (options.retention) checkOptions('createMongoTriggerStore: retention', options.retention, RETENTION_OPTION_KEYS);
  const connection = openConnection(options, 'createMongoTriggerStore');
  const ctx = triggerContext(connection.db, options.collections?.triggers ?? 'pending_triggers', options);
  const ledgerCtx = ledgerContext(connection.db, options.collections?.deliveries ?? 'deliveries', options);
  const { stopRetention, ...ops } = triggerStoreOperations(ctx, ledgerCtx);
  return {
    ...ops,
    db: connection.db,
    collections: { triggers: ctx.triggers, deliveries: ledgerCtx.deliveries },
    async close() {
      await stopRetention();
      await connection.close();
    },
  };
}
