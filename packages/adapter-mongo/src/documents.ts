import { ObjectId } from 'mongodb';
import type { ClaimedTrigger, Delivery, DeliveryEvent, DeliveryState, ErrorSummary, HistoryEntry, Page, Rule, RuleDraft, RuleTrigger, Trigger, TriggeringEvent, TriggerSchedule, TriggerStatus } from '@crm-automation/core';

/** A `rules` document: the design doc's shape, `_id` an ObjectId, dates as BSON dates. */
export interface RuleDocument {
  _id: ObjectId;
  name: string;
  description?: string | undefined;
  accountId: string;
  enabled: boolean;
  trigger: RuleTrigger;
  delay: Rule['delay'];
  schedule?: Rule['schedule'];
  conditions: Rule['conditions'];
  actions: Rule['actions'];
  /** Multikey-indexed on `cancelOn.eventName`, so `findRulesForEvent` finds the rules an event cancels. */
  cancelOn?: Rule['cancelOn'];
  concurrency?: Rule['concurrency'];
  evaluate?: Rule['evaluate'];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A `pending_triggers` document. `ruleId` is stored exactly as given, a string: the rule may live in
 * another store (a Rules Service on PostgreSQL, say), so it is a reference, not an ObjectId.
 */
export interface TriggerDocument {
  _id: ObjectId;
  accountId: string;
  ruleId: string;
  ruleVersion: number;
  status: TriggerStatus;
  evaluateAt: Date;
  attempt: number;
  triggeringEvent: TriggeringEvent;
  /** W3C trace context of the intake that created it (only when tracing is on). */
  trace?: Record<string, string> | undefined;
  executionHistory: HistoryEntry[];
  sentActions: number[];
  createdAt: Date;
  updatedAt: Date;
  /** Present while processing: proves which worker holds the lease. Never leaves the store. */
  leaseToken?: string | undefined;
  leaseExpiresAt?: Date | undefined;
  /** Engine instance that holds the lease, for diagnostics. */
  leaseOwner?: string | undefined;
  /** When retention may delete this trigger (set only on finished triggers a policy covers). */
  expireAt?: Date | undefined;
  /** Keyed rules only: the rule's `trigger.key` resolved in the payload. */
  entityKey?: string | undefined;
  /** Keyed rules only: the first event's timestamp of a chain of superseded triggers. */
  firstEventAt?: Date | undefined;
  /** A cancelling event arrived while it was processing. */
  cancelRequested?: { event: { id: string; name: string }; at: Date } | undefined;
  /** Scheduled rules: how `evaluateAt` was computed (a plain subdocument; history `from`/`to` are BSON dates). */
  schedule?: TriggerSchedule | undefined;
  /**
   * Keyed triggers inserted with a concurrency mode, while they hold their (account, rule, entityKey)'s
   * pending slot ({@link pendingSlotOf}): a trigger that took a free slot has both fields, a successor
   * of a supersede the one its predecessor gave up (see pending-slot.ts). Each has a sparse unique
   * index. Never leave the store.
   */
  pendingSlot?: string | undefined;
  slotLatch?: string | undefined;
  /** On a trigger being superseded: its successor's whole document, until the successor holds the slot. */
  handover?: TriggerDocument | undefined;
  /** The last `cancelTriggers` call that changed it (its random mark), to read back what that call did. Never leaves the store. */
  cancelMark?: string | undefined;
}

/** The value of `pendingSlot` for one rule and entity: unambiguous whatever the strings hold. */
export function pendingSlotOf(accountId: string, ruleId: string, entityKey: string): string {
  return JSON.stringify([accountId, ruleId, entityKey]);
}

/**
 * A `deliveries` document: one send of one action in one trigger attempt. `triggerId` and `ruleId` are
 * references stored as the strings they are (the ledger may sit in another database than the
 * triggers); `expireAt` is the retention stamp and never leaves the store.
 */
export interface DeliveryDocument {
  _id: ObjectId;
  accountId: string;
  triggerId: string;
  ruleId: string;
  actionIndex: number;
  attempt: number;
  type: string;
  provider: string;
  idempotencyKey: string;
  recipient?: string | undefined;
  state: DeliveryState;
  providerId?: string | undefined;
  error?: ErrorSummary | undefined;
  dedupes: boolean;
  events: DeliveryEvent[];
  createdAt: Date;
  updatedAt: Date;
  expireAt?: Date | undefined;
}

const OBJECT_ID_HEX = /^[0-9a-f]{24}$/;

/**
 * The ObjectId for a public id, or null when the id is malformed for this store (which callers treat
 * as not found). Only the lowercase 24-hex form the store hands out is accepted.
 */
export function parseObjectId(id: unknown): ObjectId | null {
  return typeof id === 'string' && OBJECT_ID_HEX.test(id) ? ObjectId.createFromHexString(id) : null;
}

export function ruleDocument(id: ObjectId, accountId: string, draft: RuleDraft, version: number, createdAt: Date, updatedAt: Date): RuleDocument {
  return {
    _id: id,
    name: draft.name,
    ...(draft.description === undefined ? {} : { description: draft.description }),
    accountId,
    enabled: draft.enabled,
    trigger: draft.trigger.key === undefined ? { eventName: draft.trigger.eventName } : { eventName: draft.trigger.eventName, key: draft.trigger.key },
    delay: draft.delay,
    ...(draft.schedule === undefined ? {} : { schedule: draft.schedule }),
    conditions: draft.conditions,
    actions: draft.actions,
    ...(draft.cancelOn === undefined ? {} : { cancelOn: draft.cancelOn }),
    ...(draft.concurrency === undefined ? {} : { concurrency: draft.concurrency }),
    ...(draft.evaluate === undefined ? {} : { evaluate: draft.evaluate }),
    version,
    createdAt,
    updatedAt,
  };
}

export function toRule(doc: RuleDocument): Rule {
  return {
    id: doc._id.toHexString(),
    accountId: doc.accountId,
    name: doc.name,
    ...(doc.description === undefined || doc.description === null ? {} : { description: doc.description }),
    enabled: doc.enabled,
    trigger: typeof doc.trigger.key === 'string' ? { eventName: doc.trigger.eventName, key: doc.trigger.key } : { eventName: doc.trigger.eventName },
    delay: doc.delay,
    ...(doc.schedule === undefined || doc.schedule === null ? {} : { schedule: doc.schedule }),
    conditions: doc.conditions,
    actions: doc.actions,
    ...(doc.cancelOn === undefined || doc.cancelOn === null ? {} : { cancelOn: doc.cancelOn }),
    ...(doc.concurrency === undefined || doc.concurrency === null ? {} : { concurrency: doc.concurrency }),
    ...(doc.evaluate === undefined || doc.evaluate === null ? {} : { evaluate: doc.evaluate }),
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** The public trigger: `_id` as hex; lease token, owner, expiry stamp, pending slot and cancel mark stay inside. */
export function toTrigger(doc: TriggerDocument): Trigger {
  return {
    id: doc._id.toHexString(),
    accountId: doc.accountId,
    ruleId: doc.ruleId,
    ruleVersion: doc.ruleVersion,
    status: doc.status,
    evaluateAt: doc.evaluateAt,
    attempt: doc.attempt,
    triggeringEvent: doc.triggeringEvent,
    ...(doc.trace ? { trace: doc.trace } : {}),
    executionHistory: doc.executionHistory ?? [],
    sentActions: doc.sentActions ?? [],
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.leaseExpiresAt ? { leaseExpiresAt: doc.leaseExpiresAt } : {}),
    ...(typeof doc.entityKey === 'string' ? { entityKey: doc.entityKey } : {}),
    ...(doc.firstEventAt instanceof Date ? { firstEventAt: doc.firstEventAt } : {}),
    ...(doc.cancelRequested ? { cancelRequested: doc.cancelRequested } : {}),
    ...(doc.schedule ? { schedule: doc.schedule } : {}),
  };
}

/** The trigger as its claimer sees it, lease token included; null when the document holds no lease. */
export function toClaimedTrigger(doc: TriggerDocument): ClaimedTrigger | null {
  if (typeof doc.leaseToken !== 'string' || !(doc.leaseExpiresAt instanceof Date)) return null;
  return { ...toTrigger(doc), leaseToken: doc.leaseToken, leaseExpiresAt: doc.leaseExpiresAt };
}

/** The public delivery: `_id` as hex; the expiry stamp stays inside. */
export function toDelivery(doc: DeliveryDocument): Delivery {
  return {
    id: doc._id.toHexString(),
    accountId: doc.accountId,
    triggerId: doc.triggerId,
    ruleId: doc.ruleId,
    actionIndex: doc.actionIndex,
    attempt: doc.attempt,
    type: doc.type,
    provider: doc.provider,
    idempotencyKey: doc.idempotencyKey,
    ...(typeof doc.recipient === 'string' ? { recipient: doc.recipient } : {}),
    state: doc.state,
    ...(typeof doc.providerId === 'string' ? { providerId: doc.providerId } : {}),
    ...(doc.error ? { error: doc.error } : {}),
    dedupes: doc.dedupes,
    events: (doc.events ?? []).map((e) => ({ at: e.at, state: e.state, source: e.source, ...(typeof e.detail === 'string' ? { detail: e.detail } : {}) })),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** A page of `limit` items out of `limit + 1` read: the extra one only says that there is more. */
export function page<T extends { id: string }>(items: T[], limit: number): Page<T> {
  if (items.length <= limit) return { items };
  const shown = items.slice(0, limit);
  const last = shown[shown.length - 1];
  return last ? { items: shown, nextCursor: last.id } : { items: shown };
}
