import { randomBytes } from 'node:crypto';
import type { Collection, Filter, ObjectId } from 'mongodb';
import type { AttemptResult, CancelRequest, CancelResult, TriggerStatus } from '@crm-automation/core';
import { pendingSlotOf, toTrigger, type TriggerDocument } from './documents.js';
import { settleSlot, SLOT_FIELDS } from './pending-slot.js';
import { expireAtFor, type ResolvedRetention } from './retention.js';
import { requireValidDate } from '@crm-automation/core/spi';

/*
 * Cancel by event on single-document guarantees (no pipeline updates, which some MongoDB-wire servers
 * lack, and no transaction):
 * 1. Read the candidates of (account, rule, entityKey) with an older event that are pending, retrying
 *    or processing (index `triggers_by_entity_status`); none, and the call is done in that one read.
 *    A superseded trigger still handing its slot over (pending-slot.ts) is finished first, so the
 *    successor it carries is stored and can be cancelled too.
 * 2. Waiting ones: one `updateMany({ _id: { $in }, status: pending|retrying, attempt })` per attempt
 *    number (usually one; the history entry records the attempt); processing ones: one
 *    `updateMany({ _id: { $in }, status: 'processing', cancelRequested: missing })` setting
 *    `cancelRequested`. Each document's write is atomic and re-checks its status, so a trigger claimed,
 *    finished or retried between 1 and 2 is not written by the wrong update; whatever did not match is
 *    read again (1), so a trigger that moved from waiting to processing (or back) is still caught.
 * 3. Every write stamps this call's random mark, and one read by the mark returns exactly what this
 *    call did, as it is after it.
 */

const WAITING: readonly TriggerStatus[] = ['pending', 'retrying'];
/** Read-write rounds before the call settles for what it did (each round follows a status change). */
const MAX_ROUNDS = 5;

interface Candidate {
  _id: ObjectId;
  status: TriggerStatus;
  attempt: number;
  cancelRequested?: TriggerDocument['cancelRequested'];
  handover?: { _id: ObjectId };
}

export async function cancelTriggers(triggers: Collection<TriggerDocument>, retention: ResolvedRetention | undefined, request: CancelRequest): Promise<CancelResult> {
  const now = requireValidDate(request.now, 'now');
  const eventTimestamp = requireValidDate(request.eventTimestamp, 'eventTimestamp');
  const event = { id: request.event.id, name: request.event.name };
  const reason = request.reason ?? 'cancelled-by-event';
  const scope: Filter<TriggerDocument> = { accountId: request.accountId, ruleId: request.ruleId, entityKey: request.entityKey };
  const mark = randomBytes(12).toString('hex');
  const cancelledMark = `${mark}:cancelled`;
  const requestedMark = `${mark}:requested`;
  const expireAt = expireAtFor(retention, 'cancelled', now);
  let wrote = false;

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const candidates = (await triggers
      .find(
        { ...scope, 'triggeringEvent.timestamp': { $lt: eventTimestamp }, $or: [{ status: { $in: [...WAITING, 'processing'] } }, { handover: { $exists: true } }] },
        { projection: { _id: 1, status: 1, attempt: 1, cancelRequested: 1, 'handover._id': 1 } },
      )
      .toArray()) as Candidate[];
    // A supersede under way: its successor (maybe older than this cancel) is stored first, then read again.
    if (candidates.some((c) => c.handover)) {
      await settleSlot(triggers, pendingSlotOf(request.accountId, request.ruleId, request.entityKey));
      continue;
    }
    const waiting = candidates.filter((c) => WAITING.includes(c.status));
    const processing = candidates.filter((c) => c.status === 'processing' && !c.cancelRequested);
    if (waiting.length === 0 && processing.length === 0) break;
    let missed = 0;
    const byAttempt = new Map<number, ObjectId[]>();
    for (const c of waiting) byAttempt.set(c.attempt, [...(byAttempt.get(c.attempt) ?? []), c._id]);
    for (const [attempt, ids] of byAttempt) {
      const result = await triggers.updateMany(
        { _id: { $in: ids }, status: { $in: [...WAITING] }, attempt },
        {
          $set: { status: 'cancelled', updatedAt: now, cancelMark: cancelledMark, ...(expireAt ? { expireAt } : {}) },
          $unset: SLOT_FIELDS,
          $push: { executionHistory: { outcome: 'cancelled', reason, event, at: now, attempt, by: request.by } },
        },
      );
      missed += ids.length - result.modifiedCount;
      wrote ||= result.modifiedCount > 0;
    }
    if (processing.length > 0) {
      // Status and lease stay: the worker holding it reads the request before its next action.
      const result = await triggers.updateMany(
        { _id: { $in: processing.map((c) => c._id) }, status: 'processing', cancelRequested: { $exists: false } },
        { $set: { cancelRequested: { event, at: now }, cancelMark: requestedMark } },
      );
      missed += processing.length - result.modifiedCount;
      wrote ||= result.modifiedCount > 0;
    }
    if (missed === 0) break;
  }
  if (!wrote) return { cancelled: [], requested: [] };
  const docs = await triggers.find({ ...scope, cancelMark: { $in: [cancelledMark, requestedMark] } }).sort({ _id: 1 }).toArray();
  return {
    cancelled: docs.filter((d) => d.cancelMark === cancelledMark).map(toTrigger),
    requested: docs.filter((d) => d.cancelMark === requestedMark).map(toTrigger),
  };
}

/**
 * The outcome to write instead of `retrying` for a trigger whose cancel was requested while it was
 * processing: `cancelled` with the cancelling event, so the cancel is not lost to the retry.
 */
export function cancelledInstead(result: AttemptResult, requested: NonNullable<TriggerDocument['cancelRequested']>): AttemptResult {
  const { nextAttemptAt: _next, ...entry } = result.history;
  return { status: 'cancelled', sentActions: result.sentActions, now: result.now, history: { ...entry, outcome: 'cancelled', reason: 'cancelled-by-event', event: requested.event } };
}
