import { createHash } from 'node:crypto';

/**
 * Idempotency keys of the Notification Service. The key a caller sees (and the gateway sends on, as
 * `webhook-id`, SendGrid `custom_args`, the SMTP Message-ID) is the caller's, or derived from the
 * trigger and the action; the key stored is namespaced by account and channel, so two accounts, or
 * two channels of one trigger, can never answer each other's request as a replay.
 */

/**
 * JSON with object keys sorted, so equal params give equal text whatever order they were written in.
 * Recursive: callers check the depth first (`checkJsonShape`).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The action part of a key for a request without `actionIndex`: a digest of what is sent. */
export function paramsDigest(params: Record<string, unknown>): string {
  return `p${createHash('sha256').update(canonicalJson(params)).digest('hex').slice(0, 32)}`;
}

/**
 * The key a request is known by: the caller's (`metadata.idempotencyKey` or the `Idempotency-Key`
 * header), else `triggerId:actionIndex`, else `triggerId:<digest of the params>`: two different
 * actions of one trigger are two sends, an identical replay is one.
 */
export function requestIdempotencyKey(input: { triggerId: string; actionIndex?: number | undefined; explicit?: string | undefined }, params: Record<string, unknown>): string {
  if (input.explicit !== undefined) return input.explicit;
  return `${input.triggerId}:${input.actionIndex !== undefined ? String(input.actionIndex) : paramsDigest(params)}`;
}

/**
 * The key stored: `<accountId>:<type>:<key>`. The account and type are percent-encoded, so a `:` in
 * an account id cannot make one namespace read as another.
 */
export function storedIdempotencyKey(accountId: string, type: string, key: string): string {
  return `${encodeURIComponent(accountId)}:${encodeURIComponent(type)}:${key}`;
}
