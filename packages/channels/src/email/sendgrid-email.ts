import { AutomationError, checkOptions, optionKeys, positiveIntOption, type ChannelGateway } from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';
import { DEFAULT_TIMEOUT_MS, httpExchange, parseJsonBody } from '../http/http-exchange.js';
import { httpFailure } from '../outcome/gateway-failure.js';
import { MAX_RETRY_AFTER_MS } from '../outcome/retry-after.js';
import type { SendReceipt } from '../receipt.js';
import { providerName, requireSenderAddress } from '../validation/command-params.js';
import { emailGatewaySchemas, senderOf, validEmailCommand, type EmailSender } from './email-gateway-parts.js';

export type { EmailSender } from './email-gateway-parts.js';

export interface SendgridEmailOptions {
  apiKey: string;
  from: EmailSender;
  replyTo?: string | undefined;
  /** SendGrid's API origin; tests point it at a local server. */
  baseUrl?: string | undefined;
  /** Deadline for SendGrid's answer. Default 10 s. */
  timeoutMs?: number | undefined;
  /** Clock (ms) for rate-limit reset times. */
  now?: (() => number) | undefined;
  /** Provider name in deliveries, logs and metrics; give a second account its own. Default `sendgrid`. */
  name?: string | undefined;
}

const DEFAULT_BASE_URL = 'https://api.sendgrid.com';

const SENDGRID_OPTION_KEYS = optionKeys<SendgridEmailOptions>()('apiKey', 'from', 'replyTo', 'baseUrl', 'timeoutMs', 'now', 'name');

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError later.
const SENDGRID_OPTION_SHAPES: Readonly<Partial<Record<keyof SendgridEmailOptions, OptionShape>>> = {
  apiKey: { kind: 'string', what: 'an API key (SG....)' },
  replyTo: { kind: 'string', what: 'an email address' },
  baseUrl: { kind: 'string', what: 'an absolute URL' },
  now: { kind: 'function', what: 'a function returning epoch milliseconds' },
};

/**
 * Email through SendGrid's v3 Mail Send API (`POST /v3/mail/send`, bearer API key, JSON). With a
 * `templateId` the message uses that dynamic template with the event payload as
 * `dynamic_template_data`; otherwise `subject` and text/html `content`. The command's metadata travels
 * as `custom_args` (with the delivery ledger's `deliveryId`), so SendGrid's event webhook reports it
 * back and a receipt finds its send even when SendGrid's answer was lost. Returns the `X-Message-Id`.
 * Mail Send takes no idempotency key, so the gateway does not declare `dedupes`: a send whose answer
 * is lost after the request was written fails `ambiguous` and is held by the engine, not resent.
 *
 * @example
 * const email = createSendgridEmail({ apiKey: process.env.SENDGRID_API_KEY, from: 'alerts@example.com' });
 */
export function createSendgridEmail(options: SendgridEmailOptions): ChannelGateway {
  checkOptions('createSendgridEmail', options, SENDGRID_OPTION_KEYS, true);
  checkOptionShapes('createSendgridEmail', options, SENDGRID_OPTION_SHAPES);
  if (!options.apiKey) throw new AutomationError('CRM_ERR_CONFIG', 'createSendgridEmail needs an apiKey');
  const from = senderOf('sendgrid', options.from, 'createSendgridEmail');
  if (options.replyTo !== undefined) requireSenderAddress('sendgrid', 'replyTo', options.replyTo);
  const url = `${(options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/v3/mail/send`;
  const timeoutMs = positiveIntOption('createSendgridEmail: timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const name = providerName('createSendgridEmail', options.name, 'sendgrid');

  return {
    name,
    ...emailGatewaySchemas,
    async send(command, context): Promise<SendReceipt> {
      const email = validEmailCommand(name, command.params);
      const m = command.metadata;
      const personalization: Record<string, unknown> = { to: [{ email: email.recipient }] };
      const body: Record<string, unknown> = {
        personalizations: [personalization],
        from,
        // custom_args values must be strings; they come back on every event-webhook event.
        custom_args: {
          idempotencyKey: m.idempotencyKey,
          triggerId: m.triggerId,
          ruleId: m.ruleId,
          accountId: m.accountId,
          ...(m.deliveryId === undefined ? {} : { deliveryId: m.deliveryId }),
        },
      };
      if (options.replyTo) body['reply_to'] = { email: options.replyTo };
      if (email.subject !== '') body['subject'] = email.subject;
      if (email.templateId !== undefined) {
        body['template_id'] = email.templateId;
        personalization['dynamic_template_data'] = email.templateData ?? {};
      }
      // SendGrid requires text/plain before text/html.
      const content: Array<{ type: string; value: string }> = [];
      if (email.body !== undefined) content.push({ type: 'text/plain', value: email.body });
      if (email.html !== undefined) content.push({ type: 'text/html', value: email.html });
      if (content.length > 0) body['content'] = content;

      const response = await httpExchange(name, {
        url,
        method: 'POST',
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        timeoutMs,
        signal: context?.signal,
      });
      if (response.status < 200 || response.status >= 300) {
        const json = parseJsonBody(response.body) as { errors?: Array<{ message?: unknown; field?: unknown }> } | undefined;
        const messages = Array.isArray(json?.errors)
          ? json.errors
              .map((e) => (typeof e.message === 'string' ? (typeof e.field === 'string' && e.field ? `${e.field}: ${e.message}` : e.message) : ''))
              .filter(Boolean)
          : [];
        // SendGrid signals a rate limit with X-RateLimit-Reset (Unix seconds), not Retry-After.
        const reset = Number(response.headers['x-ratelimit-reset']);
        const now = (options.now ?? Date.now)();
        throw httpFailure(name, response, {
          detail: messages.length > 0 ? messages.join('; ') : undefined,
          now,
          fallbackRetryAfterMs: Number.isFinite(reset) && reset > 0 ? Math.min(Math.max(0, reset * 1000 - now), MAX_RETRY_AFTER_MS) : undefined,
        });
      }
      const messageId = response.headers['x-message-id'];
      return { provider: name, id: (Array.isArray(messageId) ? messageId[0] : messageId) ?? null, status: response.status };
    },
  };
}
