import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AutomationError } from '@crm-automation/core';

/**
 * SendGrid's verification key as its dashboard shows it (base64 of the DER SubjectPublicKeyInfo of a
 * P-256 key), as PEM, or as the base64 of the bare point; refused with `CRM_ERR_CONFIG` otherwise.
 */
export function sendgridPublicKey(key: string): KeyObject {
  let parsed: KeyObject;
  try {
    const bytes = key.includes('-----BEGIN') ? undefined : Buffer.from(key.trim(), 'base64');
    // A bare P-256 point (65 bytes, 0x04 then x and y) rather than its DER wrapping, as some tools export it.
    parsed = !bytes
      ? createPublicKey(key)
      : bytes.length === 65 && bytes[0] === 0x04
        ? createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: bytes.subarray(1, 33).toString('base64url'), y: bytes.subarray(33).toString('base64url') }, format: 'jwk' })
        : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (error) {
    throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: sendgrid.publicKey is not an EC public key (base64 DER or PEM, as the Event Webhook settings show it)', { cause: error });
  }
  if (parsed.asymmetricKeyType !== 'ec' || parsed.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: sendgrid.publicKey must be a P-256 (prime256v1) EC key');
  }
  return parsed;
}

/**
 * Whether the Event Webhook's signature (`X-Twilio-Email-Event-Webhook-Signature`, base64 DER ECDSA,
 * or the same as raw r || s) is SendGrid's over the timestamp header followed by the raw body,
 * SHA-256, under `key`.
 */
export function verifySendgridSignature(key: KeyObject, signature: string, timestamp: string, rawBody: Buffer): boolean {
  if (signature === '' || !/^\d{1,15}$/.test(timestamp)) return false;
  const data = Buffer.concat([Buffer.from(timestamp, 'utf8'), rawBody]);
  const bytes = Buffer.from(signature.trim(), 'base64');
  try {
    // SendGrid sends DER; the same signature as raw r || s (64 bytes, IEEE P1363) is as unforgeable.
    return verify('sha256', data, key, bytes) || (bytes.length === 64 && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, bytes));
  } catch {
    return false;
  }
}
