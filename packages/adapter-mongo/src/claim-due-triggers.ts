import { randomBytes, randomInt } from 'node:crypto';
import type { Collection, Filter, ObjectId } from 'mongodb';
import { AutomationError, type ClaimedTrigger, type ClaimRequest, type TriggerStatus } from '@crm-automation/core';
import { toClaimedTrigger, type TriggerDocument } from './documents.js';
import { SLOT_FIELDS } from './pending-slot.js';
import { requireValidDate } from '@crm-automation/core/spi';

/*
 * A claim relies only on what MongoDB guarantees for single documents:
 * 1. Read candidate ids in claim order (expired leases by `leaseExpiresAt`, then due triggers by
 *    `evaluateAt`), from the `triggers_lease_expiry` and `triggers_due` indexes.
 * 2. One `updateMany({ _id: { $in: candidates }, ...still claimable at now })` stamps a fresh claim
 *    token as the lease token, sets the lease and `$inc`s the attempt. Each document's update is
 *    atomic and the server re-evaluates the filter on the document it writes, so of several claimers
 *    whose candidates overlap, exactly one takes each trigger; the others' filters no longer match it.
 * 3. One read by `_id` of the same candidates; those carrying this call's token are this call's.
 * Nothing spans documents as a unit, so nothing needs a transaction, a lock or a ticket collection.
 * Chosen by measurement over a sorted findOneAndUpdate per trigger and a conditional findOneAndUpdate
 * per candidate (bench/src/mongo-store.bench.ts; figures in the README).
 */

const DUE_STATUSES: readonly TriggerStatus[] = ['pending', 'retrying'];
/**
 * Candidates read per wanted trigger. Claimers that read the same head of the queue lose some to
 * each other; spare candidates let a loser move on without reading the queue again.
 */
const OVERFETCH = 4;
const MAX_CANDIDATES = 1_000;
/** Candidate reads per claim call: only a full read lost entirely to other claimers is repeated. */
const MAX_ROUNDS = 3;

/** Pending or retrying and due at `now`. */
export function dueFilter(now: Date): Filter<TriggerDocument> {
  return { status: { $in: [...DUE_STATUSES] }, evaluateAt: { $lte: now } };
}

/** Processing under a lease that has run out at `now` (its worker is presumed dead). */
export function expiredLeaseFilter(now: Date): Filter<TriggerDocument> {
  return { status: 'processing', leaseExpiresAt: { $lte: now } };
}

/** The candidate query for due triggers, answered by the `triggers_due` index (exported for explain output). */
export function dueClaimQuery(now: Date): { filter: Filter<TriggerDocument>; sort: { evaluateAt: 1 }; projection: { _id: 1 } } {
  return { filter: dueFilter(now), sort: { evaluateAt: 1 }, projection: { _id: 1 } };
}

/** The candidate query for expired leases, answered by the `triggers_lease_expiry` index. */
export function expiredLeaseClaimQuery(now: Date): { filter: Filter<TriggerDocument>; sort: { leaseExpiresAt: 1 }; projection: { _id: 1 } } {
  return { filter: expiredLeaseFilter(now), sort: { leaseExpiresAt: 1 }, projection: { _id: 1 } };
}

interface Candidate {
  _id: ObjectId;
  expired: boolean;
}

async function readCandidates(triggers: Collection<TriggerDocument>, now: Date, limit: number): Promise<{ expired: Candidate[]; due: Candidate[] }> {
  const expiredQuery = expiredLeaseClaimQuery(now);
  const expired = (await triggers.find(expiredQuery.filter, { projection: expiredQuery.projection }).sort(expiredQuery.sort).limit(limit).toArray()).map((d) => ({ _id: d._id, expired: true }));
  if (expired.length >= limit) return { expired, due: [] };
  const dueQuery = dueClaimQuery(now);
  const due = (await triggers.find(dueQuery.filter, { projection: dueQuery.projection }).sort(dueQuery.sort).limit(limit - expired.length).toArray()).map((d) => ({ _id: d._id, expired: false }));
  return { expired, due };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Claims up to `limit` triggers: expired leases first, then due triggers in `evaluateAt` order, with
 * a fresh random lease token (one per wave of a claim call) and `attempt + 1`. Times are the
 * engine's (`request.now`), never the server's, so engines with skewed clocks agree on what a lease
 * means as long as the skew is small compared with the lease.
 */
export async function claimDueTriggers(triggers: Collection<TriggerDocument>, request: ClaimRequest): Promise<ClaimedTrigger[]> {
  const now = requireValidDate(request.now, 'now');
  if (!Number.isFinite(request.leaseMs) || request.leaseMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', `leaseMs must be a positive number, got ${request.leaseMs}`);
  const limit = Math.floor(request.limit);
  if (!(limit > 0)) return [];
  // Past the date range, the expiry would be stored as 1970: the lease would look expired at once.
  const leaseExpiresAt = requireValidDate(new Date(now.getTime() + request.leaseMs), 'lease expiry');

  /** Takes what it can of one wave of candidates: one conditional updateMany, one read by `_id`. */
  const takeWave = async (wave: readonly Candidate[]): Promise<ClaimedTrigger[]> => {
    const ids = wave.map((c) => c._id);
    const expired = wave.some((c) => c.expired);
    const due = wave.some((c) => !c.expired);
    const still: Filter<TriggerDocument> = expired && due ? { $or: [expiredLeaseFilter(now), dueFilter(now)] } : expired ? expiredLeaseFilter(now) : dueFilter(now);
    const leaseToken = randomBytes(16).toString('hex');
    const result = await triggers.updateMany(
      { _id: { $in: ids }, ...still },
      // Claimed is no longer pending: the keyed pending slot is freed in the same write.
      { $set: { status: 'processing', leaseToken, leaseExpiresAt, leaseOwner: request.owner, updatedAt: now }, $unset: SLOT_FIELDS, $inc: { attempt: 1 } },
    );
    if (result.modifiedCount === 0) return [];
    // Read by `_id` alone and keep what carries this call's token: the token is the proof of the claim.
    const docs = new Map((await triggers.find({ _id: { $in: ids } }).toArray()).map((d) => [d._id.toHexString(), d]));
    const won: ClaimedTrigger[] = [];
    for (const id of ids) {
      const doc = docs.get(id.toHexString());
      const claimed = doc && doc.leaseToken === leaseToken ? toClaimedTrigger(doc) : null;
      if (claimed) won.push(claimed);
    }
    return won;
  };

  const claimed: ClaimedTrigger[] = [];
  for (let round = 0; round < MAX_ROUNDS && claimed.length < limit; round++) {
    const wanted = limit - claimed.length;
    const fetchLimit = Math.min(MAX_CANDIDATES, Math.max(wanted, wanted * OVERFETCH));
    const { expired, due } = await readCandidates(triggers, now, fetchLimit);
    const found = expired.length + due.length;
    // With more due than one read holds, claimers start at a random wave of it instead of all racing
    // for its head: due order is kept within each wave, approximate across waves (a read's worth of
    // triggers). Expired leases always go first.
    const dueOrder = found === fetchLimit && due.length > wanted ? rotate(due, wanted * randomInt(Math.ceil(due.length / wanted))) : due;
    const candidates = [...expired, ...dueOrder];
    let next = 0;
    while (claimed.length < limit && next < candidates.length) {
      const wave = candidates.slice(next, next + (limit - claimed.length));
      next += wave.length;
      claimed.push(...(await takeWave(wave)));
    }
    if (found < fetchLimit) break;
  }
  return claimed;
}
