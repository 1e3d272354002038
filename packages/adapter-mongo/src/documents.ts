import { ObjectId } from 'mongodb';
import type { HistoryEntry, Rule, RuleDraft, Trigger, TriggeringEvent, TriggerStatus } from '@crm-automation/core';

/** A `rules` document: the design doc's shape, `_id` an ObjectId, dates as BSON dates. */
export interface RuleDocument {
  _id: ObjectId;
  name: string;
  description?: string | undefined;
  accountId: string;
  enabled: boolean;
  trigger: { eventName: string };
  delay: Rule['delay'];
  conditions: Rule['conditions'];
  actions: Rule['actions'];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A `pending_triggers` document. `ruleId` is an ObjectId like the design doc shows: it has the same
 * type as `rules._id` (so the two can be matched without conversion), and its index keys are 12
 * bytes instead of a 24-character string.
 */
export interface TriggerDocument {
  _id: ObjectId;
  accountId: string;
  ruleId: ObjectId;
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
}

/**
 * A `trigger_claims` document: the right to run attempt `attempt` of one trigger. Its `_id`
 * (`<triggerId>:<attempt>`) is unique, so exactly one claimer can insert it; see claim-tickets.ts.
 */
export interface ClaimTicketDocument {
  _id: string;
  triggerId: ObjectId;
  attempt: number;
  owner: string;
  /** Random per claim call: lets a call that resent its insert recognise its own tickets. */
  claim: string;
  expiresAt: Date;
}

const OBJECT_ID_HEX = /^[0-9a-f]{24}$/;

/** The ObjectId for a public id, or null when the id is malformed (which callers treat as not found). */
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
    trigger: { eventName: draft.trigger.eventName },
    delay: draft.delay,
    conditions: draft.conditions,
    actions: draft.actions,
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
    trigger: doc.trigger,
    delay: doc.delay,
    conditions: doc.conditions,
    actions: doc.actions,
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** The public trigger: `_id`/`ruleId` as hex strings; lease token, owner and expiry stamp stay inside. */
export function toTrigger(doc: TriggerDocument): Trigger {
  return {
    id: doc._id.toHexString(),
    accountId: doc.accountId,
    ruleId: doc.ruleId.toHexString(),
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
  };
}
