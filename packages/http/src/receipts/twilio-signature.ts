import { createHmac, timingSafeEqual } from 'node:crypto';

/** Form parameters as Twilio posted them; a name may repeat. */
export type TwilioParams = ReadonlyArray<readonly [string, string]>;

/**
 * Twilio's request signature (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed with the account's auth
 * token, of the full URL Twilio called (query included) followed by every POST parameter sorted by
 * name, each as name + value with no separators (a repeated name contributes each of its values,
 * sorted).
 */
export function twilioSignature(authToken: string, url: string, params: TwilioParams): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) (byName.get(name) ?? byName.set(name, []).get(name))?.push(value);
  let data = url;
  for (const name of [...byName.keys()].sort()) {
    for (const value of [...new Set(byName.get(name))].sort()) data += name + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * The URL as signed with and without its default port: Twilio has signed both forms, so its own
 * helper libraries accept either.
 */
function urlForms(url: string): string[] {
  const parsed = new URL(url);
  const defaultPort = parsed.protocol === 'https:' ? '443' : '80';
  const withoutPort = new URL(url);
  withoutPort.port = '';
  const forms = new Set([url, withoutPort.href]);
  if (parsed.port === '' || parsed.port === defaultPort) {
    forms.add(`${parsed.protocol}//${parsed.username ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@` : ''}${parsed.hostname}:${defaultPort}${parsed.pathname}${parsed.search}`);
  }
  return [...forms];
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `signature` is Twilio's for this URL and these params under one of `authTokens` (rotation, several accounts). */
export function verifyTwilioSignature(authTokens: readonly string[], signature: string, url: string, params: TwilioParams): boolean {
  if (signature === '') return false;
  let valid = false;
  // Every form is computed, so the time taken does not say which token or URL form matched.
  for (const token of authTokens) for (const form of urlForms(url)) valid = sameText(twilioSignature(token, form, params), signature) || valid;
  return valid;
}
