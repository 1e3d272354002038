// One file: every method of the memory trigger store reads and writes the same closure state (the
// triggers, the due and lease heaps, the intake keys, the entity index) without yielding, which is what
// makes each operation atomic; split across files, that state would have to become shared mutable
// exports. The keyed-rule indexes live in memory-entity-index.ts.
import { randomBytes } from 'node:crypto';
import { checkOptions } from '../config/check-options.js';
import { requireValidDate, requireValidNewTriggers } from '../spi/valid-dates.js';
import { AutomationError } from '../errors.js';
import type {
  AttemptResult,
  CancelRequest,
  CancelResult,
  ClaimRequest,
  InsertedTrigger,
  NewTrigger,
  PurgeRequest,
  TransitionRequest,
  TransitionResult,
  TriggerStore,
} from '../ports/store.js';
import type { ClaimedTrigger, HistoryEntry, Trigger, TriggerFilter, TriggerSchedule, TriggerStatus } from '../scheduling/trigger.js';
import { declareInProcessStore } from '../engine/store-deadlines.js';
import { cloneValue } from './clone-value.js';
import { EntityIndex } from './memory-entity-index.js';
import { clampLimit, isMemoryId, newMemoryId, paginate } from './memory-ids.js';
import { TimeHeap } from './min-heap.js';

const copyTrigger = (t: Trigger): Trigger => ({
  ...t,
  executionHistory: [...t.executionHistory],
  sentActions: [...t.sentActions],
  ...(t.cancelRequested ? { cancelRequested: { ...t.cancelRequested, event: { ...t.cancelRequested.event } } } : {}),
  ...(t.schedule ? { schedule: copySchedule(t.schedule) } : {}),
});

type StoredTrigger = Trigger & { leaseToken?: string | undefined };

/** A trigger's schedule, copied key by key (one per trigger at intake: cheaper than a generic clone). */
function copySchedule(s: TriggerSchedule): TriggerSchedule {
  return { timeZone: s.timeZone, zoneSource: s.zoneSource, anchor: s.anchor, local: s.local, notes: s.notes.length === 0 ? [] : s.notes.map((n) => ({ code: n.code, message: n.message })) };
}

/** What a keyed insert decided, before the trigger is built. */
type KeyedDecision =
  | { outcome: 'created'; takeSlot: boolean }
  | { outcome: 'superseded'; replaced: StoredTrigger; firstEventAt: Date; maxWaitMs: number | undefined; reschedule: boolean }
  | { outcome: 'stale' | 'skipped'; pending: StoredTrigger };

const DUE_STATUSES: ReadonlySet<TriggerStatus> = new Set(['pending', 'retrying']);

/** An attempt's outcome with dates the store can keep (`now` is its updatedAt, and purge compares it). */
function requireValidResult(result: AttemptResult): void {
  requireValidDate(result.now, 'now');
  if (result.status === 'retrying') requireValidDate(result.evaluateAt ?? result.now, 'evaluateAt');
}

/**
 * An in-memory trigger store: due and lease heaps for claims, an intake-key map for redelivery, an
 * {@link EntityIndex} for keyed rules (the pending slot per entity, cancel by entity, listing by
 * entity). Every operation is atomic because none yields, so several engines sharing one store object
 * keep the one-pending-per-entity invariant. Pending triggers are lost on restart.
 */
export function createMemoryTriggerStore(): TriggerStore & { cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>; readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryTriggerStore', arguments[0], []);
  const triggers = new Map<string, StoredTrigger>();
  const entities = new EntityIndex();
  const triggersByAccount = new Map<string, string[]>();
  /** (account, event id) → rule id → trigger id: what makes intake of a redelivered event a no-op. */
  const intakeKeys = new Map<string, Map<string, string>>();
  const due = new TimeHeap();
  const leases = new TimeHeap();
  const watchers = new Set<(at: Date) => void>();

  const ownedTrigger = (accountId: string, id: string) => {
    if (!isMemoryId(id)) return undefined;
    const trigger = triggers.get(id);
    return trigger && trigger.accountId === accountId ? trigger : undefined;
  };

  /** Takes the next claimable trigger off a heap, skipping entries made stale by later writes. */
  const takeFrom = (heap: TimeHeap, now: number, isCurrent: (t: Trigger, time: number) => boolean) => {
    while (heap.size > 0) {
      const time = heap.peekTime() as number;
      if (time > now) return undefined;
      const id = heap.peekId() as string;
      heap.pop();
      const trigger = triggers.get(id);
      if (trigger && isCurrent(trigger, time)) return trigger;
    }
    return undefined;
  };
  const isDue = (t: Trigger, time: number) => DUE_STATUSES.has(t.status) && t.evaluateAt.getTime() === time;
  const isExpired = (t: Trigger, time: number) => t.status === 'processing' && t.leaseExpiresAt?.getTime() === time;
  const earliestValid = (heap: TimeHeap, isCurrent: (t: Trigger, time: number) => boolean) => {
    while (heap.size > 0) {
      const time = heap.peekTime() as number;
      const trigger = triggers.get(heap.peekId() as string);
      if (trigger && isCurrent(trigger, time)) return time;
      heap.pop();
    }
    return undefined;
  };

  const setStatus = (trigger: StoredTrigger, status: TriggerStatus) => {
    trigger.status = status;
    entities.statusChanged(trigger);
  };

  /** Supersede / skipIfPending against the entity's pending slot (only for a keyed trigger with a mode). */
  const decide = (input: NewTrigger): KeyedDecision => {
    const { concurrency, entityKey } = input;
    if (!concurrency || entityKey === undefined || input.skipped) return { outcome: 'created', takeSlot: false };
    const holderId = entities.slotHolder(input.accountId, input.ruleId, entityKey);
    const holder = holderId === undefined ? undefined : triggers.get(holderId);
    if (!holder || holder.status !== 'pending') return { outcome: 'created', takeSlot: true };
    if (concurrency.mode === 'skipIfPending') return { outcome: 'skipped', pending: holder };
    if (holder.triggeringEvent.timestamp.getTime() >= input.triggeringEvent.timestamp.getTime()) return { outcome: 'stale', pending: holder };
    return { outcome: 'superseded', replaced: holder, firstEventAt: holder.firstEventAt ?? holder.triggeringEvent.timestamp, maxWaitMs: concurrency.maxWaitMs, reschedule: concurrency.reschedule === true };
  };

  /** One outcome, written at once (finishAttempts writes its batch without a promise per outcome). */
  const finishOne = (id: string, leaseToken: string, result: AttemptResult): boolean => {
    const trigger = triggers.get(id);
    if (!trigger || trigger.status !== 'processing' || trigger.leaseToken !== leaseToken) return false;
    // A cancel requested while it ran wins over a retry, in this same write (the engine checks too).
    const cancelInstead = result.status === 'retrying' && trigger.cancelRequested !== undefined;
    trigger.updatedAt = result.now;
    trigger.executionHistory.push(result.history);
    if (cancelInstead && trigger.cancelRequested) {
      trigger.executionHistory.push({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { ...trigger.cancelRequested.event }, at: result.now, attempt: trigger.attempt });
    }
    const status = cancelInstead ? 'cancelled' : result.status;
    setStatus(trigger, status);
    for (const index of result.sentActions) if (!trigger.sentActions.includes(index)) trigger.sentActions.push(index);
    trigger.leaseToken = undefined;
    trigger.leaseExpiresAt = undefined;
    if (status === 'retrying') {
      trigger.evaluateAt = result.evaluateAt ?? result.now;
      due.push(trigger.evaluateAt.getTime(), id);
    }
    return true;
  };

  const store: TriggerStore & { cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>; readonly size: number } = {
    capabilities: { name: 'memory', keyedConcurrency: true, cancelByEvent: true },

    get size() {
      return triggers.size;
    },

    async insertTriggers(batch: readonly NewTrigger[], at: Date) {
      // All or nothing: a bad date refuses the batch before any trigger is stored.
      requireValidNewTriggers(batch, at, 'at');
      const out: InsertedTrigger[] = [];
      // Intake batches share one event: clone it once, look its dedupe entry up once.
      let lastEvent: NewTrigger['triggeringEvent'] | undefined;
      let clone: Trigger['triggeringEvent'] | undefined;
      let seen: Map<string, string> | undefined;
      for (const input of batch) {
        if (input.triggeringEvent !== lastEvent) {
          lastEvent = input.triggeringEvent;
          clone = undefined;
          const key = `${input.accountId}\u0000${input.triggeringEvent.id}`;
          seen = intakeKeys.get(key);
          if (!seen) intakeKeys.set(key, (seen = new Map()));
        }
        const existingId = seen?.get(input.ruleId);
        const existing = existingId ? triggers.get(existingId) : undefined;
        if (existing) {
          out.push({ trigger: stripLease(existing), created: false, outcome: 'redelivered' });
          continue;
        }
        clone ??= cloneValue(input.triggeringEvent);
        const decision = decide(input);
        const id = newMemoryId(at.getTime());
        let status: TriggerStatus = 'pending';
        let evaluateAt = input.evaluateAt;
        let firstEventAt: Date | undefined = input.entityKey === undefined ? undefined : clone.timestamp;
        const historyEntries: HistoryEntry[] = [];
        const event = decision.outcome === 'created' ? undefined : { id: input.triggeringEvent.id, name: input.triggeringEvent.name };
        if (decision.outcome === 'superseded') {
          firstEventAt = decision.firstEventAt;
          if (decision.maxWaitMs !== undefined) evaluateAt = new Date(Math.min(evaluateAt.getTime(), firstEventAt.getTime() + decision.maxWaitMs));
          const replaced = decision.replaced;
          const moved = decision.reschedule && replaced.evaluateAt.getTime() !== evaluateAt.getTime();
          if (moved && event) {
            const change = { from: replaced.evaluateAt, to: evaluateAt, eventId: event.id };
            replaced.executionHistory.push({ outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: id, event, at, attempt: replaced.attempt });
            historyEntries.push({ outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: replaced.id, event, at, attempt: 0 });
          } else {
            replaced.executionHistory.push({ outcome: 'superseded', reason: 'superseded', triggerId: id, event, at, attempt: replaced.attempt });
          }
          replaced.updatedAt = at;
          setStatus(replaced, 'cancelled');
        } else if (decision.outcome === 'stale') {
          status = 'cancelled';
          historyEntries.push({ outcome: 'superseded', reason: 'stale', triggerId: decision.pending.id, at, attempt: 0 });
        } else if (decision.outcome === 'skipped') {
          status = 'skipped';
          historyEntries.push({ outcome: 'skipped', reason: 'pending-exists', triggerId: decision.pending.id, event, at, attempt: 0 });
        } else if (input.skipped) {
          status = 'skipped';
          historyEntries.push(cloneValue(input.skipped));
        }
        const trigger: StoredTrigger = {
          id,
          accountId: input.accountId,
          ruleId: input.ruleId,
          ruleVersion: input.ruleVersion,
          status,
          evaluateAt,
          attempt: 0,
          triggeringEvent: clone,
          ...(input.trace ? { trace: { ...input.trace } } : {}),
          executionHistory: historyEntries,
          sentActions: [],
          createdAt: at,
          updatedAt: at,
          ...(input.entityKey === undefined ? {} : { entityKey: input.entityKey }),
          ...(firstEventAt === undefined ? {} : { firstEventAt }),
          ...(input.schedule ? { schedule: copySchedule(input.schedule) } : {}),
        };
        triggers.set(trigger.id, trigger);
        seen?.set(input.ruleId, trigger.id);
        let ids = triggersByAccount.get(input.accountId);
        if (!ids) triggersByAccount.set(input.accountId, (ids = []));
        ids.push(trigger.id);
        entities.added(trigger);
        if (status === 'pending') {
          const takesSlot = decision.outcome === 'superseded' || (decision.outcome === 'created' && decision.takeSlot);
          if (takesSlot && input.entityKey !== undefined) entities.takeSlot(trigger.id, input.accountId, input.ruleId, input.entityKey);
          due.push(trigger.evaluateAt.getTime(), trigger.id);
        }
        const pendingTriggerId = decision.outcome === 'superseded' ? decision.replaced.id : decision.outcome === 'created' ? undefined : decision.pending.id;
        // A trigger stored just now has no lease to strip.
        out.push({ trigger: copyTrigger(trigger), created: true, outcome: decision.outcome, ...(pendingTriggerId === undefined ? {} : { pendingTriggerId }) });
      }
      if (watchers.size > 0) {
        let earliest = Number.POSITIVE_INFINITY;
        for (const i of out) if (i.created && i.trigger.status === 'pending') earliest = Math.min(earliest, i.trigger.evaluateAt.getTime());
        if (Number.isFinite(earliest)) for (const watcher of watchers) watcher(new Date(earliest));
      }
      return out;
    },

    async getTrigger(accountId, id) {
      const trigger = ownedTrigger(accountId, id);
      return trigger ? stripLease(trigger) : null;
    },

    async listTriggers(accountId, filter: TriggerFilter) {
      // An invalid bound compares false with every date: it would filter nothing, silently.
      if (filter.from !== undefined) requireValidDate(filter.from, 'from');
      if (filter.to !== undefined) requireValidDate(filter.to, 'to');
      const limit = clampLimit(filter.limit);
      const statuses = filter.status === undefined ? undefined : new Set(Array.isArray(filter.status) ? filter.status : [filter.status]);
      // An entity's own id list when filtering by entity: the filter never walks the account's triggers.
      const ids = filter.entityKey === undefined ? (triggersByAccount.get(accountId) ?? []) : entities.listed(accountId, filter.entityKey);
      const out: StoredTrigger[] = [];
      // Newest first; the cursor is the last id of the previous page.
      for (let i = ids.length - 1; i >= 0 && out.length <= limit; i--) {
        const t = triggers.get(ids[i] as string);
        if (!t) continue;
        if (filter.cursor !== undefined && t.id >= filter.cursor) continue;
        if (statuses && !statuses.has(t.status)) continue;
        if (filter.ruleId !== undefined && t.ruleId !== filter.ruleId) continue;
        if (filter.entityKey !== undefined && t.entityKey !== filter.entityKey) continue;
        if (filter.from && t.evaluateAt < filter.from) continue;
        if (filter.to && t.evaluateAt >= filter.to) continue;
        out.push(t);
      }
      const page = paginate(out, limit);
      return { ...page, items: page.items.map(stripLease) };
    },

    async claimDueTriggers({ now, limit, leaseMs }: ClaimRequest) {
      const at = requireValidDate(now, 'now').getTime();
      if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', `leaseMs must be a positive number, got ${leaseMs}`);
      // A lease that would end past the date range has no time to expire at (and no place in the heap).
      if (!Number.isFinite(new Date(at + leaseMs).getTime())) throw new AutomationError('CRM_ERR_CONFIG', `leaseMs ${leaseMs} from ${now.toISOString()} ends outside the date range`);
      const claimed: ClaimedTrigger[] = [];
      // One random part per claim, made unique per trigger by a counter: as unguessable as a token
      // per trigger for what it guards (a stale worker's write), at a fraction of the cost.
      const batchToken = randomBytes(12).toString('hex');
      while (claimed.length < limit) {
        const trigger = takeFrom(leases, at, isExpired) ?? takeFrom(due, at, isDue);
        if (!trigger) break;
        const leaseToken = `${batchToken}${(claimed.length + 1).toString(36)}`;
        const leaseExpiresAt = new Date(at + leaseMs);
        setStatus(trigger, 'processing');
        trigger.attempt += 1;
        trigger.leaseToken = leaseToken;
        trigger.leaseExpiresAt = leaseExpiresAt;
        trigger.updatedAt = now;
        leases.push(leaseExpiresAt.getTime(), trigger.id);
        claimed.push(claimedCopy(trigger, leaseToken, leaseExpiresAt));
      }
      return claimed;
    },

    async finishAttempt(id, leaseToken, result: AttemptResult) {
      requireValidResult(result);
      return finishOne(id, leaseToken, result);
    },

    async transitionTrigger(accountId, id, request: TransitionRequest): Promise<TransitionResult> {
      const trigger = ownedTrigger(accountId, id);
      if (!trigger) return { ok: false, reason: 'not-found' };
      if (!request.from.includes(trigger.status)) return { ok: false, reason: 'conflict', current: trigger.status };
      if (request.evaluateAt !== undefined) requireValidDate(request.evaluateAt, 'evaluateAt');
      requireValidDate(request.now, 'now');
      setStatus(trigger, request.to);
      trigger.updatedAt = request.now;
      trigger.executionHistory.push(request.history);
      if (request.evaluateAt) trigger.evaluateAt = request.evaluateAt;
      if (request.to === 'pending') due.push(trigger.evaluateAt.getTime(), id);
      return { ok: true, trigger: stripLease(trigger) };
    },

    async nextDueAt() {
      const a = earliestValid(due, isDue);
      const b = earliestValid(leases, isExpired);
      const next = Math.min(a ?? Number.POSITIVE_INFINITY, b ?? Number.POSITIVE_INFINITY);
      return Number.isFinite(next) ? new Date(next) : null;
    },

    async purgeTriggers({ statuses, olderThan }: PurgeRequest) {
      // An invalid cutoff compares false with every date: each finished trigger would look old enough.
      requireValidDate(olderThan, 'olderThan');
      let removed = 0;
      const wanted = new Set(statuses);
      const gone: Trigger[] = [];
      for (const [id, t] of triggers) {
        if (!wanted.has(t.status) || t.updatedAt >= olderThan) continue;
        triggers.delete(id);
        gone.push(t);
        const key = `${t.accountId}\u0000${t.triggeringEvent.id}`;
        const seen = intakeKeys.get(key);
        seen?.delete(t.ruleId);
        if (seen?.size === 0) intakeKeys.delete(key);
        removed += 1;
      }
      if (removed > 0) {
        for (const [account, ids] of triggersByAccount) triggersByAccount.set(account, ids.filter((id) => triggers.has(id)));
        entities.removed(gone, (id) => !triggers.has(id));
      }
      return removed;
    },

    async cancelTriggers(request: CancelRequest): Promise<CancelResult> {
      const result: CancelResult = { cancelled: [], requested: [] };
      const before = requireValidDate(request.eventTimestamp, 'eventTimestamp').getTime();
      requireValidDate(request.now, 'now');
      for (const id of entities.cancellableIds(request.accountId, request.ruleId, request.entityKey)) {
        const trigger = triggers.get(id);
        // A late, older cancel must not cancel a newer run: only strictly older events are affected.
        if (!trigger || trigger.triggeringEvent.timestamp.getTime() >= before) continue;
        if (trigger.status === 'processing') {
          trigger.cancelRequested = { event: { ...request.event }, at: request.now };
          result.requested.push(stripLease(trigger));
          continue;
        }
        trigger.executionHistory.push({ outcome: 'cancelled', reason: request.reason ?? 'cancelled-by-event', event: { ...request.event }, at: request.now, attempt: trigger.attempt, by: request.by });
        trigger.updatedAt = request.now;
        setStatus(trigger, 'cancelled');
        result.cancelled.push(stripLease(trigger));
      }
      return result;
    },

    async finishAttempts(requests) {
      // The whole batch or none of it, as for one outcome.
      for (const r of requests) requireValidResult(r.result);
      const out: boolean[] = [];
      for (const r of requests) out.push(finishOne(r.id, r.leaseToken, r.result));
      return out;
    },

    async watchDue(onDue) {
      watchers.add(onDue);
      return async () => {
        watchers.delete(onDue);
      };
    },

    async close() {},
  };
  return declareInProcessStore(store);
}

/**
 * What {@link stripLease} and then `{ ...copy, leaseToken, leaseExpiresAt }` give for a trigger just
 * claimed (its lease set), built property by property from an empty object: V8 adds a property that
 * follows a spread through the runtime, which made that literal the dearest line of a claim.
 */
function claimedCopy(trigger: StoredTrigger, leaseToken: string, leaseExpiresAt: Date): ClaimedTrigger {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(trigger)) if (key !== 'leaseToken') out[key] = trigger[key as keyof StoredTrigger];
  const copy = out as unknown as ClaimedTrigger;
  copy.executionHistory = [...trigger.executionHistory];
  copy.sentActions = [...trigger.sentActions];
  if (trigger.cancelRequested) copy.cancelRequested = { ...trigger.cancelRequested, event: { ...trigger.cancelRequested.event } };
  if (trigger.schedule) copy.schedule = copySchedule(trigger.schedule);
  copy.leaseToken = leaseToken;
  copy.leaseExpiresAt = leaseExpiresAt;
  return copy;
}

function stripLease(trigger: StoredTrigger): Trigger {
  const { leaseToken: _token, ...rest } = trigger;
  return copyTrigger(rest);
}
