import { createHmac } from 'node:crypto';

/**
 * Twilio's request signature, written here on its own (not taken from @crm-automation/http), as
 * Twilio computes it: base64 HMAC-SHA1 of the URL followed by each parameter's name and value, sorted
 * by name. The stand-ins sign status callbacks and inbound texts with it.
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const data = [...params.keys()].sort().reduce((acc, key) => acc + key + (params.get(key) ?? ''), url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}
