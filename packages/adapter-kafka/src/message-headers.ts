import type { IHeaders } from 'kafkajs';

/** Headers the bus itself sets; everything else in `headers` belongs to the publisher. */
export const HEADER = {
  attempt: 'x-crm-attempt',
  messageId: 'x-crm-message-id',
  accountId: 'x-crm-account-id',
  /** Consumer group a retry or dead letter belongs to. */
  group: 'x-crm-group',
  /** Epoch ms before which a retry must not be handled. */
  due: 'x-crm-due',
  reason: 'x-crm-reason',
  attempts: 'x-crm-attempts',
  deadAt: 'x-crm-dead-at',
} as const;

/** Kafka header values arrive as Buffers; the bus works with strings. */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out[key] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}

/** The publisher's headers, without the bus's own. */
export function publisherHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) if (!key.startsWith('x-crm-')) out[key] = value;
  return out;
}

export function intHeader(headers: Record<string, string>, key: string): number | undefined {
  const value = headers[key];
  if (value === undefined) return undefined;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : undefined;
}

// The delivery policy and its helpers are shared by every bus; they live in core.
export { accountOfMessage as accountOf, failureReason as reasonOf, failureReason as clipReason } from '@crm-automation/core';
