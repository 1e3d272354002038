// One file: every ledger write is a state-guarded filter built from core's deliveryRank, and the intent
// clean-up after a lost reply interacts with the reads below it; kept together so the guards are read as one.
import { ObjectId, type Collection, type Db, type Filter, type UpdateFilter } from 'mongodb';
import { AutomationError, DELIVERY_STATES, silentLogger, type Delivery, type DeliveryEvent, type DeliveryLedger, type DeliveryOutcome, type DeliveryReceipt, type DeliveryState, type Logger, type NewDelivery, type Page, type ReceiptResult } from '@crm-automation/core';
import { checkOptions, clampLimit, deliveryRank, optionKeys, requireValidDate } from '@crm-automation/core/spi';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import { page, parseObjectId, toDelivery, type DeliveryDocument } from './documents.js';
import { createIndexes, DELIVERY_INDEXES, ensureExpiryIndex, type ExpiryMode } from './indexes.js';
import { prepareOnce } from './prepare-once.js';
import { deliveryExpireAt, resolveRetention, retentionControls, RETENTION_OPTION_KEYS, type MongoRetentionControls, type ResolvedRetention, type RetentionPolicy } from './retention.js';
import { serverRunsTtlMonitor } from './ttl-monitor.js';
import { isTransientDriverError, markTransient } from './write-errors.js';

export interface MongoDeliveryLedgerOptions extends MongoConnectionOptions {
  /** Default `{ deliveries: 'deliveries' }`. */
  collections?: { deliveries?: string | undefined } | undefined;
  /** Expire deliveries by the trigger retention policy's ages (see the README); off by default (everything is kept). */
  retention?: RetentionPolicy | false | undefined;
  /** Run `ensureIndexes()` before the first operation. Default true; set false when migrations own the indexes. */
  autoIndex?: boolean | undefined;
  /** Where periodic retention and a failed clean-up of a refused intent batch are reported. */
  logger?: Logger | undefined;
}

/** A delivery ledger of its own in MongoDB: the core port plus index, retention and lifecycle controls. */
export interface MongoDeliveryLedger extends Required<DeliveryLedger>, MongoRetentionControls {
  readonly db: Db;
  readonly collections: { readonly deliveries: Collection<DeliveryDocument> };
  /** Creates every index the ledger relies on; safe to call any number of times. */
  ensureIndexes(): Promise<{ retention: ExpiryMode }>;
  /** Stops retention timers and closes the client if the ledger opened it. */
  close(): Promise<void>;
}

export interface LedgerContext {
  db: Db;
  deliveries: Collection<DeliveryDocument>;
  retention: ResolvedRetention | undefined;
  autoIndex: boolean;
  logger: Logger;
}

export function ledgerContext(db: Db, collection: string, options: Pick<MongoDeliveryLedgerOptions, 'retention' | 'autoIndex' | 'logger'>): LedgerContext {
  return {
    db,
    deliveries: db.collection<DeliveryDocument>(collection),
    retention: resolveRetention(options.retention),
    autoIndex: options.autoIndex ?? true,
    logger: options.logger ?? silentLogger,
  };
}

/** States a receipt may not move: the message never reached the provider, or an operator gave it up. */
const RECEIPT_PROOF: ReadonlySet<DeliveryState> = new Set(['refused', 'abandoned']);
const OUTCOME_STATES: ReadonlySet<string> = new Set(['accepted', 'refused', 'unknown']);
const RECEIPT_STATES: ReadonlySet<string> = new Set(['accepted', 'delivered', 'undelivered', 'bounced', 'failed']);
const KNOWN_STATES: ReadonlySet<string> = new Set(DELIVERY_STATES);

/** The states a receipt moving to `to` may start from: lower rank, and not refused or abandoned. */
const receiptFrom = (to: DeliveryState) => DELIVERY_STATES.filter((s) => deliveryRank(s) < deliveryRank(to) && !RECEIPT_PROOF.has(s));

/** The states an outcome from `source` moving to `to` may start from (never backwards by rank). */
function outcomeFrom(source: DeliveryEvent['source'], to: DeliveryState): DeliveryState[] {
  const from: readonly DeliveryState[] = source === 'engine' ? ['intent'] : ['intent', 'unknown'];
  return from.filter((s) => deliveryRank(s) <= deliveryRank(to));
}

const event = (at: Date, state: DeliveryState, source: DeliveryEvent['source'], detail: string | undefined): DeliveryEvent => ({ at, state, source, ...(detail === undefined ? {} : { detail }) });

/**
 * The update that moves a delivery to `state` at `at`, with its event and the retention stamp of the
 * new state (removed when the new state is kept: a receipt can move a send to a state kept longer).
 */
function moveTo(retention: ResolvedRetention | undefined, state: DeliveryState, at: Date, source: DeliveryEvent['source'], detail: string | undefined, set: Partial<DeliveryDocument> = {}): UpdateFilter<DeliveryDocument> {
  const expireAt = deliveryExpireAt(retention, state, at);
  return {
    $set: { ...set, state, updatedAt: at, ...(expireAt ? { expireAt } : {}) },
    ...(expireAt ? {} : { $unset: { expireAt: '' } }),
    $push: { events: event(at, state, source, detail) },
  };
}

const optionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string';

/** The ledger on one collection, without the connection's lifecycle (the caller owns that). */
export function ledgerOperations(ctx: LedgerContext): Required<DeliveryLedger> & { ensureIndexes(): Promise<ExpiryMode>; purgeExpired(now: Date): Promise<number> } {
  const { deliveries, retention, logger } = ctx;

  const ensureIndexes = async (): Promise<ExpiryMode> => {
    await createIndexes(deliveries, DELIVERY_INDEXES);
    const ttlMonitor = await serverRunsTtlMonitor(ctx.db);
    return ensureExpiryIndex(deliveries, 'expireAt', 'deliveries_retention', retention?.mode ?? 'auto', ttlMonitor);
  };
  const prepared = prepareOnce(ensureIndexes, ctx.autoIndex);
  const ready = prepared.ready;

  /*
   * Intents of batches whose write failed, not yet known to be removed (hex ids). The caller sent
   * nothing for them, but a write whose reply was lost may still have landed: until their removal
   * succeeds they are left out of what dispatch and reconciliation read here, so that this process
   * neither holds a send that never happened as `unknown` nor marks it so. Another process that reads
   * one first cannot tell it from a send in flight and holds it: never sent twice, at worst held.
   */
  const orphans = new Set<string>();
  const removeOrphans = async (): Promise<void> => {
    if (orphans.size === 0) return;
    const ids = [...orphans];
    try {
      await deliveries.deleteMany({ _id: { $in: ids.map((id) => ObjectId.createFromHexString(id)) }, state: 'intent' });
      for (const id of ids) orphans.delete(id);
    } catch (error) {
      logger.warn({ error: error instanceof Error ? error.message : String(error), intents: orphans.size }, 'could not remove the intents of a failed batch; will try again before the next read');
    }
  };
  const withoutOrphans = (docs: DeliveryDocument[]) => (orphans.size === 0 ? docs : docs.filter((d) => !orphans.has(d._id.toHexString())));

  const applyOutcome = async (outcome: DeliveryOutcome): Promise<boolean> => {
    const _id = parseObjectId(outcome.id);
    const source = outcome.source ?? 'engine';
    const from = outcomeFrom(source, outcome.state);
    if (!_id || from.length === 0) return false;
    const set: Partial<DeliveryDocument> = {};
    if (outcome.provider !== undefined) set.provider = outcome.provider;
    if (outcome.providerId !== undefined) set.providerId = outcome.providerId;
    if (outcome.error !== undefined) set.error = outcome.error;
    // The state guard is the compare-and-set: of two writers racing on one intent, one matches.
    const result = await deliveries.updateOne({ _id, state: { $in: from } }, moveTo(retention, outcome.state, outcome.at, source, outcome.error?.code, set));
    return result.matchedCount === 1;
  };

  /** The delivery a receipt is about: by our id when it carries one we could have issued, else by the provider's. */
  const receiptTarget = async (receipt: DeliveryReceipt): Promise<DeliveryDocument | null> => {
    const _id = receipt.deliveryId === undefined ? null : parseObjectId(receipt.deliveryId);
    if (_id) return deliveries.findOne({ _id });
    if (receipt.providerId === undefined) return null;
    // Two sends can share a provider id (a resend the provider deduplicated): the latest is the one it reports on.
    return deliveries.find({ provider: receipt.provider, providerId: receipt.providerId }).sort({ _id: -1 }).limit(1).next();
  };

  const ops: ReturnType<typeof ledgerOperations> = {
    async ensureIndexes() {
      const mode = await ensureIndexes();
      prepared.markReady();
      return mode;
    },

    async recordIntents(intents: readonly NewDelivery[]): Promise<Delivery[]> {
      // All or nothing: one bad date refuses the batch before anything is written.
      intents.forEach((intent, n) => requireValidDate(intent.at, `intents[${n}].at`));
      if (intents.length === 0) return [];
      await ready();
      const docs: DeliveryDocument[] = intents.map((intent) => ({
        _id: new ObjectId(),
        accountId: intent.accountId,
        triggerId: intent.triggerId,
        ruleId: intent.ruleId,
        actionIndex: intent.actionIndex,
        attempt: intent.attempt,
        type: intent.type,
        provider: intent.provider,
        idempotencyKey: intent.idempotencyKey,
        ...(intent.recipient === undefined ? {} : { recipient: intent.recipient }),
        state: 'intent',
        dedupes: intent.dedupes,
        events: [event(intent.at, 'intent', 'engine', undefined)],
        createdAt: intent.at,
        updatedAt: intent.at,
      }));
      try {
        await deliveries.insertMany(docs, { ordered: true });
      } catch (error) {
        // The caller sends nothing for a batch that failed, so whatever part of it was written is removed:
        // at once after the server refused it, in the background after a lost connection (the removal
        // would wait for the server as long as the write did, and reads retry it).
        for (const d of docs) orphans.add(d._id.toHexString());
        if (!isTransientDriverError(error)) await removeOrphans();
        else void removeOrphans();
        // Nothing was sent, so a lost connection is a reason to try again later, not a failed action.
        throw markTransient(error);
      }
      return docs.map(toDelivery);
    },

    async recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<boolean[]> {
      outcomes.forEach((o, n) => {
        requireValidDate(o.at, `outcomes[${n}].at`);
        if (!OUTCOME_STATES.has(o.state)) throw new AutomationError('CRM_ERR_CONFIG', `outcomes[${n}].state must be accepted, refused or unknown, got ${String(o.state)}`);
      });
      if (outcomes.length === 0) return [];
      await ready();
      // Concurrent per document; outcomes for one delivery in the order given (the first that applies wins).
      const chains = new Map<string, Promise<boolean>>();
      return Promise.all(
        outcomes.map((o) => {
          const key = typeof o.id === 'string' ? o.id : '';
          const applied = (chains.get(key) ?? Promise.resolve(false)).then(() => applyOutcome(o));
          chains.set(key, applied.catch(() => false));
          return applied;
        }),
      );
    },

    async applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult> {
      requireValidDate(receipt.at, 'at');
      if (!RECEIPT_STATES.has(receipt.state)) throw new AutomationError('CRM_ERR_CONFIG', `receipt state must be accepted, delivered, undelivered, bounced or failed, got ${String(receipt.state)}`);
      // Receipt fields come from a provider's request: anything but a string (an operator object) names nothing.
      if (typeof receipt.provider !== 'string' || !optionalString(receipt.providerId) || !optionalString(receipt.deliveryId)) return { applied: false, reason: 'unknown-id' };
      await ready();
      const from = receiptFrom(receipt.state);
      // A concurrent writer may move the delivery between the read and the guarded update; read again and decide again.
      for (let round = 0; ; round++) {
        const doc = await receiptTarget(receipt);
        if (!doc || (receipt.deliveryId !== undefined && receipt.providerId !== undefined && doc.providerId !== undefined && doc.providerId !== receipt.providerId)) {
          return { applied: false, reason: 'unknown-id' };
        }
        if (!from.includes(doc.state) || round === 3) return { applied: false, reason: 'stale', delivery: toDelivery(doc) };
        const filter: Filter<DeliveryDocument> = { _id: doc._id, state: { $in: from } };
        const set: Partial<DeliveryDocument> = {};
        if (receipt.providerId !== undefined && doc.providerId === undefined) {
          set.providerId = receipt.providerId;
          filter.providerId = { $exists: false };
        }
        const moved = await deliveries.findOneAndUpdate(filter, moveTo(retention, receipt.state, receipt.at, 'receipt', receipt.detail, set), { returnDocument: 'after' });
        if (moved) return { applied: true, delivery: toDelivery(moved) };
      }
    },

    async getDelivery(accountId, id) {
      const _id = parseObjectId(id);
      if (!_id || typeof accountId !== 'string') return null;
      await ready();
      const doc = await deliveries.findOne({ _id, accountId });
      return doc ? toDelivery(doc) : null;
    },

    async listDeliveries(accountId, filter): Promise<Page<Delivery>> {
      const limit = clampLimit(filter.limit);
      const { triggerId, recipient, provider, providerId } = filter;
      // Filter values may come from a query string: anything but a string matches nothing (as in memory).
      if (typeof accountId !== 'string' || ![triggerId, recipient, provider, providerId].every(optionalString)) return { items: [] };
      const query: Filter<DeliveryDocument> = { accountId };
      if (triggerId !== undefined) query.triggerId = triggerId;
      if (recipient !== undefined) query.recipient = recipient;
      if (provider !== undefined) query.provider = provider;
      if (providerId !== undefined) query.providerId = providerId;
      if (filter.state !== undefined) {
        const states = (Array.isArray(filter.state) ? filter.state : [filter.state]).filter((s): s is DeliveryState => KNOWN_STATES.has(s));
        if (states.length === 0) return { items: [] };
        query.state = { $in: states };
      }
      if (filter.cursor !== undefined) {
        const before = parseObjectId(filter.cursor);
        if (!before) return { items: [] };
        query._id = { $lt: before };
      }
      await ready();
      const docs = await deliveries.find(query).sort({ _id: -1 }).limit(limit + 1).toArray();
      return page(docs.map(toDelivery), limit);
    },

    async deliveriesOfTrigger(accountId, triggerId) {
      if (typeof accountId !== 'string' || typeof triggerId !== 'string') return [];
      await ready();
      await removeOrphans();
      const docs = await deliveries.find({ accountId, triggerId }).sort({ createdAt: 1, _id: 1 }).toArray();
      return withoutOrphans(docs).map(toDelivery);
    },

    async staleIntents(olderThan, limit) {
      requireValidDate(olderThan, 'olderThan');
      if (!(limit > 0)) return [];
      await ready();
      await removeOrphans();
      // limit(0) would mean "no limit" to the server; an unbounded request is asked for as such.
      const docs = await deliveries.find({ state: 'intent', createdAt: { $lt: olderThan } }).sort({ createdAt: 1, _id: 1 }).limit(Number.isFinite(limit) ? Math.ceil(limit) : 0).toArray();
      return withoutOrphans(docs).map(toDelivery);
    },

    async resolveDelivery(accountId, id, resolution) {
      requireValidDate(resolution.at, 'at');
      if (resolution.as !== 'sent' && resolution.as !== 'resend') throw new AutomationError('CRM_ERR_CONFIG', `resolution.as must be sent or resend, got ${String(resolution.as)}`);
      const _id = parseObjectId(id);
      if (!_id || typeof accountId !== 'string') return null;
      await ready();
      const detail = `${resolution.by}${resolution.note ? `: ${resolution.note}` : ''}`;
      const state = resolution.as === 'sent' ? 'accepted' : 'abandoned';
      const resolved = await deliveries.findOneAndUpdate({ _id, accountId, state: 'unknown' }, moveTo(retention, state, resolution.at, 'operator', detail), { returnDocument: 'after' });
      if (resolved) return toDelivery(resolved);
      // Not unknown (any more): answered as it is.
      const current = await deliveries.findOne({ _id, accountId });
      return current ? toDelivery(current) : null;
    },

    async countDeliveries(accountId, since) {
      requireValidDate(since, 'since');
      if (typeof accountId !== 'string') return {};
      await ready();
      const groups = await deliveries.aggregate<{ _id: DeliveryState; count: number }>([{ $match: { accountId, updatedAt: { $gte: since } } }, { $group: { _id: '$state', count: { $sum: 1 } } }]).toArray();
      return Object.fromEntries(groups.map((g) => [g._id, g.count]));
    },

    async purgeExpired(now) {
      await ready();
      return (await deliveries.deleteMany({ expireAt: { $lte: now } })).deletedCount;
    },
  };
  return ops;
}

export const LEDGER_OPTION_KEYS = optionKeys<MongoDeliveryLedgerOptions>()(...CONNECTION_OPTION_KEYS, 'collections', 'retention', 'autoIndex', 'logger');

/**
 * A delivery ledger in MongoDB on its own, for a process that needs the ledger without the trigger
 * store (a Notification Service applying receipts, say): point it at the trigger store's database
 * and collection. `createMongoStore` and `createMongoTriggerStore` already include the same ledger.
 *
 * @example
 * const ledger = createMongoDeliveryLedger({ uri: process.env.MONGODB_URI, dbName: 'triggers' });
 * await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM123', state: 'delivered', at: new Date() });
 */
export function createMongoDeliveryLedger(options: MongoDeliveryLedgerOptions): MongoDeliveryLedger {
  checkOptions('createMongoDeliveryLedger', options, LEDGER_OPTION_KEYS, true);
  checkOptions('createMongoDeliveryLedger: collections', options.collections, optionKeys<NonNullable<MongoDeliveryLedgerOptions['collections']>>()('deliveries'));
  if (options.retention) checkOptions('createMongoDeliveryLedger: retention', options.retention, RETENTION_OPTION_KEYS);
  const connection = openConnection(options, 'createMongoDeliveryLedger');
  const ctx = ledgerContext(connection.db, options.collections?.deliveries ?? 'deliveries', options);
  const { ensureIndexes, purgeExpired, ...ledger } = ledgerOperations(ctx);
  const { stopRetention, ...retention } = retentionControls(purgeExpired, ctx.retention, ctx.logger, 'deliveries');
  return {
    ...ledger,
    ...retention,
    db: connection.db,
    collections: { deliveries: ctx.deliveries },
    async ensureIndexes() {
      return { retention: await ensureIndexes() };
    },
    async close() {
      await stopRetention();
      await connection.close();
    },
  };
}
