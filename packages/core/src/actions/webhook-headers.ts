/** An HTTP header name: an RFC 9110 token. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * An HTTP header value as the webhook gateway's HTTP client (undici) will send it: tab, visible ASCII,
 * space and the Latin-1 range (RFC 9110 field-content with obs-text). Anything else (other control
 * characters, DEL, characters past U+00FF such as `€` or emoji) makes every send fail.
 */
export const HEADER_VALUE_PATTERN = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isHeaderValue(value: string): boolean {
  return HEADER_VALUE_PATTERN.test(value);
}

/**
 * Headers the webhook gateway sets itself (framing, hop-by-hop, the Standard Webhooks signature); a
 * rule may not set them. Compared lower-case.
 */
export const RESERVED_WEBHOOK_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'expect',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

/**
 * True for the names above in any case, and for every `proxy-*` header: those are meant for a proxy
 * on the way (credentials included), never for the receiver.
 */
export function isReservedWebhookHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_WEBHOOK_HEADERS.has(lower) || lower.startsWith('proxy-');
}
