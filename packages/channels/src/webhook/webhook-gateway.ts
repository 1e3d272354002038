import { AutomationError, createWebhookAddressCheck, type ChannelGateway } from '@crm-automation/core';
import { DEFAULT_TIMEOUT_MS, httpExchange } from '../http/http-exchange.js';
import { httpFailure, permanentFailure } from '../outcome/gateway-failure.js';
import type { SendReceipt } from '../receipt.js';
import { hasLineBreak, HEADER_NAME_PATTERN } from '../validation/command-params.js';
import { createDefaultConnector, createPinnedDispatcher, type WebhookConnector } from './pinned-connection.js';
import { resolveDestination, systemResolver, type HostResolver } from './resolve-destination.js';
import { decodeSigningSecret, standardWebhookHeaders } from './standard-webhooks-signature.js';

export interface WebhookOptions {
  /** Deadline for the receiver's answer, connect to last byte. Default 10 s. */
  timeoutMs?: number | undefined;
  /**
   * Standard Webhooks signing secret(s), `whsec_<base64>`. With several, every delivery carries one
   * signature per secret, so receivers can rotate keys without a gap.
   */
  signingSecret?: string | readonly string[] | undefined;
  /** Also allow loopback, RFC 1918, CGNAT and unique-local receivers (see core's WebhookAddressPolicy). */
  allowPrivateNetworks?: boolean | undefined;
  /** Hosts that may be reached whatever they resolve to (tests, internal receivers). */
  allowHosts?: readonly string[] | undefined;
  /** Name resolution; the system resolver by default. Every answer is checked. */
  lookup?: HostResolver | undefined;
  /** Opens the socket to the checked address; undici's connector by default. */
  connect?: WebhookConnector | undefined;
  /** Sent as User-Agent. */
  userAgent?: string | undefined;
  /** Clock for `webhook-timestamp`, in milliseconds. */
  now?: (() => number) | undefined;
}

const METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'GET']);
// Set by the gateway (framing, signature); a rule may not override them.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'expect', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);

function invalid(message: string, code = 'invalid_params'): never {
  throw permanentFailure('webhook', message, code);
}

function headersOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) invalid('params.headers must be an object of strings');
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!HEADER_NAME_PATTERN.test(name)) invalid(`header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) invalid(`header ${name} is set by the gateway`);
    if (typeof raw !== 'string') invalid(`header ${name} must be a string`);
    if (hasLineBreak(raw)) invalid(`header ${name} contains a line break (header injection refused)`, 'header_injection');
    out[name.toLowerCase()] = raw;
  }
  return out;
}

/**
 * Webhooks that are safe to point at user-supplied URLs. Each delivery:
 * 1. accepts only http(s) URLs without credentials;
 * 2. resolves the host and refuses it when ANY address is not public unicast (unless allowed);
 * 3. connects to the checked address only, so DNS rebinding cannot swap it;
 * 4. sends the rendered payload as JSON with the rule's method and headers, signed per Standard
 *    Webhooks (`webhook-id` = the command's idempotency key, stable across retries);
 * 5. never follows redirects: a 3xx is a permanent failure naming the Location.
 *
 * @example
 * const webhook = createWebhook({ signingSecret: process.env.WEBHOOK_SECRET });
 */
export function createWebhook(options: WebhookOptions = {}): ChannelGateway {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', 'createWebhook: timeoutMs must be a positive integer');
  const secrets = options.signingSecret === undefined ? [] : typeof options.signingSecret === 'string' ? [options.signingSecret] : options.signingSecret;
  const keys = secrets.map(decodeSigningSecret);
  const check = createWebhookAddressCheck({ allowPrivateNetworks: options.allowPrivateNetworks, allowHosts: options.allowHosts });
  const resolve = options.lookup ?? systemResolver;
  const connector = options.connect ?? createDefaultConnector(timeoutMs);
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? 'crm-automation-webhooks/0.1';

  return {
    name: 'webhook',
    async send(command): Promise<SendReceipt> {
      const params = command.params;
      const rawUrl = params['url'];
      if (typeof rawUrl !== 'string' || rawUrl === '') invalid('params.url is required');
      if (hasLineBreak(rawUrl)) invalid('params.url contains a line break', 'header_injection');
      let url: URL;
      try {
        url = new URL(rawUrl);
      } catch {
        return invalid(`params.url ${JSON.stringify(rawUrl.slice(0, 200))} is not an absolute URL`, 'invalid_url');
      }
      const refused = check.checkUrl(url);
      if (refused) invalid(refused, /scheme|credentials|no host/.test(refused) ? 'invalid_url' : 'blocked_address');
      const method = typeof params['method'] === 'string' ? params['method'].toUpperCase() : 'POST';
      if (!METHODS.has(method)) invalid(`method ${JSON.stringify(method)} is not one of ${[...METHODS].join(', ')}`);
      const headers = headersOf(params['headers']);

      const payload = params['payload'];
      const body = method === 'GET' || payload === undefined ? '' : JSON.stringify(payload);
      const id = command.metadata.idempotencyKey;
      const timestamp = Math.floor(now() / 1000);

      // Resolve and check before anything touches the network; connect to that address only.
      const destination = await resolveDestination(url, check, resolve);
      const dispatcher = createPinnedDispatcher(url, destination, connector);
      try {
        const response = await httpExchange('webhook', {
          url,
          method,
          headers: {
            'user-agent': userAgent,
            ...headers,
            ...(body === '' ? {} : { 'content-type': 'application/json' }),
            ...(keys.length > 0 ? standardWebhookHeaders(keys, id, timestamp, body) : { 'webhook-id': id, 'webhook-timestamp': String(timestamp) }),
          },
          body: body === '' ? undefined : body,
          timeoutMs,
          dispatcher,
        });
        if (response.status < 200 || response.status >= 300) throw httpFailure('webhook', response, { now: now() });
        return { provider: 'webhook', id, status: response.status };
      } finally {
        dispatcher.destroy().catch(() => undefined);
      }
    },
  };
}
