import {
  AutomationError,
  checkOptions,
  createWebhookAddressCheck,
  hasLineBreak,
  optionKeys,
  positiveIntOption,
  webhookCommandSchema,
  webhookRuleParamsSchema,
  type ChannelGateway,
  type WebhookCommandParams,
} from '@crm-automation/core';
import { canonicalWebhookAddressPolicy, checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';
import { DEFAULT_TIMEOUT_MS, httpExchange } from '../http/http-exchange.js';
import { httpFailure, permanentFailure } from '../outcome/gateway-failure.js';
import type { SendReceipt } from '../receipt.js';
import { providerName, requireValidCommand } from '../validation/command-params.js';
import { createDefaultConnector, createPinnedDispatcher, type WebhookConnector } from './pinned-connection.js';
import { resolveDestination, systemResolver, type HostResolver } from './resolve-destination.js';
import { decodeSigningSecret, standardWebhookHeaders } from './standard-webhooks-signature.js';

export interface WebhookOptions {
  /** Deadline for the receiver's answer, connect to last byte. Default 10 s. */
  timeoutMs?: number | undefined;
  /**
   * Standard Webhooks signing secret(s), `whsec_<base64>`. With several, every delivery carries one
   * signature per secret, so receivers can rotate keys without a gap. Required unless `unsigned: true`.
   */
  signingSecret?: string | readonly string[] | undefined;
  /**
   * Send without a signature. Receivers then cannot tell deliveries from forgeries, so this must be
   * said explicitly: without a `signingSecret` and without `unsigned: true`, `createWebhook` refuses.
   */
  unsigned?: boolean | undefined;
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
  /** Provider name in deliveries, logs and metrics. Default `webhook`. */
  name?: string | undefined;
}

const WEBHOOK_OPTION_KEYS = optionKeys<WebhookOptions>()(
  'timeoutMs', 'signingSecret', 'unsigned', 'allowPrivateNetworks', 'allowHosts', 'lookup', 'connect', 'userAgent', 'now', 'name',
);

const WEBHOOK_OPTION_SHAPES: Readonly<Partial<Record<keyof WebhookOptions, OptionShape>>> = {
  unsigned: { kind: 'boolean', what: 'true or false' },
  allowPrivateNetworks: { kind: 'boolean', what: 'true or false' },
  allowHosts: { kind: 'strings', what: 'an array of host names' },
  lookup: { kind: 'function', what: 'a host resolver function' },
  connect: { kind: 'function', what: 'a connector function' },
  userAgent: { kind: 'string', what: 'a User-Agent string' },
  now: { kind: 'function', what: 'a function returning epoch milliseconds' },
};

/**
 * The secrets given, trimmed. An empty or blank one (an unset environment variable read as `''`) and
 * `null` count as none, so they need `unsigned: true` like a missing one rather than failing to decode.
 */
function signingSecrets(given: unknown): string[] {
  if (given === undefined || given === null) return [];
  const list: unknown[] = typeof given === 'string' ? [given] : Array.isArray(given) ? given : [given];
  return list.flatMap((secret, index) => {
    if (secret === undefined || secret === null) return [];
    if (typeof secret !== 'string') {
      const where = Array.isArray(given) ? `signingSecret[${index}]` : 'signingSecret';
      throw new AutomationError('CRM_ERR_CONFIG', `createWebhook: ${where} must be a string (whsec_...), or an array of them; got ${describeKind(secret)}`);
    }
    const trimmed = secret.trim();
    return trimmed === '' ? [] : [trimmed];
  });
}

function describeKind(value: unknown): string {
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function invalid(message: string, code: string): never {
  throw permanentFailure('webhook', message, code);
}

/**
 * Parses and checks a rendered URL against the address policy (literal addresses, scheme,
 * credentials); undefined when it is not a one-line string, which the command schema then reports.
 */
function checkedDestination(raw: unknown, checkUrl: (url: URL) => string | null): URL | undefined {
  if (typeof raw !== 'string' || raw === '' || hasLineBreak(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid(`params.url ${JSON.stringify(raw.slice(0, 200))} is not an absolute URL`, 'invalid_url');
  }
  const refused = checkUrl(url);
  if (refused) invalid(refused, /scheme|credentials|no host/.test(refused) ? 'invalid_url' : 'blocked_address');
  return url;
}

/**
 * Webhooks that are safe to point at user-supplied URLs. Each delivery:
 * 1. checks the rendered params with core's `webhookCommandSchema` (headers the gateway sets, such as
 *    `webhook-id`, `expect` or `te`, are refused) and accepts only http(s) URLs without credentials;
 * 2. resolves the host and refuses it when ANY address is not public unicast (unless allowed);
 * 3. connects to the checked address only, so DNS rebinding cannot swap it;
 * 4. sends the rendered payload as JSON with the rule's method and headers, signed per Standard
 *    Webhooks (`webhook-id` = the command's idempotency key, stable across retries);
 * 5. never follows redirects: a 3xx is a permanent failure naming the Location.
 *
 * Receivers de-duplicate by `webhook-id` (Standard Webhooks), so the gateway declares `dedupes`: a
 * delivery whose answer was lost (a timeout or a connection lost after the request was written,
 * `ambiguous`) may be retried by the engine with the same `webhook-id`. The engine's
 * `SendContext.signal` aborts the request.
 *
 * @example
 * const webhook = createWebhook({ signingSecret: process.env.WEBHOOK_SECRET });
 * const internal = createWebhook({ unsigned: true, allowHosts: ['hooks.internal'] });
 *
 * The gateway's `paramsSchema` validates the webhook actions of rules with this gateway's address
 * policy, so an engine that has the gateway refuses literal blocked destinations at save time.
 */
export function createWebhook(options: WebhookOptions): ChannelGateway {
  checkOptions('createWebhook', options, WEBHOOK_OPTION_KEYS, true);
  const timeoutMs = positiveIntOption('createWebhook: timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  checkOptionShapes('createWebhook', options, WEBHOOK_OPTION_SHAPES);
  const secrets = signingSecrets(options.signingSecret);
  if (secrets.length === 0 && options.unsigned !== true) {
    throw new AutomationError(
      'CRM_ERR_CONFIG',
      'createWebhook needs a signingSecret (whsec_...), or unsigned: true to send deliveries receivers cannot verify',
    );
  }
  if (secrets.length > 0 && options.unsigned === true) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createWebhook: unsigned: true contradicts the signingSecret given; pass one of them');
  }
  const keys = secrets.map((secret, index) => {
    try {
      return decodeSigningSecret(secret);
    } catch (error) {
      const where = secrets.length > 1 ? `signingSecret[${index}]` : 'signingSecret';
      throw new AutomationError('CRM_ERR_CONFIG', `createWebhook: ${where}: ${(error as Error).message}`, { cause: error });
    }
  });
  const check = createWebhookAddressCheck({ allowPrivateNetworks: options.allowPrivateNetworks, allowHosts: options.allowHosts });
  const resolve = options.lookup ?? systemResolver;
  const connector = options.connect ?? createDefaultConnector(timeoutMs);
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? 'crm-automation-webhooks/0.1';
  const name = providerName('createWebhook', options.name, 'webhook');

  return {
    name,
    dedupes: true,
    // Save time: the rule's literal destination is checked with this gateway's own address policy.
    paramsSchema: webhookRuleParamsSchema({ checkUrl: check.checkUrl }),
    addressPolicy: canonicalWebhookAddressPolicy({ allowPrivateNetworks: options.allowPrivateNetworks, allowHosts: options.allowHosts }),
    commandSchema: webhookCommandSchema,
    async send(command, context): Promise<SendReceipt> {
      // The destination first, so a refusal names the scheme, the credentials or the blocked address.
      const url = checkedDestination(command.params['url'], check.checkUrl);
      requireValidCommand('webhook', webhookCommandSchema, command.params);
      if (!url) return invalid('params.url is required', 'invalid_url');
      const params = command.params as Partial<WebhookCommandParams>;
      const method = params.method ?? 'POST';
      // Header names are case-insensitive; the checked names are sent lower-case, as before.
      const headers = Object.fromEntries(Object.entries(params.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));

      const payload = params.payload;
      const body = method === 'GET' || payload === undefined ? '' : JSON.stringify(payload);
      const id = command.metadata.idempotencyKey;
      const timestamp = Math.floor(now() / 1000);

      // Resolve and check before anything touches the network; connect to that address only.
      // Bounded like the request: a resolver that hangs must not outlive the engine's wait or the timeout.
      const lookupSignal = context?.signal ? AbortSignal.any([context.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      const destination = await resolveDestination(url, check, resolve, lookupSignal);
      const dispatcher = createPinnedDispatcher(url, destination, connector);
      try {
        const response = await httpExchange(name, {
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
          signal: context?.signal,
        });
        if (response.status < 200 || response.status >= 300) throw httpFailure(name, response, { now: now() });
        return { provider: name, id, status: response.status };
      } finally {
        dispatcher.destroy().catch(() => undefined);
      }
    },
  };
}
