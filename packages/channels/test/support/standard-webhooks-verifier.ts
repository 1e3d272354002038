import { webcrypto } from 'node:crypto';

/**
 * An independent verifier of the Standard Webhooks spec, written from the spec text (not from the
 * gateway's code) and using Web Crypto instead of node:crypto's createHmac: receivers check that
 * `webhook-signature` holds at least one `v1,<base64 HMAC-SHA256("id.timestamp.body")>` made with
 * the base64 key after `whsec_`, and that the timestamp is within the tolerance.
 */
export async function verifyStandardWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return { ok: false, reason: 'missing headers' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'bad timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'timestamp outside tolerance' };

  const keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await webcrypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(' ')) {
    const [version, encoded] = entry.split(',');
    if (version !== 'v1' || !encoded) continue;
    let signature: Uint8Array;
    try {
      signature = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    } catch {
      continue;
    }
    // subtle.verify compares in constant time.
    if (await webcrypto.subtle.verify('HMAC', key, signature, signed)) return { ok: true };
  }
  return { ok: false, reason: 'no matching signature' };
}
