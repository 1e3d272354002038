import { randomBytes } from 'node:crypto';
import type { Collection, Filter, WithId } from 'mongodb';
import type { ClaimedTrigger, ClaimRequest, TriggerStatus } from '@crm-automation/core';
import type { ServerDialect } from './connection.js';
import { toTrigger, type ClaimTicketDocument, type TriggerDocument } from './documents.js';
import { guard, updateOneIfMatches, type Guard } from './guarded-update.js';
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
/** Rounds per claim call: contention can cost a round its candidates, so try a few times. */
const MAX_ROUNDS = 4;
/** Ticket numbers tried past an expired (abandoned) ticket before giving a trigger up for this call. */
const MAX_TICKET_STEPS = 3;

export interface ClaimContext {
  triggers: Collection<TriggerDocument>;
  tickets: Collection<ClaimTicketDocument>;
  dialect: ServerDialect;
}

type Phase = 'expired' | 'due';

const ticketId = (triggerId: string, attempt: number) => `${triggerId}:${attempt}`;

/** The attempt number a lease token was issued for: tokens are `<attempt>.<random>`. */
export function attemptOfToken(token: string): number | undefined {
  const dot = token.indexOf('.');
  const attempt = Number(token.slice(0, dot));
  return dot > 0 && Number.isInteger(attempt) && attempt > 0 ? attempt : undefined;
}

export function ticketIdForToken(triggerId: string, token: string): string | undefined {
  const attempt = attemptOfToken(token);
  return attempt === undefined ? undefined : ticketId(triggerId, attempt);
}

function candidateQuery(phase: Phase, now: Date): { filter: Filter<TriggerDocument>; sort: Record<string, 1> } {
  return phase === 'expired'
    ? { filter: { status: 'processing', leaseExpiresAt: { $lte: now } }, sort: { leaseExpiresAt: 1 } }
    : { filter: { status: { $in: [...DUE_STATUSES] }, evaluateAt: { $lte: now } }, sort: { evaluateAt: 1 } };
}

/** The claim query the store runs (exported for explain output in tests and benchmarks). */
export function dueClaimQuery(now: Date) {
  return candidateQuery('due', now);
}

/** Still claimable the way it was when read: same attempt, still due (or still expired) at `now`. */
function unchangedSince(seen: WithId<TriggerDocument>, phase: Phase, now: Date): Guard<TriggerDocument> {
  return phase === 'expired'
    ? guard.all(guard.equals('status', 'processing'), guard.atOrBefore('leaseExpiresAt', now), guard.equals('attempt', seen.attempt))
    : guard.all(guard.oneOf('status', DUE_STATUSES), guard.atOrBefore('evaluateAt', now), guard.equals('attempt', seen.attempt));
}

/** Inserts tickets; returns the indexes of those that already existed. */
async function insertTickets(tickets: Collection<ClaimTicketDocument>, docs: ClaimTicketDocument[]): Promise<Set<number>> {
  if (docs.length === 0) return new Set();
  try {
    await tickets.insertMany(docs, { ordered: false });
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
async function winTickets(ctx: ClaimContext, candidates: Candidate[], request: ClaimRequest, expiresAt: Date): Promise<Candidate[]> {
  const won: Candidate[] = [];
  let pending = candidates;
  for (let step = 0; step < MAX_TICKET_STEPS && pending.length > 0; step++) {
    const docs = pending.map((c) => ({
      _id: ticketId(c.doc._id.toHexString(), c.attempt),
      triggerId: c.doc._id,
      attempt: c.attempt,
      owner: request.owner,
      expiresAt,
    }));
    const taken = await insertTickets(ctx.tickets, docs);
    const contested: Candidate[] = [];
    pending.forEach((c, i) => (taken.has(i) ? contested.push(c) : won.push(c)));
    if (contested.length === 0) break;
    // A live ticket means another claimer holds the attempt; an expired one was abandoned.
    const ids = contested.map((c) => ticketId(c.doc._id.toHexString(), c.attempt));
    const existing = await ctx.tickets.find({ _id: { $in: ids } }).toArray();
    const abandoned = new Set(existing.filter((t) => t.expiresAt.getTime() <= request.now.getTime()).map((t) => t._id));
    pending = contested
      .filter((c) => abandoned.has(ticketId(c.doc._id.toHexString(), c.attempt)))
      .map((c) => ({ doc: c.doc, attempt: c.attempt + 1 }));
  }
  return won;
}

async function claimPhase(ctx: ClaimContext, phase: Phase, request: ClaimRequest, want: number, claimed: ClaimedTrigger[]): Promise<void> {
  const { now, leaseMs, owner } = request;
  const leaseExpiresAt = new Date(now.getTime() + leaseMs);
  for (let round = 0; round < MAX_ROUNDS && claimed.length < want; round++) {
    const { filter, sort } = candidateQuery(phase, now);
    const asked = want - claimed.length;
    const docs = await ctx.triggers.find(filter).sort(sort).limit(asked).toArray();
    if (docs.length === 0) return;
    const won = await winTickets(ctx, docs.map((doc) => ({ doc, attempt: doc.attempt + 1 })), request, leaseExpiresAt);
    const results = await Promise.all(
      won.map(async ({ doc, attempt }) => {
        const leaseToken = `${attempt}.${randomBytes(12).toString('hex')}`;
        const applied = await updateOneIfMatches(ctx.triggers, ctx.dialect, doc._id, unchangedSince(doc, phase, now), {
          $set: { status: 'processing', attempt, leaseToken, leaseExpiresAt, leaseOwner: owner, updatedAt: now },
        });
        if (!applied) {
          // Cancelled or rescheduled between the read and the update: give the ticket back.
          await ctx.tickets.deleteOne({ _id: ticketId(doc._id.toHexString(), attempt) });
          return undefined;
        }
        const trigger: ClaimedTrigger = { ...toTrigger(doc), status: 'processing', attempt, updatedAt: now, leaseToken, leaseExpiresAt };
        return trigger;
      }),
    );
    for (const trigger of results) if (trigger) claimed.push(trigger);
    // A short page means nothing more is claimable in this phase right now.
    if (docs.length < asked) return;
  }
}

/**
 * Claims up to `limit` triggers: expired leases first (their workers are presumed dead), then due
 * triggers in `evaluateAt` order. Each claimed trigger carries a fresh token `<attempt>.<random>`.
 */
export async function claimDueTriggers(ctx: ClaimContext, request: ClaimRequest): Promise<ClaimedTrigger[]> {
  const limit = Math.floor(request.limit);
  if (!(limit > 0)) return [];
  const claimed: ClaimedTrigger[] = [];
  await claimPhase(ctx, 'expired', request, limit, claimed);
  if (claimed.length < limit) await claimPhase(ctx, 'due', request, limit, claimed);
  return claimed;
}
