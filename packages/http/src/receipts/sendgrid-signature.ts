import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AutomationError } from '@crm-automation/core';

/**
 * SendGrid's verification key as its dashboard shows it (base64 of the DER SubjectPublicKeyInfo of a
 * P-256 key) or as PEM; refused with `CRM_ERR_CONFIG` when it is neither.
 */
export function sendgridPublicKey(key: string): KeyObject {
  let parsed: KeyObject;
  try {
    parsed = key.includes('-----BEGIN') ? createPublicKey(key) : createPublicKey({ key: Buffer.from(key.trim(), 'base64'), format: 'der', type: 'spki' });
  } catch (error) {
    throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: sendgrid.publicKey is not an EC public key (base64 DER or PEM, as the Event Webhook settings show it)', { cause: error });
  }
  if (parsed.asymmetricKeyType !== 'ec' || parsed.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: sendgrid.publicKey must be a P-256 (prime256v1) EC key');
  }
  return parsed;
}

/**
 * Whether the Event Webhook's signature (`X-Twilio-Email-Event-Webhook-Signature`, base64 DER ECDSA)
 * is SendGrid's over the timestamp header followed by the raw body, SHA-256, under `key`.
 */
export function verifySendgridSignature(key: KeyObject, signature: string, timestamp: string, rawBody: Buffer): boolean {
  if (signature === '' || !/^\d{1,15}$/.test(timestamp)) return false;
  try {
    return verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), rawBody]), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
