import { ObjectId, type Collection } from 'mongodb';
import { AutomationError, type HistoryEntry, type InsertedTrigger, type NewTrigger, type TriggerConcurrency, type TriggerStatus } from '@crm-automation/core';
import { pendingSlotOf, toTrigger, type TriggerDocument } from './documents.js';
import { expireAtFor, type ResolvedRetention } from './retention.js';
import { completeHandover, handoverFields, settleSlot } from './pending-slot.js';
import { isDuplicateKey } from './write-errors.js';

/*
 * Keyed concurrency (`supersede`, `skipIfPending`) on what MongoDB guarantees for single documents.
 * A trigger inserted with a mode takes its entity's pending slot (pending-slot.ts: two sparse unique
 * fields) in the intake's one `insertMany`; one refused by the slot (and not a redelivery) comes here,
 * where each decision is made against the settled holder P (an unfinished supersede is finished first):
 * - none → insert again with the slot (it may be free now);
 * - `skipIfPending`: this event is stored `skipped`, naming P (it never takes the slot);
 * - `supersede`, P older: the hand-over of pending-slot.ts, whose first write is a compare-and-set on P
 *   (`pending`, holding the slot, no hand-over); a claim, cancel or other superseder that got to P first
 *   makes it match nothing, and the decision is made again;
 * - `supersede`, P as new or newer: this event is stored `cancelled` (stale), naming P.
 * Any insert the (account, event id, rule) index refuses is a redelivery, whatever was decided.
 */

/** Decisions made again for one trigger before the intake is refused as retryable (contention). */
const MAX_ROUNDS = 8;

type Inserted = { kind: 'inserted' } | { kind: 'redelivered'; existing: TriggerDocument } | { kind: 'slot-taken' };

export interface KeyedInsertContext {
  triggers: Collection<TriggerDocument>;
  retention: ResolvedRetention | undefined;
}

/** Only the two modes take the slot; anything else (a caller passing `all` at run time) is mode `all`. */
const takesSlot = (concurrency: NewTrigger['concurrency']): boolean => concurrency?.mode === 'supersede' || concurrency?.mode === 'skipIfPending';

/** Both slot fields: what a trigger that takes a free slot carries. */
const slotFields = (slot: string) => ({ pendingSlot: slot, slotLatch: slot });

/**
 * The document intake stores for one trigger: pending; a keyed trigger carries its entity key and
 * `firstEventAt`, and one inserted with a concurrency mode also its pending slot. A concurrency mode
 * without an entity key is mode `all` (the engine found no key in the event). A trigger that comes
 * `skipped` is stored finished with that entry as its only history and never takes the slot, so the
 * intake's one `insertMany` decides it like an unkeyed trigger (only the dedupe index can refuse it).
 */
export function newTriggerDocument(input: NewTrigger, now: Date, retention: ResolvedRetention | undefined): TriggerDocument {
  const keyed = typeof input.entityKey === 'string';
  const expireAt = input.skipped ? expireAtFor(retention, 'skipped', now) : undefined;
  return {
    _id: new ObjectId(),
    accountId: input.accountId,
    ruleId: input.ruleId,
    ruleVersion: input.ruleVersion,
    status: input.skipped ? 'skipped' : 'pending',
    evaluateAt: input.evaluateAt,
    attempt: 0,
    triggeringEvent: input.triggeringEvent,
    ...(input.trace ? { trace: input.trace } : {}),
    executionHistory: input.skipped ? [input.skipped] : [],
    sentActions: [],
    createdAt: now,
    updatedAt: now,
    ...(input.schedule ? { schedule: input.schedule } : {}),
    ...(expireAt ? { expireAt } : {}),
    ...(keyed ? { entityKey: input.entityKey, firstEventAt: input.triggeringEvent.timestamp } : {}),
    ...(keyed && !input.skipped && takesSlot(input.concurrency) && input.entityKey !== undefined ? slotFields(pendingSlotOf(input.accountId, input.ruleId, input.entityKey)) : {}),
  };
}

/**
 * Fills the `undefined` places of `results` (keyed triggers the slot index refused) with their
 * decisions: triggers of different slots concurrently, those of one slot one after the other in batch
 * order, so a batch never races itself.
 */
export async function settleKeyedTriggers(
  ctx: KeyedInsertContext,
  batch: readonly NewTrigger[],
  docs: readonly TriggerDocument[],
  results: (InsertedTrigger | undefined)[],
  now: Date,
  holders: ReadonlyMap<string, TriggerDocument | null>,
): Promise<void> {
  const bySlot = new Map<string, number[]>();
  results.forEach((r, i) => {
    const slot = docs[i]?.pendingSlot;
    if (r !== undefined || slot === undefined) return;
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), i]);
  });
  await Promise.all(
    [...bySlot.values()].map(async (indexes) => {
      let first = true;
      for (const i of indexes) {
        const doc = docs[i];
        const concurrency = batch[i]?.concurrency;
        if (!doc || doc.pendingSlot === undefined || !concurrency) continue;
        // The holder read with the redelivery check serves the slot's first trigger; later ones read again.
        const known = first ? holders.get(doc.pendingSlot) : undefined;
        first = false;
        results[i] = await settleKeyedTrigger(ctx, { ...doc, pendingSlot: doc.pendingSlot }, concurrency, now, known);
      }
    }),
  );
}

/** The settled holder of each slot the refused documents wanted (see {@link settleSlot}). */
export async function readHolders(triggers: Collection<TriggerDocument>, refused: readonly TriggerDocument[]): Promise<Map<string, TriggerDocument | null>> {
  const slots = [...new Set(refused.flatMap((d) => (d.pendingSlot === undefined ? [] : [d.pendingSlot])))];
  return new Map(await Promise.all(slots.map(async (slot) => [slot, await settleSlot(triggers, slot)] as const)));
}

/** The redelivery answer: the trigger that already holds this (account, event id, rule). */
export function redelivered(existing: TriggerDocument): InsertedTrigger {
  return { trigger: toTrigger(existing), created: false, outcome: 'redelivered' };
}

/**
 * Decides one keyed trigger whose first insert the slot index refused. `doc` is the trigger as the
 * intake built it: pending, holding `pendingSlot`, `firstEventAt` its own event's timestamp.
 */
export async function settleKeyedTrigger(
  ctx: KeyedInsertContext,
  doc: TriggerDocument & { pendingSlot: string },
  concurrency: TriggerConcurrency,
  now: Date,
  known?: TriggerDocument | null,
): Promise<InsertedTrigger> {
  const { triggers, retention } = ctx;
  const slot = doc.pendingSlot;
  const event = { id: doc.triggeringEvent.id, name: doc.triggeringEvent.name };
  const eventTime = doc.triggeringEvent.timestamp.getTime();

  const insert = async (candidate: TriggerDocument): Promise<Inserted> => {
    try {
      await triggers.insertOne(candidate);
      return { kind: 'inserted' };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const existing = await triggers.findOne({ accountId: candidate.accountId, 'triggeringEvent.id': candidate.triggeringEvent.id, ruleId: candidate.ruleId });
    if (existing) return { kind: 'redelivered', existing };
    if (candidate.pendingSlot !== undefined) return { kind: 'slot-taken' };
    throw new AutomationError('CRM_ERR_TRIGGER_NOT_FOUND', `trigger for event ${candidate.triggeringEvent.id} was reported as existing but is gone; retry the intake`, { retryable: true });
  };

  /** This event stored finished at once (skipped or stale): it never holds the slot. */
  const finished = (status: Extract<TriggerStatus, 'skipped' | 'cancelled'>, entry: HistoryEntry): TriggerDocument => {
    const { pendingSlot: _slot, slotLatch: _latch, ...rest } = doc;
    const expireAt = expireAtFor(retention, status, now);
    return { ...rest, status, executionHistory: [entry], ...(expireAt ? { expireAt } : {}) };
  };

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pending = round === 0 && known !== undefined ? known : await settleSlot(triggers, slot);
    if (!pending) {
      const result = await insert(doc);
      if (result.kind === 'inserted') return { trigger: toTrigger(doc), created: true, outcome: 'created' };
      if (result.kind === 'redelivered') return redelivered(result.existing);
      continue;
    }
    const pendingId = pending._id.toHexString();

    if (concurrency.mode === 'skipIfPending') {
      const skipped = finished('skipped', { outcome: 'skipped', reason: 'pending-exists', triggerId: pendingId, event, at: now, attempt: 0 });
      const result = await insert(skipped);
      if (result.kind === 'redelivered') return redelivered(result.existing);
      return { trigger: toTrigger(skipped), created: true, outcome: 'skipped', pendingTriggerId: pendingId };
    }

    if (pending.triggeringEvent.timestamp.getTime() >= eventTime) {
      const stale = finished('cancelled', { outcome: 'superseded', reason: 'stale', triggerId: pendingId, at: now, attempt: 0 });
      const result = await insert(stale);
      if (result.kind === 'redelivered') return redelivered(result.existing);
      return { trigger: toTrigger(stale), created: true, outcome: 'stale', pendingTriggerId: pendingId };
    }

    const firstEventAt = pending.firstEventAt ?? pending.triggeringEvent.timestamp;
    const cap = concurrency.maxWaitMs === undefined ? undefined : firstEventAt.getTime() + concurrency.maxWaitMs;
    const evaluateAt = cap !== undefined && cap < doc.evaluateAt.getTime() ? new Date(cap) : doc.evaluateAt;
    // Step 2's document: pending, holding the field P gives up (pending-slot.ts).
    const { keep, give } = handoverFields(pending);
    const { pendingSlot: _slot, slotLatch: _latch, ...fields } = doc;
    const successorId = fields._id.toHexString();
    // A scheduled rule's run whose due time this event moves: both histories say from where to where.
    // The entries travel in the same writes as a plain supersede (P's compare-and-set, the successor's
    // document in the hand-over), so a reschedule costs no extra command.
    const moved = concurrency.reschedule === true && pending.evaluateAt.getTime() !== evaluateAt.getTime();
    const change = { from: pending.evaluateAt, to: evaluateAt, eventId: event.id };
    const replacedEntry: HistoryEntry = moved
      ? { outcome: 'superseded', reason: 'rescheduled', ...change, triggerId: successorId, event, at: now, attempt: pending.attempt }
      : { outcome: 'superseded', reason: 'superseded', triggerId: successorId, event, at: now, attempt: pending.attempt };
    const successorHistory: HistoryEntry[] = moved ? [{ outcome: 'rescheduled', reason: 'rescheduled', ...change, triggerId: pendingId, event, at: now, attempt: 0 }] : [];
    const successor: TriggerDocument = { ...fields, firstEventAt, evaluateAt, executionHistory: successorHistory, [give]: slot };
    const cancelledExpireAt = expireAtFor(retention, 'cancelled', now);
    const from = await triggers.findOneAndUpdate(
      {
        _id: pending._id,
        status: 'pending',
        handover: { $exists: false },
        [keep]: slot,
        [give]: pending[give] ?? { $exists: false },
        // `from` is the due time read: the write applies only while it still is.
        ...(concurrency.reschedule === true ? { evaluateAt: pending.evaluateAt } : {}),
      },
      {
        $set: { status: 'cancelled', updatedAt: now, handover: successor, ...(cancelledExpireAt ? { expireAt: cancelledExpireAt } : {}) },
        $unset: { [give]: '' },
        $push: { executionHistory: replacedEntry },
      },
      { returnDocument: 'after' },
    );
    // Claimed, cancelled or superseded by another intake since it was read: decide again.
    if (!from) continue;
    const sameEvent = await completeHandover(triggers, from);
    if (sameEvent) return redelivered(sameEvent);
    return { trigger: toTrigger(successor), created: true, outcome: 'superseded', pendingTriggerId: pendingId };
  }
  throw new AutomationError(
    'CRM_ERR_TRIGGER_STATE',
    `the pending trigger of rule ${doc.ruleId} for entity ${JSON.stringify(doc.entityKey)} changed ${MAX_ROUNDS} times while event ${doc.triggeringEvent.id} was being decided; retry the intake`,
    { retryable: true },
  );
}
