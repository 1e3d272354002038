import {
  AutomationError,
  clampLimit,
  TRIGGER_STATUSES,
  type AttemptResult,
  type CancelRequest,
  type CancelResult,
  type ClaimedTrigger,
  type FinishRequest,
  type InsertedTrigger,
  type Logger,
  type NewTrigger,
  type Page,
  type PurgeRequest,
  type TransitionRequest,
  type TransitionResult,
  type Trigger,
  type TriggerFilter,
  type TriggerSchedule,
  type TriggerStatus,
  type TriggerStore,
} from '@crm-automation/core';
import { isDataException, storableText, wellFormed, type Database } from './connection.js';
import { purgeInChunks } from './purge-chunks.js';
import { timestampParam } from './dates.js';
import { createDueWatcher, type DueWatcher } from './due-watcher.js';
import { dueChannelOf } from './identifiers.js';
import { isStoreId } from './ids.js';
import { purgeGroups, type ResolvedRetention } from './retention.js';
import { createIntake, type IntakeRow } from './intake.js';
import { createKeyedIntake } from './keyed-intake.js';
import { createOutcomeWriter, outcomeStatements, type OutcomeWriter } from './outcome-writer.js';
import { reviveCancelRequest, reviveEvent, reviveHistory, toTrigger, TRIGGER_COLUMNS, type StoredCancelRequest, type StoredEvent, type TriggerRow } from './rows.js';
import { page } from './rule-store.js';
import { triggerStatements } from './trigger-statements.js';
import { keyedStatements } from './keyed-statements.js';

/** What the trigger store adds to the port: the optional methods it has, its purge and its own shutdown. */
export interface TriggerStoreExtras {
  finishAttempts: NonNullable<TriggerStore['finishAttempts']>;
  watchDue: NonNullable<TriggerStore['watchDue']>;
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
  /** Deletes the finished triggers the retention policy no longer keeps; returns how many. */
  purgeFinished(now: Date): Promise<number>;
  /** Stops wake-ups. */
  shutdown(): Promise<void>;
}

const KNOWN_STATUSES: ReadonlySet<string> = new Set(TRIGGER_STATUSES);
/** A trigger the pending slot of its entity decides about: keyed, with a mode, and not inserted skipped. */
const decidedUnderSlot = (input: NewTrigger) => input.concurrency !== undefined && input.entityKey !== undefined && input.skipped === undefined;

/**
 * One claimed trigger as the claim statement returns it (a JSON array, see `claimStatement`): id,
 * account, rule, rule version, due time (epoch ms), attempt, event, trace, history, sent actions,
 * creation time (epoch ms), lease token, entity key, first event time (epoch ms), cancel request, schedule.
 */
type ClaimedRow = [
  string,
  string,
  string,
  number,
  number,
  number,
  StoredEvent,
  Record<string, string> | null,
  TriggerRow['execution_history'],
  number[],
  number,
  string,
  string | null,
  number | null,
  StoredCancelRequest | null,
  TriggerSchedule | null,
];

/** Triggers in `<schema>.triggers`: see the README for the claim, the indexes and the wake-ups. */
export function triggerStoreOn(
  db: Database,
  /** `outcomes`: a writer shared with a ledger on the same database (see outcome-writer.ts); else the store's own. */
  settings: { logger: Logger; retention: ResolvedRetention | undefined; outcomes?: OutcomeWriter | undefined },
): TriggerStore & TriggerStoreExtras {
  const s = `"${db.schema}"`;
  const sql = triggerStatements(s);
  const keyedSql = keyedStatements(s);
  const channel = dueChannelOf(db.schema);
  const { logger, retention } = settings;
  let watcher: DueWatcher | undefined;

  const intake = createIntake(db, sql, channel);
  const keyedIntake = createKeyedIntake(db, keyedSql, channel);
  const writeOutcomes = (settings.outcomes ?? createOutcomeWriter(db, outcomeStatements(s, false))).finishAttempts;

  const store: TriggerStore & TriggerStoreExtras = {
    capabilities: { name: 'postgres', ttlRetention: false, keyedConcurrency: true, cancelByEvent: true },

    async insertTriggers(batch, now): Promise<InsertedTrigger[]> {
      const at = timestampParam(now, 'now');
      // All or nothing: a bad due time refuses the batch before anything is sent.
      const rows = batch.map((input, i): IntakeRow => {
        // The event's time orders supersede and cancel; an invalid one would be stored as null.
        timestampParam(input.triggeringEvent?.timestamp, `triggers[${i}].triggeringEvent.timestamp`);
        return { input, dueAt: timestampParam(input.evaluateAt, `triggers[${i}].evaluateAt`), createdAt: now, createdAtParam: at };
      });
      if (rows.length === 0) return [];
      // Triggers inserted with a concurrency mode are decided under the pending slot (keyed-intake.ts);
      // every other one goes through the one-statement-per-batch intake, as before. So does one
      // inserted skipped, whatever its mode: it never takes the slot, so there is nothing to decide.
      const keyed = rows.some(({ input }) => decidedUnderSlot(input));
      if (!keyed) return intake(rows);
      const plain: number[] = [];
      const withSlot: number[] = [];
      rows.forEach(({ input }, i) => (decidedUnderSlot(input) ? withSlot : plain).push(i));
      const [plainDone, keyedDone] = await Promise.all([
        plain.length > 0 ? intake(plain.map((i) => rows[i] as IntakeRow)) : Promise.resolve([]),
        keyedIntake(withSlot.map((i) => rows[i] as IntakeRow)),
      ]);
      const out: InsertedTrigger[] = new Array(rows.length);
      plain.forEach((i, k) => (out[i] = plainDone[k] as InsertedTrigger));
      withSlot.forEach((i, k) => (out[i] = keyedDone[k] as InsertedTrigger));
      return out;
    },

    async getTrigger(accountId, id) {
      if (!isStoreId(id) || !storableText(accountId)) return null;
      const { rows } = await db.query<TriggerRow>(sql.get, [id, accountId]);
      return rows[0] ? toTrigger(rows[0]) : null;
    },

    async listTriggers(accountId, filter: TriggerFilter): Promise<Page<Trigger>> {
      const limit = clampLimit(filter.limit);
      if (!storableText(accountId)) return { items: [] };
      const values: unknown[] = [accountId];
      const where = ['account_id = $1'];
      const param = (value: unknown) => {
        values.push(value);
        return `$${values.length}`;
      };
      if (filter.status !== undefined) where.push(`status = ANY(${param((Array.isArray(filter.status) ? filter.status : [filter.status]).filter((x) => KNOWN_STATUSES.has(x)))}::text[])`);
      if (filter.ruleId !== undefined) {
        if (!storableText(filter.ruleId)) return { items: [] };
        where.push(`rule_id = ${param(filter.ruleId)}`);
      }
      if (filter.entityKey !== undefined) {
        if (!storableText(filter.entityKey)) return { items: [] };
        where.push(`entity_key = ${param(wellFormed(filter.entityKey))}`);
      }
      if (filter.from !== undefined) where.push(`evaluate_at >= ${param(timestampParam(filter.from, 'from'))}::timestamptz`);
      if (filter.to !== undefined) where.push(`evaluate_at < ${param(timestampParam(filter.to, 'to'))}::timestamptz`);
      if (filter.cursor !== undefined) {
        if (!isStoreId(filter.cursor)) return { items: [] };
        where.push(`id < ${param(filter.cursor)}::bigint`);
      }
      const { rows } = await db.query<TriggerRow>(`SELECT ${TRIGGER_COLUMNS} FROM ${s}.triggers WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${param(limit + 1)}`, values);
      return page(rows.map(toTrigger), limit);
    },

    async claimDueTriggers({ now, limit, leaseMs, owner }): Promise<ClaimedTrigger[]> {
      const at = timestampParam(now, 'now');
      if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', `leaseMs must be a positive number, got ${String(leaseMs)}`);
      const count = Math.floor(limit);
      if (!(count > 0)) return [];
      const leaseExpiresAt = new Date(now.getTime() + leaseMs);
      const { rows } = await db.query<{ claimed: string | null }>(sql.claim, [at, count, timestampParam(leaseExpiresAt, 'lease expiry'), String(owner).replaceAll('\u0000', '')]);
      const text = rows[0]?.claimed;
      if (text === null || text === undefined) return [];
      // In claim order already (expired leases first, then by time, then id).
      return (JSON.parse(text) as ClaimedRow[]).map(
        ([id, accountId, ruleId, ruleVersion, evaluateAt, attempt, event, trace, history, sentActions, createdAt, leaseToken, entityKey, firstEventAt, cancelRequested, schedule]): ClaimedTrigger => ({
          id,
          accountId,
          ruleId,
          ruleVersion,
          status: 'processing',
          evaluateAt: new Date(evaluateAt),
          attempt,
          triggeringEvent: reviveEvent(event),
          ...(trace === null ? {} : { trace }),
          executionHistory: reviveHistory(history),
          sentActions,
          createdAt: new Date(createdAt),
          updatedAt: new Date(now.getTime()),
          leaseToken,
          leaseExpiresAt: new Date(leaseExpiresAt.getTime()),
          ...(entityKey === null ? {} : { entityKey }),
          ...(firstEventAt === null ? {} : { firstEventAt: new Date(firstEventAt) }),
          ...(cancelRequested === null ? {} : { cancelRequested: reviveCancelRequest(cancelRequested) }),
          ...(schedule === null ? {} : { schedule }),
        }),
      );
    },

    async finishAttempt(id, leaseToken, result: AttemptResult) {
      const [saved] = await writeOutcomes([{ id, leaseToken, result }]);
      return saved === true;
    },

    async finishAttempts(requests) {
      return writeOutcomes(requests);
    },

    async transitionTrigger(accountId, id, request: TransitionRequest): Promise<TransitionResult> {
      if (!isStoreId(id) || !storableText(accountId)) return { ok: false, reason: 'not-found' };
      const at = timestampParam(request.now, 'now');
      const evaluateAt = request.evaluateAt === undefined ? null : timestampParam(request.evaluateAt, 'evaluateAt');
      if (request.to !== 'pending' && request.to !== 'cancelled') throw new AutomationError('CRM_ERR_CONFIG', `a user transition leads to pending or cancelled, not ${JSON.stringify(request.to)}`);
      const from = request.from.filter((x) => KNOWN_STATUSES.has(x));
      const values = [id, accountId, request.to, at, evaluateAt, JSON.stringify(request.history), from, channel];
      // The status may change between a refused update and the read; decide on a stable answer.
      for (let round = 0; round < 3; round++) {
        const { rows } = await db.query<TriggerRow>(sql.transition, values);
        if (rows[0]) return { ok: true, trigger: toTrigger(rows[0]) };
        const current = (await db.query<{ status: TriggerStatus }>(sql.status, [id, accountId])).rows[0]?.status;
        if (current === undefined) return { ok: false, reason: 'not-found' };
        if (!from.includes(current)) return { ok: false, reason: 'conflict', current };
      }
      const current = (await db.query<{ status: TriggerStatus }>(sql.status, [id, accountId])).rows[0]?.status;
      return current === undefined ? { ok: false, reason: 'not-found' } : { ok: false, reason: 'conflict', current };
    },

    async cancelTriggers(request: CancelRequest): Promise<CancelResult> {
      const at = timestampParam(request.now, 'now');
      const before = timestampParam(request.eventTimestamp, 'eventTimestamp');
      const { accountId, ruleId, entityKey, event, by, reason } = request;
      if (!storableText(accountId) || !storableText(ruleId) || !storableText(entityKey)) return { cancelled: [], requested: [] };
      const { rows } = await db.query<TriggerRow & { cancelled: boolean }>(keyedSql.cancel, [
        accountId,
        entityKey,
        ruleId,
        before,
        JSON.stringify({ id: event.id, name: event.name }),
        at,
        String(by),
        at,
        reason === undefined ? null : String(reason),
      ]).catch((error: unknown) => {
        throw isDataException(error) ? new AutomationError('CRM_ERR_EVENT_INVALID', `PostgreSQL cannot store this cancel: ${(error as Error).message}`, { cause: error }) : error;
      });
      const result: CancelResult = { cancelled: [], requested: [] };
      for (const row of rows.sort((a, b) => Number(a.id) - Number(b.id))) (row.cancelled ? result.cancelled : result.requested).push(toTrigger(row));
      return result;
    },

    async nextDueAt() {
      const { rows } = await db.query<{ next: Date | null }>(sql.nextDue);
      return rows[0]?.next ?? null;
    },

    async purgeTriggers({ statuses, olderThan }: PurgeRequest) {
      const before = timestampParam(olderThan, 'olderThan');
      const wanted = [...new Set(statuses)].filter((x) => KNOWN_STATUSES.has(x));
      return purgeInChunks(db, 'triggers', 'status', wanted, before);
    },

    async watchDue(onDue) {
      watcher ??= createDueWatcher({ pool: db.pool, channel, logger, catchUp: () => store.nextDueAt() });
      return watcher.add(onDue);
    },

    async purgeFinished(now) {
      if (!retention) return 0;
      let removed = 0;
      for (const { statuses, ageMs } of purgeGroups(retention)) removed += await store.purgeTriggers({ statuses, olderThan: new Date(now.getTime() - ageMs) });
      return removed;
    },

    async shutdown() {
      await watcher?.stop();
    },
  };
  return store;
}
