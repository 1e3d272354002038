/**
 * The delivery soak's audit: every trigger of the run against the ledger's records and what the
 * provider stand-in received. Pure (no I/O), so what it counts is exactly what the report prints.
 */
import { FINAL_STATUSES, type Delivery, type DeliveryState, type Trigger, type TriggerStatus } from '@crm-automation/core';
import type { ReceivedRequest } from './delivery-soak-provider.js';
import { channelOfSeq } from './delivery-soak-setup.js';

type Channel = 'webhook' | 'sms';

/** The states meaning the provider took the message, as the ledger knows it. */
const TAKEN: ReadonlySet<DeliveryState> = new Set(['accepted', 'delivered', 'undelivered', 'bounced', 'failed']);

/** What one trigger's send came to, in the ledger's words. */
export type SendVerdict = 'accepted' | 'unknown' | 'refused' | 'no-record';

export interface ChannelAudit {
  channel: Channel;
  /** Events sent for this channel. */
  expected: number;
  /** Triggers by final status (`completed (held)`: completed with a send `unknown`). */
  triggerStatuses: Record<string, number>;
  /** Why triggers failed (history reason and error code). */
  failureReasons: Record<string, number>;
  /** Triggers by what the ledger says of their send. */
  verdicts: Record<SendVerdict, number>;
  /** Ledger records by state. */
  ledgerStates: Partial<Record<DeliveryState, number>>;
  ledgerRecords: number;
  /** Requests the provider received, by its outcome. */
  providerRequests: Record<string, number>;
  /** Messages the provider delivered (after its dedupe, for the webhook). */
  providerDelivered: number;
  /** Webhook requests for an id the receiver had already taken (resends its dedupe absorbed). */
  absorbedByDedupe: number;
  /** Accounting failures: each must be 0. */
  missing: {
    /** Events with no trigger at all (intake lost them). */
    noTrigger: number;
    /** Triggers not in a final status when the run ended. */
    unsettled: number;
    /** Settled triggers with no ledger record although their history shows a send was attempted. */
    noLedgerRecord: number;
    /** Messages the provider delivered that no ledger record names. */
    deliveredWithoutRecord: number;
    /** Messages the provider delivered whose record says the provider refused it (or shows no send). */
    deliveredButLedgerSaysNot: number;
    /** Records the ledger says the provider accepted that the provider never delivered. */
    acceptedButNotDelivered: number;
    /** Records still `intent` after the final reconciliation. */
    intentsLeft: number;
  };
  /** Messages delivered more than once for one event (extra copies): must be 0. */
  duplicated: number;
  /**
   * Settled triggers with no ledger record, no attempted send in their history and nothing at the
   * provider: they failed before any send (every attempt's engine was killed before it got that far).
   */
  neverSent: number;
  /** `unknown` sends held for an operator, by whether the provider did deliver them. */
  held: { total: number; providerDelivered: number; providerDidNot: number };
  /**
   * `unknown` records of a deduplicating channel whose resend (same idempotency key) the provider
   * accepted: settled in fact, still `unknown` in the ledger (and in `--state unknown` lists and counts).
   */
  supersededUnknown: number;
  /**
   * Records `unknown` although the trigger's own history has the provider's acceptance of that send
   * (the engine stopped between writing the trigger's outcome and the ledger's).
   */
  unknownButHistorySaysSent: number;
  /** Triggers `failed` although the ledger says the provider accepted their send. */
  failedButAccepted: number;
  /** Up to 3 examples (`seq <n>, trigger <id>`) of each nonzero count above that must be 0 or is a finding. */
  examples: Record<string, string[]>;
}

const increment = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

const seqOf = (trigger: Trigger): number | undefined => {
  const soak = trigger.triggeringEvent.payload['soak'] as { seq?: unknown } | undefined;
  return typeof soak?.seq === 'number' ? soak.seq : undefined;
};

/** Accepted when any record says the provider took it; otherwise what the latest record says. */
function verdictOf(records: readonly Delivery[]): SendVerdict {
  if (records.some((d) => TAKEN.has(d.state))) return 'accepted';
  const latest = records.reduce<Delivery | undefined>((last, d) => (!last || d.attempt > last.attempt || (d.attempt === last.attempt && d.createdAt >= last.createdAt) ? d : last), undefined);
  if (!latest) return 'no-record';
  return latest.state === 'unknown' || latest.state === 'intent' ? 'unknown' : 'refused';
}

/**
 * The trigger's history shows a send that reached the gateway: one that names its ledger record (set
 * once the intent is stored), or one sent or unknown at all. A failure without a record (the intent
 * could not be written) never called the gateway.
 */
const attemptedInHistory = (trigger: Trigger): boolean =>
  trigger.executionHistory.some((entry) => (entry.actions ?? []).some((a) => a.deliveryId !== undefined || a.status === 'sent' || a.status === 'unknown'));

/** Delivery ids the trigger's history says a gateway accepted (`sent` outcomes). */
function sentInHistory(trigger: Trigger): Set<string> {
  const ids = new Set<string>();
  for (const entry of trigger.executionHistory) for (const action of entry.actions ?? []) if (action.status === 'sent' && action.deliveryId) ids.add(action.deliveryId);
  return ids;
}

export function auditSoak(sends: number, triggers: readonly Trigger[], deliveries: readonly Delivery[], received: readonly ReceivedRequest[]): ChannelAudit[] {
  const byTrigger = new Map<string, Delivery[]>();
  const byId = new Map<string, Delivery>();
  for (const d of deliveries) {
    byId.set(d.id, d);
    (byTrigger.get(d.triggerId) ?? byTrigger.set(d.triggerId, []).get(d.triggerId))?.push(d);
  }
  const triggerBySeq = new Map<number, Trigger>();
  for (const t of triggers) {
    const seq = seqOf(t);
    if (seq !== undefined) triggerBySeq.set(seq, t);
  }
  const requestsBySeq = new Map<number, ReceivedRequest[]>();
  for (const r of received) (requestsBySeq.get(r.seq) ?? requestsBySeq.set(r.seq, []).get(r.seq))?.push(r);

  const audits = new Map<Channel, ChannelAudit>();
  for (const channel of ['webhook', 'sms'] as const) {
    audits.set(channel, {
      channel,
      expected: 0,
      triggerStatuses: {},
      failureReasons: {},
      verdicts: { accepted: 0, unknown: 0, refused: 0, 'no-record': 0 },
      ledgerStates: {},
      ledgerRecords: 0,
      providerRequests: {},
      providerDelivered: 0,
      absorbedByDedupe: 0,
      missing: { noTrigger: 0, unsettled: 0, noLedgerRecord: 0, deliveredWithoutRecord: 0, deliveredButLedgerSaysNot: 0, acceptedButNotDelivered: 0, intentsLeft: 0 },
      duplicated: 0,
      neverSent: 0,
      held: { total: 0, providerDelivered: 0, providerDidNot: 0 },
      supersededUnknown: 0,
      unknownButHistorySaysSent: 0,
      failedButAccepted: 0,
      examples: {},
    });
  }
  const auditOf = (channel: Channel) => audits.get(channel) as ChannelAudit;
  const example = (a: ChannelAudit, kind: string, ref: string) => {
    const list = a.examples[kind] ?? (a.examples[kind] = []);
    if (list.length < 3) list.push(ref);
  };
  type MissingKind = keyof ChannelAudit['missing'];
  const miss = (a: ChannelAudit, kind: MissingKind, ref: string, by = 1) => {
    if (by <= 0) return;
    a.missing[kind] += by;
    example(a, kind, ref);
  };

  for (const d of deliveries) {
    const a = auditOf(d.type === 'webhook' ? 'webhook' : 'sms');
    a.ledgerRecords += 1;
    a.ledgerStates[d.state] = (a.ledgerStates[d.state] ?? 0) + 1;
    if (d.state === 'intent') miss(a, 'intentsLeft', `trigger ${d.triggerId}, delivery ${d.id}`);
  }

  for (let seq = 0; seq < sends; seq++) {
    const channel = channelOfSeq(seq);
    const a = auditOf(channel);
    a.expected += 1;
    const requests = requestsBySeq.get(seq) ?? [];
    const delivered = requests.filter((r) => r.delivered);
    for (const r of requests) {
      increment(a.providerRequests, r.outcome);
      if (r.absorbed) a.absorbedByDedupe += 1;
    }
    a.providerDelivered += delivered.length;
    const trigger = triggerBySeq.get(seq);
    const ref = `seq ${seq}, trigger ${trigger?.id ?? '(none)'}`;
    if (delivered.length > 1) {
      a.duplicated += delivered.length - 1;
      example(a, 'duplicated', ref);
    }
    if (!trigger) {
      miss(a, 'noTrigger', ref);
      miss(a, 'deliveredWithoutRecord', ref, delivered.length);
      continue;
    }
    const records = byTrigger.get(trigger.id) ?? [];
    const verdict = verdictOf(records);
    a.verdicts[verdict] += 1;
    const last = trigger.executionHistory[trigger.executionHistory.length - 1];
    const status: TriggerStatus | 'completed (held)' = trigger.status === 'completed' && last?.reason === 'delivery-unknown' ? 'completed (held)' : trigger.status;
    increment(a.triggerStatuses, status);
    if (trigger.status === 'failed') increment(a.failureReasons, `${last?.reason ?? '?'} ${last?.error?.code ?? ''}`.trim());
    if (trigger.status === 'failed' && verdict === 'accepted') {
      a.failedButAccepted += 1;
      example(a, 'failedButAccepted', ref);
    }
    if (!FINAL_STATUSES.includes(trigger.status)) miss(a, 'unsettled', ref);
    else if (records.length === 0 && (attemptedInHistory(trigger) || delivered.length > 0)) miss(a, 'noLedgerRecord', ref);
    else if (records.length === 0) a.neverSent += 1;

    const historySent = sentInHistory(trigger);
    for (const d of records) {
      if (d.state !== 'unknown' || !historySent.has(d.id)) continue;
      a.unknownButHistorySaysSent += 1;
      example(a, 'unknownButHistorySaysSent', `${ref}, delivery ${d.id}`);
    }

    if (channel === 'webhook') {
      // The receiver knows a message by its webhook-id, the engine's idempotency key of the action.
      const named = (key: string) => records.filter((d) => d.idempotencyKey === key);
      for (const r of delivered) {
        const sends = named(r.key);
        if (sends.length === 0) miss(a, 'deliveredWithoutRecord', ref);
        else if (!sends.some((d) => TAKEN.has(d.state) || d.state === 'unknown' || d.state === 'intent')) miss(a, 'deliveredButLedgerSaysNot', ref);
      }
      if (verdict === 'accepted' && delivered.length === 0) miss(a, 'acceptedButNotDelivered', ref);
      // A resend of the same key that the provider took settles the question an earlier `unknown` asked.
      for (const d of records) if (d.state === 'unknown' && named(d.idempotencyKey).some((o) => TAKEN.has(o.state))) a.supersededUnknown += 1;
    } else {
      // Each SMS request names the one ledger record it was sent for (the status callback's `d`).
      for (const r of delivered) {
        const record = byId.get(r.key);
        if (!record || record.triggerId !== trigger.id) miss(a, 'deliveredWithoutRecord', `${ref}, delivery ${r.key}`);
        else if (!TAKEN.has(record.state) && record.state !== 'unknown') miss(a, 'deliveredButLedgerSaysNot', `${ref}, delivery ${r.key}`);
      }
      for (const d of records) if (TAKEN.has(d.state) && !delivered.some((r) => r.key === d.id)) miss(a, 'acceptedButNotDelivered', `${ref}, delivery ${d.id}`);
    }
    if (verdict === 'unknown') {
      a.held.total += 1;
      if (delivered.length > 0) a.held.providerDelivered += 1;
      else a.held.providerDidNot += 1;
    }
  }
  return [auditOf('webhook'), auditOf('sms')];
}

/** Sum of the accounting failures (what must be 0). */
export const accountingFailures = (a: ChannelAudit): number => Object.values(a.missing).reduce((sum, n) => sum + n, 0);
