import { AutomationError } from '@crm-automation/core';
import type { Collection } from 'mongodb';
import type { TriggerDocument } from './documents.js';
import { existingIndexes } from './indexes.js';
import { isDuplicateKey } from './write-errors.js';

/*
 * The pending slot of one (account, rule, entityKey), held without a gap while it passes from a
 * superseded trigger to its successor, with single-document writes only.
 *
 * Two sparse unique indexes, on `pendingSlot` and on `slotLatch`. A trigger that takes a free slot
 * (intake's insert) carries the slot value in BOTH fields, so it is refused while any document holds
 * either. The holder is the `pending` trigger with one or both of them and no hand-over under way.
 * Supersede (P → T) is hand-over-hand:
 * 1. P (`pending`, no hand-over, its fields as read) → `cancelled`; it keeps one field (`pendingSlot`
 *    if it has it), drops the other, and carries T's whole document in `handover` (one compare-and-set).
 * 2. T is inserted `pending` holding the other field (free: P dropped it, new triggers need both and
 *    are refused by P's, and no other hand-over can start from a trigger that is handing over).
 * 3. P drops its field and `handover`. T holds one field: the holder.
 * At every moment some document holds one of the two fields, so no intake ever sees the slot free in
 * the middle of a supersede. Every step is idempotent and P carries all that is needed, so any
 * process that meets an unfinished hand-over (another intake, a cancel) finishes it itself: a
 * supersede cut short by a crash after step 1 is completed by the next operation on that slot.
 * Leaving `pending` (claim, cancel, user transition) `$unset`s both fields in the same write.
 */

/** `$unset` of everything that holds a slot, for every write that takes a trigger out of `pending`. */
export const SLOT_FIELDS = { pendingSlot: '', slotLatch: '' } as const;

/** Read-and-repair rounds before the slot is declared contended (retryable). */
const MAX_ROUNDS = 8;

/**
 * Refuses keyed concurrency on a collection whose slot indexes are missing (indexes managed by
 * migrations, `autoIndex: false`): without them nothing would keep two triggers pending.
 */
export async function requireSlotIndexes(triggers: Collection<TriggerDocument>): Promise<void> {
  const indexes = await existingIndexes(triggers);
  const missing = SLOT_INDEXES.filter((name) => !indexes.some((i) => i['name'] === name && i['unique'] === true && i['sparse'] === true));
  if (missing.length > 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `${triggers.collectionName} lacks the unique sparse index(es) ${missing.join(', ')} that keyed concurrency (supersede, skipIfPending) relies on; run ensureIndexes() or create them (see TRIGGER_INDEXES)`);
  }
}

const SLOT_INDEXES = ['triggers_pending_slot', 'triggers_slot_latch'] as const;

export function contended(slot: string): AutomationError {
  return new AutomationError('CRM_ERR_TRIGGER_STATE', `the pending trigger of ${slot} kept changing while it was read; retry`, { retryable: true });
}

/** The field a holder keeps while it hands over (step 1), and so the one its successor takes. */
export function handoverFields(holder: TriggerDocument): { keep: 'pendingSlot' | 'slotLatch'; give: 'pendingSlot' | 'slotLatch' } {
  return holder.pendingSlot !== undefined ? { keep: 'pendingSlot', give: 'slotLatch' } : { keep: 'slotLatch', give: 'pendingSlot' };
}

/**
 * Finishes steps 2-3 of the hand-over `from` carries. Resolves to the existing trigger of the
 * successor's event when that event turned out to be stored already under another id (its redelivery
 * got in through another path): then P's history is pointed at it and the slot is simply released.
 */
export async function completeHandover(triggers: Collection<TriggerDocument>, from: TriggerDocument): Promise<TriggerDocument | undefined> {
  const successor = from.handover;
  if (!successor) return undefined;
  let sameEvent: TriggerDocument | undefined;
  try {
    await triggers.insertOne(successor);
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    // Already inserted (by the superseder or a helper), or its event already has a trigger of its own.
    if (!(await triggers.findOne({ _id: successor._id }, { projection: { _id: 1 } }))) {
      const existing = await triggers.findOne({ accountId: successor.accountId, 'triggeringEvent.id': successor.triggeringEvent.id, ruleId: successor.ruleId });
      if (!existing) throw contended(from.pendingSlot ?? from.slotLatch ?? String(from._id));
      sameEvent = existing;
      await triggers.updateOne(
        { _id: from._id },
        { $set: { 'executionHistory.$[entry].triggerId': existing._id.toHexString() } },
        { arrayFilters: [{ 'entry.triggerId': successor._id.toHexString() }] },
      );
    }
  }
  await triggers.updateOne({ _id: from._id, 'handover._id': successor._id }, { $unset: { ...SLOT_FIELDS, handover: '' } });
  return sameEvent;
}

/**
 * The pending holder of `slot`, or null when the slot is free, after finishing whatever hand-over is
 * under way. Reads by both indexed fields (at most two documents).
 */
export async function settleSlot(triggers: Collection<TriggerDocument>, slot: string): Promise<TriggerDocument | null> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Two exact lookups, one per unique index, rather than one `$or`: servers that use an index only for
    // a filter naming exactly its key (the test server) would otherwise scan the collection.
    const found = await Promise.all([triggers.findOne({ pendingSlot: slot }), triggers.findOne({ slotLatch: slot })]);
    const holders = found.filter((d, i): d is TriggerDocument => d !== null && (i === 0 || !d._id.equals(found[0]?._id ?? '')));
    if (holders.length === 0) return null;
    const handingOver = holders.find((h) => h.handover);
    if (handingOver) {
      await completeHandover(triggers, handingOver);
      continue;
    }
    const holder = holders.find((h) => h.status === 'pending');
    if (holder) return holder;
    // Only a write that forgot the slot fields could leave them on a trigger that is not pending.
    for (const h of holders) await triggers.updateOne({ _id: h._id, status: h.status, handover: { $exists: false } }, { $unset: SLOT_FIELDS });
  }
  throw contended(slot);
}
