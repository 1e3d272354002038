import { AutomationError, checkOptions, optionKeys, positiveIntOption, smsCommandSchema, smsRuleParamsSchema, type ChannelGateway, type SmsCommandParams } from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';
import { DEFAULT_TIMEOUT_MS, httpExchange, parseJsonBody } from '../http/http-exchange.js';
import { httpFailure, truncate } from '../outcome/gateway-failure.js';
import type { SendReceipt } from '../receipt.js';
import { absoluteUrl, providerName, requireValidCommand } from '../validation/command-params.js';

/** The sender: a phone number (or alphanumeric sender id) or a Messaging Service. */
export type TwilioSender =
  | { from: string; messagingServiceSid?: undefined }
  | { messagingServiceSid: string; from?: undefined };

export type TwilioSmsOptions = TwilioSender & {
  /** `AC...`; also the basic-auth user unless `apiKeySid` is given. */
  accountSid: string;
  /** The account's auth token (or the API key secret with `apiKeySid`). */
  authToken: string;
  /** Authenticate with an API key (`SK...`) instead of the account SID. */
  apiKeySid?: string | undefined;
  /** Twilio's API origin; tests point it at a local server. */
  baseUrl?: string | undefined;
  /** Deadline for Twilio's answer. Default 10 s. */
  timeoutMs?: number | undefined;
  /**
   * Passed as `StatusCallback` so Twilio reports delivery status to you (the receipt routes of
   * `@crm-automation/http`, `POST <public origin>/receipts/twilio`). When the engine keeps a delivery
   * ledger, each send's URL carries its delivery id (`?d=<deliveryId>`), so a receipt finds its send
   * even when Twilio's answer to the send was lost.
   */
  statusCallback?: string | undefined;
  /** Provider name in deliveries, logs and metrics; give a second account its own (`twilio-backup`). Default `twilio`. */
  name?: string | undefined;
};

const DEFAULT_BASE_URL = 'https://api.twilio.com';

const TWILIO_OPTION_KEYS = optionKeys<TwilioSmsOptions>()('accountSid', 'authToken', 'from', 'messagingServiceSid', 'apiKeySid', 'baseUrl', 'timeoutMs', 'statusCallback', 'name');

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError later.
const TWILIO_OPTION_SHAPES: Readonly<Partial<Record<keyof TwilioSmsOptions, OptionShape>>> = {
  accountSid: { kind: 'string', what: 'an account SID (AC...)' },
  authToken: { kind: 'string', what: 'an auth token (or API key secret)' },
  from: { kind: 'string', what: 'a sender number or ID', allowEmpty: true },
  messagingServiceSid: { kind: 'string', what: 'a messaging service SID (MG...)', allowEmpty: true },
  apiKeySid: { kind: 'string', what: 'an API key SID (SK...)', allowEmpty: true },
  baseUrl: { kind: 'string', what: 'an absolute URL' },
  statusCallback: { kind: 'string', what: 'an absolute URL for delivery receipts', allowEmpty: true },
};

/**
 * SMS through Twilio's Programmable Messaging REST API: a form-encoded
 * `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth. Returns the message
 * `sid`. Twilio's Messages API takes no idempotency key, so the gateway does not declare `dedupes`: a
 * send whose answer is lost after the request was written (a timeout, a connection reset) fails
 * `ambiguous`, and the engine holds it as `unknown` rather than resending it; a status callback or an
 * operator settles it. The engine's `SendContext.signal` aborts the request.
 *
 * @example
 * const sms = createTwilioSms({ accountSid, authToken, from: '+15550001111' });
 */
export function createTwilioSms(options: TwilioSmsOptions): ChannelGateway {
  checkOptions('createTwilioSms', options, TWILIO_OPTION_KEYS, true);
  checkOptionShapes('createTwilioSms', options, TWILIO_OPTION_SHAPES);
  if (!options.accountSid || !options.authToken) throw new AutomationError('CRM_ERR_CONFIG', 'createTwilioSms needs accountSid and authToken');
  if (Boolean(options.from) === Boolean(options.messagingServiceSid)) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createTwilioSms needs exactly one of from or messagingServiceSid');
  }
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const user = options.apiKeySid ?? options.accountSid;
  const authorization = `Basic ${Buffer.from(`${user}:${options.authToken}`).toString('base64')}`;
  const timeoutMs = positiveIntOption('createTwilioSms: timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const name = providerName('createTwilioSms', options.name, 'twilio');
  const statusCallback = options.statusCallback === undefined || options.statusCallback === '' ? undefined : absoluteUrl('createTwilioSms: statusCallback', options.statusCallback);

  return {
    name,
    paramsSchema: smsRuleParamsSchema,
    commandSchema: smsCommandSchema,
    async send(command, context): Promise<SendReceipt> {
      requireValidCommand(name, smsCommandSchema, command.params);
      const { recipient, message } = command.params as SmsCommandParams;
      const form = new URLSearchParams({ To: recipient, Body: message });
      if (options.from) form.set('From', options.from);
      if (options.messagingServiceSid) form.set('MessagingServiceSid', options.messagingServiceSid);
      if (statusCallback) form.set('StatusCallback', statusCallbackFor(statusCallback, command.metadata.deliveryId));

      const response = await httpExchange(name, {
        url,
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        timeoutMs,
        signal: context?.signal,
      });
      const json = parseJsonBody(response.body) as { sid?: unknown; status?: unknown; code?: unknown; message?: unknown } | undefined;
      if (response.status < 200 || response.status >= 300) {
        throw httpFailure(name, response, {
          providerCode: typeof json?.code === 'number' || typeof json?.code === 'string' ? json.code : undefined,
          detail: typeof json?.message === 'string' ? json.message : undefined,
        });
      }
      return {
        provider: name,
        id: typeof json?.sid === 'string' ? json.sid : null,
        status: response.status,
        ...(typeof json?.status === 'string' ? { providerStatus: truncate(json.status, 40) } : {}),
      };
    },
  };
}

/** The status-callback URL of one send: the configured one, with the delivery id as `d` when there is one. */
export function statusCallbackFor(base: URL, deliveryId: string | undefined): string {
  if (deliveryId === undefined) return base.href;
  const url = new URL(base.href);
  url.searchParams.set('d', deliveryId);
  return url.href;
}
