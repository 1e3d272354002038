import type { Delivery, DeliveryEvent, DeliveryState, ErrorSummary } from '@crm-automation/core';
import { wellFormed } from './connection.js';

/** A delivery event as JSONB keeps it: the instant as the ISO text the engine's `Date` gave. */
export type StoredDeliveryEvent = Omit<DeliveryEvent, 'at'> & { at: string };

export interface DeliveryRow {
  id: string;
  account_id: string;
  trigger_id: string;
  rule_id: string;
  action_index: number;
  attempt: number;
  type: string;
  provider: string;
  idempotency_key: string;
  recipient: string | null;
  state: DeliveryState;
  provider_id: string | null;
  error: ErrorSummary | null;
  dedupes: boolean;
  events: StoredDeliveryEvent[];
  created_at: Date;
  updated_at: Date;
}

export const DELIVERY_COLUMNS = 'id, account_id, trigger_id, rule_id, action_index, attempt, type, provider, idempotency_key, recipient, state, provider_id, error, dedupes, events, created_at, updated_at';

export const reviveEvents = (events: readonly StoredDeliveryEvent[]): DeliveryEvent[] => events.map((e) => ({ ...e, at: new Date(e.at) }));

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    accountId: row.account_id,
    triggerId: row.trigger_id,
    ruleId: row.rule_id,
    actionIndex: row.action_index,
    attempt: row.attempt,
    type: row.type,
    provider: row.provider,
    idempotencyKey: row.idempotency_key,
    ...(row.recipient === null ? {} : { recipient: row.recipient }),
    state: row.state,
    ...(row.provider_id === null ? {} : { providerId: row.provider_id }),
    ...(row.error === null ? {} : { error: row.error }),
    dedupes: row.dedupes,
    events: reviveEvents(row.events),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Text as the ledger stores it. PostgreSQL text and JSONB cannot hold U+0000, and JSONB refuses the
 * escape of a lone UTF-16 surrogate; a delivery is a record of what happened, so such characters become
 * U+FFFD (as a lone surrogate in a text parameter does) rather than failing the write, which would fail
 * the sends of every trigger sharing the batch or leave a send without its outcome. Lookups go through
 * the same mapping, so what was written is found.
 */
export const ledgerText = (text: string): string => (UNSTORABLE.test(text) ? wellFormed(text).replaceAll('\u0000', '\uFFFD') : text);

/** Any character {@link ledgerText} may have to replace; most text has none, and is passed as it is. */
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;

/** A JSON value (an error summary, an event's detail) with every string and key as {@link ledgerText} makes it. */
export function ledgerJson<T>(value: T): T {
  if (typeof value === 'string') return ledgerText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => ledgerJson(v)) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [ledgerText(k), ledgerJson(v)])) as T;
  }
  return value;
}
