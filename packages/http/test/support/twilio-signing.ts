import { createHmac } from 'node:crypto';

/**
 * Twilio's documented request signature, written here apart from the package's: base64 HMAC-SHA1
 * keyed with the auth token over the URL followed by each POST parameter sorted by name, name then
 * value. inbound-sms.test.ts checks it against Twilio's published vectors.
 */
export function signAsTwilio(authToken: string, url: string, form: Record<string, string>): string {
  const data = Object.keys(form)
    .sort()
    .reduce((acc, name) => acc + name + form[name], url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Posts an inbound-message form to `url` as Twilio does, signed for `url` with `authToken` unless `signature` is given. */
export async function postAsTwilio(url: string, authToken: string, form: Record<string, string>, signature?: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'x-twilio-signature': signature ?? signAsTwilio(authToken, url, form) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}
