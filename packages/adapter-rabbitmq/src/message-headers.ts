/** Headers the bus itself sets on messages; everything else in `headers` belongs to the publisher. */
export const HEADER = {
  attempt: 'x-crm-attempt',
  accountId: 'x-crm-account-id',
  reason: 'x-crm-reason',
  attempts: 'x-crm-attempts',
  deadAt: 'x-crm-dead-at',
  group: 'x-crm-group',
} as const;

const BROKER_HEADERS = /^(x-crm-|x-death$|x-first-death-|x-last-death-|x-delivery-count$)/;

/** The publisher's headers, as strings, without the bus's and the broker's own. */
export function publisherHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (BROKER_HEADERS.test(key)) continue;
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') out[key] = String(value);
    else if (Buffer.isBuffer(value)) out[key] = value.toString('utf8');
  }
  return out;
}

export function numberHeader(headers: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = headers?.[key];
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number.parseInt(value, 10) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

export function stringHeader(headers: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = headers?.[key];
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

// The delivery policy and its helpers are shared by every bus; they live in core.
export { accountOfMessage as accountOf, failureReason as reasonOf, failureReason as clipReason } from '@crm-automation/core';
