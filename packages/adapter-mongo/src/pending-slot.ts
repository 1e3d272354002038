import { AutomationError } from '@crm-automation/core';
import type { Collection } from 'mongodb';
import type { TriggerDocument } from './documents.js';
import { isDuplicateKey } from './write-errors.js';

/*
 * The pending slot of one (account, rule, entityKey), held without a gap while it passes from a
 * superseded trigger to its successor, with single-document writes only.
 *
 * Two sparse unique indexes, on `pendingSlot` and on `slotLatch`. A trigger that takes a free slot
 * (intake's insert) carries the slot value in BOTH fields, so it is refused while any document holds
 * either. A settled holder is a `pending` trigger with both. Supersede (P → T) is a hand-over-hand:
 * 1. P: `pending`, both fields, no hand-over → `cancelled`, keeps `pendingSlot`, drops `slotLatch`,
 *    and carries T's whole document in `handover` (one compare-and-set write).
 * 2. T inserted `pending` with `slotLatch` only (nobody else can hold the latch: new triggers need both
 *    fields and P still holds `pendingSlot`).
 * 3. P drops `pendingSlot` and `handover` (T's latch still keeps new triggers out).
 * 4. T takes `pendingSlot`: settled.
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

export function contended(slot: string): AutomationError {
  return new AutomationError('CRM_ERR_TRIGGER_STATE', `the pending trigger of ${slot} kept changing while it was read; retry`, { retryable: true });
}

/**
 * Finishes steps 2-4 of the hand-over `from` carries. Resolves to the existing trigger of the
 * successor's event when that event turned out to be stored already under another id (its redelivery
 * got in through another path): then P's history is pointed at it and the slot is simply released.
 */
export async function completeHandover(triggers: Collection<TriggerDocument>, from: TriggerDocument): Promise<TriggerDocument | undefined> {
  const successor = from.handover;
  const slot = from.pendingSlot;
  if (!successor || slot === undefined) return undefined;
  let sameEvent: TriggerDocument | undefined;
  try {
    await triggers.insertOne(successor);
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    // Already inserted (by the superseder or a helper), or its event already has a trigger of its own.
    if (!(await triggers.findOne({ _id: successor._id }, { projection: { _id: 1 } }))) {
      const existing = await triggers.findOne({ accountId: successor.accountId, 'triggeringEvent.id': successor.triggeringEvent.id, ruleId: successor.ruleId });
      if (!existing) throw contended(slot);
      sameEvent = existing;
      await triggers.updateOne(
        { _id: from._id },
        { $set: { 'executionHistory.$[entry].triggerId': existing._id.toHexString() } },
        { arrayFilters: [{ 'entry.triggerId': successor._id.toHexString() }] },
      );
    }
  }
  await triggers.updateOne({ _id: from._id, 'handover._id': successor._id }, { $unset: { pendingSlot: '', handover: '' } });
  if (!sameEvent) await takeSlot(triggers, successor._id, slot);
  return sameEvent;
}

/** Step 4: a pending latch holder takes `pendingSlot` too (no match once it left `pending`). */
async function takeSlot(triggers: Collection<TriggerDocument>, _id: TriggerDocument['_id'], slot: string): Promise<void> {
  try {
    await triggers.updateOne({ _id, status: 'pending', slotLatch: slot, pendingSlot: { $exists: false } }, { $set: { pendingSlot: slot } });
  } catch (error) {
    // Only a hand-over still releasing the field can hold it; the next settle tries again.
    if (!isDuplicateKey(error)) throw error;
  }
}

/**
 * The settled pending holder of `slot`, or null when the slot is free, after finishing whatever
 * hand-over is under way. Reads by both indexed fields (at most two documents).
 */
export async function settleSlot(triggers: Collection<TriggerDocument>, slot: string): Promise<TriggerDocument | null> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const holders = await triggers.find({ $or: [{ pendingSlot: slot }, { slotLatch: slot }] }).toArray();
    if (holders.length === 0) return null;
    const handingOver = holders.find((h) => h.handover);
    if (handingOver) {
      await completeHandover(triggers, handingOver);
      continue;
    }
    const settled = holders.find((h) => h.status === 'pending' && h.pendingSlot === slot && h.slotLatch === slot);
    if (settled) return settled;
    for (const h of holders) {
      if (h.status !== 'pending') await triggers.updateOne({ _id: h._id, status: h.status, handover: { $exists: false } }, { $unset: SLOT_FIELDS });
      else if (h.slotLatch === slot) await takeSlot(triggers, h._id, slot);
      else await triggers.updateOne({ _id: h._id, status: 'pending', pendingSlot: slot, slotLatch: { $exists: false }, handover: { $exists: false } }, { $set: { slotLatch: slot } }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
    }
  }
  throw contended(slot);
}
