import { randomBytes } from 'node:crypto';
import type { Collection, Filter, ObjectId, WithId } from 'mongodb';
import type { ClaimedTrigger, ClaimRequest, TriggerStatus } from '@crm-automation/core';
import type { ServerDialect } from './connection.js';
import { toTrigger, type ClaimTicketDocument, type TriggerDocument } from './documents.js';
import { guard, updateOneIfMatches, type Guard } from './guarded-update.js';
import { retryWhileLocked } from './ferretdb-lock.js';
import { duplicateKeyIndexes } from './write-errors.js';

/*
 * Why tickets, not a bare findOneAndUpdate: on MongoDB a findOneAndUpdate from pending to processing
 * is atomic, but FerretDB v1 runs it as "query, filter, then overwrite by _id" with no
 * compare-and-set, so concurrent claimers all win the same trigger (measured: 16 claimers, 300
 * triggers, 1,517 claims). A unique index insert is atomic on both servers, so a claim of attempt k
 * first inserts the ticket `<triggerId>:<k>`: exactly one claimer can. The winner then moves the
 * trigger to processing with a guarded update (atomic on MongoDB, so a concurrent cancel is never
 * lost there). A ticket whose owner died before updating the trigger blocks the trigger only until
 * the ticket's lease expires; after that the next claimer takes ticket k+1.
 */

const DUE_STATUSES: readonly TriggerStatus[] = ['pending', 'retrying'];
/**
 * Candidates read per wanted trigger. Claimers that read the same head of the queue lose tickets to
 * each other; spare candidates let a loser move on without another query (on FerretDB every claim
 * query is a full scan, so a re-query is the expensive part, not the extra documents).
 */
const OVERFETCH = 4;
const MAX_CANDIDATES = 1_000;
/**
 * Tickets inserted per command. FerretDB inserts a batch in one transaction but, when any document
 * of it collides, retries the whole batch one document (one transaction) at a time; small chunks
 * keep that fallback cheap.
 */
const TICKET_CHUNK: Record<ServerDialect, number> = { ferretdb: 10, mongodb: 100 };
/** Queries per claim call: when every candidate was lost to other claimers, read the queue again once. */
const MAX_ROUNDS = 2;
/** Ticket numbers tried past an expired (abandoned) ticket before giving a trigger up for this call. */
const MAX_TICKET_STEPS = 3;

/** Lease updates in flight at once. */
const MONGODB_WRITERS = 16;
const FERRETDB_WRITERS = 2;

async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

export interface ClaimContext {
  triggers: Collection<TriggerDocument>;
  tickets: Collection<ClaimTicketDocument>;
  dialect: ServerDialect;
}

type Phase = 'expired' | 'due';

const ticketId = (triggerId: string, attempt: number) => `${triggerId}:${attempt}`;

/** The ticket of attempt `attempt` of trigger `triggerId` (deleted once that attempt is recorded). */
export function ticketIdOf(triggerId: string, attempt: number): string {
  return ticketId(triggerId, attempt);
}

const expiredFilter = (now: Date): Filter<TriggerDocument> => ({ status: 'processing', leaseExpiresAt: { $lte: now } });
const dueFilter = (now: Date): Filter<TriggerDocument> => ({ status: { $in: [...DUE_STATUSES] }, evaluateAt: { $lte: now } });

/** The claim query for due triggers, answered by the `triggers_due` index (exported for explain output). */
export function dueClaimQuery(now: Date): { filter: Filter<TriggerDocument>; sort: { evaluateAt: 1 } } {
  return { filter: dueFilter(now), sort: { evaluateAt: 1 } };
}

const phaseOf = (doc: TriggerDocument): Phase => (doc.status === 'processing' ? 'expired' : 'due');

/** Still claimable the way it was when read: same attempt, still due (or still expired) at `now`. */
function unchangedSince(seen: WithId<TriggerDocument>, now: Date): Guard<TriggerDocument> {
  return phaseOf(seen) === 'expired'
    ? guard.all(guard.equals('status', 'processing'), guard.atOrBefore('leaseExpiresAt', now), guard.equals('attempt', seen.attempt))
    : guard.all(guard.oneOf('status', DUE_STATUSES), guard.atOrBefore('evaluateAt', now), guard.equals('attempt', seen.attempt));
}

/**
 * Claimable triggers, expired leases first, then due ones in `evaluateAt` order. On MongoDB these
 * are two index range scans (`triggers_lease_expiry`, `triggers_due`) in exact order. FerretDB v1
 * scans the whole collection for any filter but `{ _id }` and sorts in memory, so there one
 * unsorted `$or` query stops at the first `limit` matches (in insertion order) and the adapter
 * orders that window itself: due order is exact within the window, approximate beyond it.
 */
async function findCandidates(ctx: ClaimContext, now: Date, limit: number): Promise<WithId<TriggerDocument>[]> {
  if (ctx.dialect === 'ferretdb') {
    const docs = await ctx.triggers.find({ $or: [expiredFilter(now), dueFilter(now)] }).limit(limit).toArray();
    const expired = docs.filter((d) => phaseOf(d) === 'expired').sort((a, b) => (a.leaseExpiresAt?.getTime() ?? 0) - (b.leaseExpiresAt?.getTime() ?? 0));
    const due = docs.filter((d) => phaseOf(d) === 'due').sort((a, b) => a.evaluateAt.getTime() - b.evaluateAt.getTime());
    return [...expired, ...due];
  }
  const expired = await ctx.triggers.find(expiredFilter(now)).sort({ leaseExpiresAt: 1 }).limit(limit).toArray();
  if (expired.length >= limit) return expired;
  const due = await ctx.triggers.find(dueFilter(now)).sort({ evaluateAt: 1 }).limit(limit - expired.length).toArray();
  return [...expired, ...due];
}

/** Inserts tickets; returns the indexes of those that already existed. */
async function insertTickets(tickets: Collection<ClaimTicketDocument>, docs: ClaimTicketDocument[]): Promise<Set<number>> {
  if (docs.length === 0) return new Set();
  try {
    await retryWhileLocked(() => tickets.insertMany(docs, { ordered: false }));
    return new Set();
  } catch (error) {
    const duplicates = duplicateKeyIndexes(error);
    if (!duplicates) throw error;
    return duplicates;
  }
}

interface Candidate {
  doc: WithId<TriggerDocument>;
  attempt: number;
}

/** Takes tickets for the candidates; returns those this call won, with the attempt each won. */
async function winTickets(ctx: ClaimContext, candidates: Candidate[], request: ClaimRequest, expiresAt: Date, claim: string): Promise<Candidate[]> {
  const won: Candidate[] = [];
  let pending = candidates;
  for (let step = 0; step < MAX_TICKET_STEPS && pending.length > 0; step++) {
    const docs = pending.map((c) => ({
      _id: ticketId(c.doc._id.toHexString(), c.attempt),
      triggerId: c.doc._id,
      attempt: c.attempt,
      owner: request.owner,
      claim,
      expiresAt,
    }));
    const taken = await insertTickets(ctx.tickets, docs);
    const contested: Candidate[] = [];
    pending.forEach((c, i) => (taken.has(i) ? contested.push(c) : won.push(c)));
    if (contested.length === 0) break;
    // A live ticket means another claimer holds the attempt; an expired one was abandoned.
    const ids = contested.map((c) => ticketId(c.doc._id.toHexString(), c.attempt));
    const existing = await ctx.tickets.find({ _id: { $in: ids } }).toArray();
    // A resent insert (after "database is locked") finds the tickets it already wrote.
    const ours = new Set(existing.filter((t) => t.claim === claim).map((t) => t._id));
    const mine = contested.filter((c) => ours.has(ticketId(c.doc._id.toHexString(), c.attempt)));
    won.push(...mine);
    const abandoned = new Set(existing.filter((t) => t.expiresAt.getTime() <= request.now.getTime()).map((t) => t._id));
    pending = contested
      .filter((c) => abandoned.has(ticketId(c.doc._id.toHexString(), c.attempt)))
      .map((c) => ({ doc: c.doc, attempt: c.attempt + 1 }));
  }
  return won;
}

/**
 * FerretDB: the guards of every won trigger are checked on a fresh read by `_id`, then the leases are
 * written by `_id` with few writers in flight (many parallel writers queue behind SQLite's single
 * write lock: 670 ms per update with 8 of them). Exclusivity rests on the tickets, as everywhere.
 */
async function takeLeasesInOneWrite(ctx: ClaimContext, won: Candidate[], request: ClaimRequest, leaseExpiresAt: Date): Promise<ClaimedTrigger[]> {
  if (won.length === 0) return [];
  const { now, owner } = request;
  // Reads by exact `_id` (FerretDB's one indexed lookup) rather than one `$in` scan of the collection.
  const reads = await Promise.all(won.map((c) => ctx.triggers.findOne({ _id: c.doc._id })));
  const current = new Map(reads.filter((d): d is WithId<TriggerDocument> => d !== null).map((d) => [d._id.toHexString(), d]));
  const passing: { doc: WithId<TriggerDocument>; attempt: number }[] = [];
  const refused: string[] = [];
  for (const { doc, attempt } of won) {
    const fresh = current.get(doc._id.toHexString());
    if (fresh && unchangedSince(doc, now).matches(fresh)) passing.push({ doc: fresh, attempt });
    else refused.push(ticketId(doc._id.toHexString(), attempt));
  }
  if (refused.length > 0) await retryWhileLocked(() => ctx.tickets.deleteMany({ _id: { $in: refused } }));
  const leaseToken = randomBytes(16).toString('hex');
  // One write per trigger by exact `_id` (FerretDB's indexed path; an `updateMany` with `$in` scans the
  // collection and still writes one document per transaction), a few at a time for SQLite's single
  // writer. The attempt is set, not incremented, so a resend after "database is locked" is harmless.
  await inPool(passing, FERRETDB_WRITERS, ({ doc, attempt }) =>
    retryWhileLocked(() => ctx.triggers.updateOne({ _id: doc._id }, { $set: { status: 'processing', attempt, leaseToken, leaseExpiresAt, leaseOwner: owner, updatedAt: now } })),
  );
  return passing.map(({ doc, attempt }) => ({ ...toTrigger(doc), status: 'processing', attempt, updatedAt: now, leaseToken, leaseExpiresAt }));
}

/** Moves each won trigger to processing under a fresh token; returns those whose update applied. */
async function takeLeases(ctx: ClaimContext, won: Candidate[], request: ClaimRequest, leaseExpiresAt: Date): Promise<ClaimedTrigger[]> {
  if (ctx.dialect === 'ferretdb') return takeLeasesInOneWrite(ctx, won, request, leaseExpiresAt);
  const { now, owner } = request;
  const results = await inPool(
    won,
    MONGODB_WRITERS,
    async ({ doc, attempt }) => {
      const leaseToken = randomBytes(16).toString('hex');
      const applied = await updateOneIfMatches(ctx.triggers, ctx.dialect, doc._id, unchangedSince(doc, now), {
        $set: { status: 'processing', attempt, leaseToken, leaseExpiresAt, leaseOwner: owner, updatedAt: now },
      });
      if (!applied) {
        // Cancelled or rescheduled between the read and the update: give the ticket back.
        await ctx.tickets.deleteOne({ _id: ticketId(doc._id.toHexString(), attempt) });
        return undefined;
      }
      const trigger: ClaimedTrigger = { ...toTrigger(doc), status: 'processing', attempt, updatedAt: now, leaseToken, leaseExpiresAt };
      return trigger;
    },
  );
  return results.filter((t): t is ClaimedTrigger => t !== undefined);
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Claims up to `limit` triggers: expired leases first (their workers are presumed dead), then due
 * triggers in `evaluateAt` order. Each claim call hands out fresh random lease tokens.
 */
export async function claimDueTriggers(ctx: ClaimContext, request: ClaimRequest): Promise<ClaimedTrigger[]> {
  const limit = Math.floor(request.limit);
  if (!(limit > 0)) return [];
  const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
  const chunkSize = TICKET_CHUNK[ctx.dialect];
  const claim = randomBytes(8).toString('hex');
  const claimed: ClaimedTrigger[] = [];
  for (let round = 0; round < MAX_ROUNDS && claimed.length < limit; round++) {
    const fetchLimit = Math.min(MAX_CANDIDATES, Math.max(limit, (limit - claimed.length) * OVERFETCH));
    const found = await findCandidates(ctx, request.now, fetchLimit);
    // With more due than one window, claimers start at different chunks instead of all contending
    // for the head of the queue; within a chunk the order stays by due time.
    const candidates = found.length === fetchLimit ? rotate(found, chunkSize * Math.floor(Math.random() * Math.ceil(found.length / chunkSize))) : found;
    // Tickets chunk by chunk until enough are won, then every lease in one go.
    const won: Candidate[] = [];
    let next = 0;
    while (claimed.length + won.length < limit && next < candidates.length) {
      const chunk = candidates.slice(next, next + Math.min(chunkSize, limit - claimed.length - won.length));
      next += chunk.length;
      won.push(...(await winTickets(ctx, chunk.map((doc) => ({ doc, attempt: doc.attempt + 1 })), request, leaseExpiresAt, claim)));
    }
    claimed.push(...(await takeLeases(ctx, won, request, leaseExpiresAt)));
    // A short read means the queue had nothing more; only a full read lost entirely to others is retried.
    if (candidates.length < fetchLimit) break;
  }
  return claimed;
}
