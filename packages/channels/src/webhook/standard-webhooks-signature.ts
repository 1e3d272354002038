import { createHmac } from 'node:crypto';
import { AutomationError } from '@crm-automation/core';

/** The Standard Webhooks headers of one delivery. */
export interface WebhookSignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

const SECRET_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 24;

/**
 * Decodes a signing secret: `whsec_` followed by base64 (the prefix is optional, as in the reference
 * libraries). The spec asks for 24 to 64 random bytes; shorter keys are refused.
 */
export function decodeSigningSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new AutomationError('CRM_ERR_CONFIG', 'a webhook signing secret must be whsec_ followed by base64');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES) {
    throw new AutomationError('CRM_ERR_CONFIG', `a webhook signing secret must hold at least ${MIN_SECRET_BYTES} bytes; this one has ${key.length}`);
  }
  return key;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for one key. */
export function signWebhookPayload(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * The Standard Webhooks headers for a delivery: `webhook-id`, `webhook-timestamp` (Unix seconds)
 * and `webhook-signature`, one space-separated `v1,` signature per secret so receivers can rotate
 * keys (they accept the delivery when any signature matches).
 */
export function standardWebhookHeaders(keys: readonly Buffer[], id: string, timestampSeconds: number, body: string): WebhookSignatureHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': keys.map((key) => signWebhookPayload(key, id, timestampSeconds, body)).join(' '),
  };
}
