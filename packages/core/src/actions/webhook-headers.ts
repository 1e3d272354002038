/** An HTTP header name: an RFC 9110 token. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

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

export function isReservedWebhookHeader(name: string): boolean {
  return RESERVED_WEBHOOK_HEADERS.has(name.toLowerCase());
}
