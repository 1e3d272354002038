import { ObjectId, type Collection, type Db, type Filter, type UpdateFilter } from 'mongodb';
import {
  AutomationError,
  checkOptions,
  clampLimit,
  optionKeys,
  silentLogger,
  type AttemptResult,
  type AutomationStore,
  type InsertedTrigger,
  type Logger,
  type NewTrigger,
  type Page,
  type Rule,
  type RuleDraft,
  type RuleFilter,
  type StoreCapabilities,
  type TransitionRequest,
  type TransitionResult,
  type Trigger,
  type TriggerFilter,
  type TriggerStatus,
} from '@crm-automation/core';
import { claimDueTriggers, ticketIdOf } from './claim-tickets.js';
import { detectDialect, openConnection, type MongoConnectionOptions, type ServerDialect } from './connection.js';
import {
  parseObjectId,
  ruleDocument,
  toRule,
  toTrigger,
  type ClaimTicketDocument,
  type RuleDocument,
  type TriggerDocument,
} from './documents.js';
import { guard, updateIfMatches } from './guarded-update.js';
import { createIndexes, ensureExpiryIndex, RULE_INDEXES, TRIGGER_INDEXES, type ExpiryMode } from './indexes.js';
import { duplicateKeyIndexes } from './write-errors.js';
import { expireAtFor, resolveRetention, startPeriodic, type RetentionHandle, type RetentionPolicy } from './retention.js';

/** Collection names; defaults follow the design doc. */
export interface MongoCollectionNames {
  /** Default `rules`. */
  rules?: string | undefined;
  /** Default `pending_triggers`. */
  triggers?: string | undefined;
  /** Claim tickets (see the README). Default `trigger_claims`. */
  claims?: string | undefined;
}

export interface MongoStoreOptions extends MongoConnectionOptions {
  collections?: MongoCollectionNames | undefined;
  /** Purge finished triggers by age; off by default (everything is kept). */
  retention?: RetentionPolicy | false | undefined;
  /**
   * Run `ensureIndexes()` before the first operation. Default true; set false when indexes are
   * managed by migrations (the intake dedupe depends on the unique index, so do create it).
   */
  autoIndex?: boolean | undefined;
  /** Server kind; `auto` (default) asks the server with `buildInfo`. */
  dialect?: 'auto' | ServerDialect | undefined;
  /** Where periodic retention reports failures. */
  logger?: Logger | undefined;
}

/** What `ensureIndexes()` found and did. */
export interface MongoIndexReport {
  dialect: ServerDialect;
  /** How finished triggers are purged: by a TTL index, or by `purgeExpired()` / `startRetention()`. */
  retention: ExpiryMode;
  /** How stale claim tickets are purged. */
  claims: ExpiryMode;
}

/** The Mongo store: the core store port plus index, retention and lifecycle controls. */
export interface MongoStore extends AutomationStore {
  readonly db: Db;
  readonly collections: {
    readonly rules: Collection<RuleDocument>;
    readonly triggers: Collection<TriggerDocument>;
    readonly claims: Collection<ClaimTicketDocument>;
  };
  /** Creates every index the store relies on; safe to call any number of times. */
  ensureIndexes(): Promise<MongoIndexReport>;
  /** Deletes triggers whose retention has run out (and stale claim tickets); returns triggers removed. */
  purgeExpired(now?: Date): Promise<number>;
  /** Runs `purgeExpired` periodically: needed where the server has no TTL indexes (FerretDB). */
  startRetention(options?: { intervalMs?: number | undefined; now?: (() => Date) | undefined }): RetentionHandle;
  /** Stops retention timers and closes the client if the store opened it. */
  close(): Promise<void>;
}

/** Claim tickets are kept this long past their lease, so a slow winner's ticket is not reissued early. */
const TICKET_GRACE_SECONDS = 60;

const intakeKey = (accountId: string, eventId: string, ruleId: string) => `${accountId}\u0000${eventId}\u0000${ruleId}`;

/**
 * Creates the MongoDB store: rules in `rules`, triggers in `pending_triggers` (the design doc's
 * documents), claims made exclusive by unique claim tickets, completion guarded by the lease token.
 * Works on MongoDB and on FerretDB v1; time is the engine's clock (the `now` it passes), so leases
 * tolerate clock skew between workers that is small compared with the lease.
 *
 * @example
 * const store = createMongoStore({ uri: process.env.MONGODB_URI, retention: { completedMs: 30 * 86_400_000 } });
 * const engine = createAutomationEngine({ store, channels });
 */
export function createMongoStore(options: MongoStoreOptions): MongoStore {
  checkOptions('createMongoStore', options, optionKeys<MongoStoreOptions>()('client', 'uri', 'clientOptions', 'dbName', 'collections', 'retention', 'autoIndex', 'dialect', 'logger'), true);
  checkOptions('createMongoStore: collections', options.collections, optionKeys<MongoCollectionNames>()('rules', 'triggers', 'claims'));
  if (options.retention) checkOptions('createMongoStore: retention', options.retention, optionKeys<RetentionPolicy>()('completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'mode', 'intervalMs'));
  const connection = openConnection(options, 'createMongoStore');
  const { db } = connection;
  const names = options.collections ?? {};
  const rules = db.collection<RuleDocument>(names.rules ?? 'rules');
  const triggers = db.collection<TriggerDocument>(names.triggers ?? 'pending_triggers');
  const claims = db.collection<ClaimTicketDocument>(names.claims ?? 'trigger_claims');
  const retention = resolveRetention(options.retention);
  const logger = options.logger ?? silentLogger;
  const autoIndex = options.autoIndex ?? true;
  const handles = new Set<RetentionHandle>();
  /** Tickets of finished attempts, deleted in one write at the next claim instead of one write each. */
  const finishedTickets: string[] = [];
  const flushFinishedTickets = async () => {
    if (finishedTickets.length === 0) return;
    const ids = finishedTickets.splice(0);
    // Left behind on failure, they only wait for their expiry (purgeExpired / TTL).
    await claims.deleteMany({ _id: { $in: ids } }).catch(() => undefined);
  };

  let report: MongoIndexReport | undefined;
  let dialect: ServerDialect | undefined = options.dialect === 'auto' ? undefined : options.dialect;
  let preparing: Promise<ServerDialect> | undefined;

  const ensureIndexes = async (): Promise<MongoIndexReport> => {
    dialect ??= await detectDialect(db);
    await createIndexes(rules, RULE_INDEXES);
    await createIndexes(triggers, TRIGGER_INDEXES);
    const wanted = retention?.mode ?? 'auto';
    const retentionMode = await ensureExpiryIndex(triggers, 'expireAt', 'triggers_retention', 0, wanted);
    const claimsMode = await ensureExpiryIndex(claims, 'expiresAt', 'claims_expiry', TICKET_GRACE_SECONDS, wanted === 'periodic' ? 'periodic' : 'auto');
    report = { dialect, retention: retentionMode, claims: claimsMode };
    return report;
  };

  /** Dialect detection and (by default) indexes, once; a failure is retried on the next call. */
  const ready = (): Promise<ServerDialect> => {
    if (dialect && (report || !autoIndex)) return Promise.resolve(dialect);
    preparing ??= (async () => {
      if (autoIndex) return (await ensureIndexes()).dialect;
      dialect ??= await detectDialect(db);
      return dialect;
    })().finally(() => {
      preparing = undefined;
    });
    return preparing;
  };

  const findOwned = async <D extends { accountId: string }>(collection: Collection<D>, accountId: string, id: string) => {
    const oid = parseObjectId(id);
    if (!oid) return null;
    const d = await ready();
    // FerretDB answers only an exact `{ _id }` filter without a scan: there the account is compared here.
    if (d === 'mongodb') return collection.findOne({ _id: oid, accountId } as Filter<D>);
    const doc = await collection.findOne({ _id: oid } as Filter<D>);
    return doc && doc.accountId === accountId ? doc : null;
  };

  const existingTriggers = async (inputs: readonly NewTrigger[]) => {
    const docs = await triggers
      .find({ $or: inputs.map((t) => ({ accountId: t.accountId, 'triggeringEvent.id': t.triggeringEvent.id, ruleId: parseObjectId(t.ruleId) as ObjectId })) })
      .toArray();
    return new Map(docs.map((d) => [intakeKey(d.accountId, d.triggeringEvent.id, d.ruleId.toHexString()), d]));
  };

  const store: MongoStore = {
    capabilities: {
      name: 'mongodb',
      get ttlRetention() {
        return retention !== undefined && report?.retention === 'ttl';
      },
    } satisfies StoreCapabilities,
    db,
    collections: { rules, triggers, claims },
    ensureIndexes,

    async insertRule(accountId, draft: RuleDraft, now) {
      await ready();
      const doc = ruleDocument(new ObjectId(), accountId, draft, 1, now, now);
      await rules.insertOne(doc);
      return toRule(doc);
    },

    async getRule(accountId, id) {
      await ready();
      const doc = await findOwned(rules, accountId, id);
      return doc ? toRule(doc) : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }) {
      const d = await ready();
      const oid = parseObjectId(id);
      if (!oid) return { ok: false, reason: 'not-found' };
      const { _id: _ignored, version: _version, createdAt: _created, ...fields } = ruleDocument(oid, accountId, draft, 0, now, now);
      const update: UpdateFilter<RuleDocument> = { $set: fields, $inc: { version: 1 } };
      if (draft.description === undefined) update.$unset = { description: '' };
      const condition = expectedVersion === undefined ? guard.equals<RuleDocument>('accountId', accountId) : guard.all(guard.equals<RuleDocument>('accountId', accountId), guard.equals<RuleDocument>('version', expectedVersion));
      const result = await updateIfMatches(rules, d, oid, condition, update, 'after');
      if (result.ok) return { ok: true, rule: toRule(result.doc) };
      if (!result.current || result.current.accountId !== accountId) return { ok: false, reason: 'not-found' };
      return { ok: false, reason: 'conflict', currentVersion: result.current.version };
    },

    async deleteRule(accountId, id) {
      const d = await ready();
      const oid = parseObjectId(id);
      if (!oid) return false;
      if (d === 'mongodb') return (await rules.deleteOne({ _id: oid, accountId })).deletedCount === 1;
      if (!(await findOwned(rules, accountId, id))) return false;
      return (await rules.deleteOne({ _id: oid })).deletedCount === 1;
    },

    async listRules(accountId, filter: RuleFilter): Promise<Page<Rule>> {
      await ready();
      const limit = clampLimit(filter.limit);
      const query: Filter<RuleDocument> = { accountId };
      if (filter.eventName !== undefined) query['trigger.eventName'] = filter.eventName;
      if (filter.enabled !== undefined) query.enabled = filter.enabled;
      if (filter.cursor !== undefined) {
        const after = parseObjectId(filter.cursor);
        if (!after) return { items: [] };
        query._id = { $gt: after };
      }
      const docs = await rules.find(query).sort({ _id: 1 }).limit(limit + 1).toArray();
      return page(docs.map(toRule), limit);
    },

    async findRulesForEvent(accountId, eventName) {
      await ready();
      const docs = await rules.find({ accountId, 'trigger.eventName': eventName, enabled: true }).toArray();
      return docs.map(toRule);
    },

    async insertTriggers(batch: readonly NewTrigger[], now): Promise<InsertedTrigger[]> {
      await ready();
      if (batch.length === 0) return [];
      const docs: TriggerDocument[] = batch.map((input) => {
        const ruleId = parseObjectId(input.ruleId);
        if (!ruleId) throw new AutomationError('CRM_ERR_RULE_NOT_FOUND', `cannot store a trigger for rule id ${JSON.stringify(input.ruleId)}: not an ObjectId`);
        return {
          _id: new ObjectId(),
          accountId: input.accountId,
          ruleId,
          ruleVersion: input.ruleVersion,
          status: 'pending',
          evaluateAt: input.evaluateAt,
          attempt: 0,
          triggeringEvent: input.triggeringEvent,
          ...(input.trace ? { trace: input.trace } : {}),
          executionHistory: [],
          sentActions: [],
          createdAt: now,
          updatedAt: now,
        };
      });
      let duplicates = new Set<number>();
      try {
        await triggers.insertMany(docs, { ordered: false });
      } catch (error) {
        duplicates = duplicateKeyIndexes(error) ?? rethrow(error);
      }
      const existing = duplicates.size > 0 ? await existingTriggers(batch.filter((_, i) => duplicates.has(i))) : new Map<string, TriggerDocument>();
      return docs.map((doc, i): InsertedTrigger => {
        if (!duplicates.has(i)) return { trigger: toTrigger(doc), created: true };
        const found = existing.get(intakeKey(doc.accountId, doc.triggeringEvent.id, doc.ruleId.toHexString()));
        if (!found) throw new AutomationError('CRM_ERR_TRIGGER_NOT_FOUND', `trigger for event ${doc.triggeringEvent.id} was reported as existing but is gone; retry the intake`, { retryable: true });
        return { trigger: toTrigger(found), created: false };
      });
    },

    async getTrigger(accountId, id) {
      await ready();
      const doc = await findOwned(triggers, accountId, id);
      return doc ? toTrigger(doc) : null;
    },

    async listTriggers(accountId, filter: TriggerFilter): Promise<Page<Trigger>> {
      await ready();
      const limit = clampLimit(filter.limit);
      const query: Filter<TriggerDocument> = { accountId };
      if (filter.status !== undefined) query.status = { $in: Array.isArray(filter.status) ? filter.status : [filter.status] };
      if (filter.ruleId !== undefined) {
        const ruleId = parseObjectId(filter.ruleId);
        if (!ruleId) return { items: [] };
        query.ruleId = ruleId;
      }
      if (filter.from || filter.to) query.evaluateAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
      if (filter.cursor !== undefined) {
        const before = parseObjectId(filter.cursor);
        if (!before) return { items: [] };
        query._id = { $lt: before };
      }
      const docs = await triggers.find(query).sort({ _id: -1 }).limit(limit + 1).toArray();
      return page(docs.map(toTrigger), limit);
    },

    async claimDueTriggers(request) {
      const d = await ready();
      await flushFinishedTickets();
      return claimDueTriggers({ triggers, tickets: claims, dialect: d }, request);
    },

    async finishAttempt(id, leaseToken, result: AttemptResult) {
      const d = await ready();
      const oid = parseObjectId(id);
      if (!oid || typeof leaseToken !== 'string') return false;
      const set: Partial<TriggerDocument> = { status: result.status, updatedAt: result.now };
      if (result.status === 'retrying') set.evaluateAt = result.evaluateAt ?? result.now;
      const expireAt = expireAtFor(retention, result.status, result.now);
      if (expireAt) set.expireAt = expireAt;
      const update: UpdateFilter<TriggerDocument> = {
        $set: set,
        $unset: { leaseToken: '', leaseExpiresAt: '', leaseOwner: '' },
        $push: { executionHistory: result.history },
      };
      if (result.sentActions.length > 0) update.$addToSet = { sentActions: { $each: result.sentActions } };
      const saved = await updateIfMatches(triggers, d, oid, guard.all(guard.equals<TriggerDocument>('status', 'processing'), guard.equals<TriggerDocument>('leaseToken', leaseToken)), update, 'before');
      if (saved.ok) finishedTickets.push(ticketIdOf(id, saved.doc.attempt));
      return saved.ok;
    },

    async transitionTrigger(accountId, id, request: TransitionRequest): Promise<TransitionResult> {
      const d = await ready();
      const oid = parseObjectId(id);
      if (!oid) return { ok: false, reason: 'not-found' };
      const set: Partial<TriggerDocument> = { status: request.to, updatedAt: request.now };
      if (request.evaluateAt) set.evaluateAt = request.evaluateAt;
      const expireAt = expireAtFor(retention, request.to, request.now);
      if (expireAt) set.expireAt = expireAt;
      const update: UpdateFilter<TriggerDocument> = { $set: set, $push: { executionHistory: request.history } };
      if (!expireAt) update.$unset = { expireAt: '' };
      const condition = guard.all(guard.equals<TriggerDocument>('accountId', accountId), guard.oneOf<TriggerDocument>('status', request.from));
      // The status may change between a refused update and the re-read; decide on a stable answer.
      for (let i = 0; i < 3; i++) {
        const result = await updateIfMatches(triggers, d, oid, condition, update, 'after');
        if (result.ok) return { ok: true, trigger: toTrigger(result.doc) };
        if (!result.current || result.current.accountId !== accountId) return { ok: false, reason: 'not-found' };
        if (!request.from.includes(result.current.status)) return { ok: false, reason: 'conflict', current: result.current.status };
      }
      const current = await findOwned(triggers, accountId, id);
      return current ? { ok: false, reason: 'conflict', current: current.status } : { ok: false, reason: 'not-found' };
    },

    async nextDueAt() {
      const d = await ready();
      const waiting = { status: { $in: ['pending', 'retrying'] as TriggerStatus[] } };
      const leased = { status: 'processing' as const, leaseExpiresAt: { $exists: true } };
      let times: number[];
      if (d === 'ferretdb') {
        // FerretDB sorts in memory after a full scan: one unsorted, projected scan instead of two sorted ones.
        const docs = await triggers.find({ $or: [waiting, leased] }, { projection: { status: 1, evaluateAt: 1, leaseExpiresAt: 1 } }).toArray();
        times = docs.map((doc) => (doc.status === 'processing' ? doc.leaseExpiresAt : doc.evaluateAt)).filter((t): t is Date => t instanceof Date).map((t) => t.getTime());
        times = times.length > 0 ? [times.reduce((a, b) => Math.min(a, b))] : [];
      } else {
        const [due, lease] = await Promise.all([
          triggers.find(waiting, { projection: { evaluateAt: 1 } }).sort({ evaluateAt: 1 }).limit(1).next(),
          triggers.find(leased, { projection: { leaseExpiresAt: 1 } }).sort({ leaseExpiresAt: 1 }).limit(1).next(),
        ]);
        times = [due?.evaluateAt, lease?.leaseExpiresAt].filter((t): t is Date => t instanceof Date).map((t) => t.getTime());
      }
      return times.length > 0 ? new Date(Math.min(...times)) : null;
    },

    async purgeTriggers({ statuses, olderThan }) {
      await ready();
      if (statuses.length === 0) return 0;
      const result = await triggers.deleteMany({ status: { $in: [...statuses] }, updatedAt: { $lt: olderThan } });
      return result.deletedCount;
    },

    async purgeExpired(now = new Date()) {
      await ready();
      const [removed] = await Promise.all([
        triggers.deleteMany({ expireAt: { $lte: now } }),
        claims.deleteMany({ expiresAt: { $lte: new Date(now.getTime() - TICKET_GRACE_SECONDS * 1000) } }),
      ]);
      return removed.deletedCount;
    },

    startRetention(retentionOptions = {}) {
      const now = retentionOptions.now ?? (() => new Date());
      const intervalMs = retentionOptions.intervalMs ?? retention?.intervalMs ?? 60_000;
      const handle = startPeriodic(
        intervalMs,
        async () => {
          const removed = await store.purgeExpired(now());
          if (removed > 0) logger.debug({ removed }, 'retention purged finished triggers');
        },
        (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'retention purge failed; will retry'),
      );
      handles.add(handle);
      return {
        async stop() {
          handles.delete(handle);
          await handle.stop();
        },
      };
    },

    async close() {
      await Promise.all([...handles].map((h) => h.stop()));
      handles.clear();
      await flushFinishedTickets();
      await connection.close();
    },
  };
  return store;
}

function page<T extends { id: string }>(items: T[], limit: number): Page<T> {
  if (items.length <= limit) return { items };
  const shown = items.slice(0, limit);
  const last = shown[shown.length - 1];
  return last ? { items: shown, nextCursor: last.id } : { items: shown };
}

function rethrow(error: unknown): never {
  throw error;
}
