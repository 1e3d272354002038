// One file: the provider webhook routes (Twilio status callbacks and inbound texts, SendGrid events)
// share the signature checks, the body parsing and the replies, and each reads against the others.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  AutomationError,
  checkOptions,
  describeError,
  optionKeys,
  positiveIntOption,
  silentLogger,
  type DeliveryReceipt,
  type Logger,
  type ReceiptResult,
} from '@crm-automation/core';
import { isE164, normalizedRecipient } from '@crm-automation/core/spi';
import { HttpError, replyWithError, setNotFoundHandlerUnlessSet } from '../http-errors.js';
import { sendgridEventMeaning, sendgridMessageIdCandidates, twilioReceiptState, type SuppressionReason } from './receipt-mapping.js';
import { sendgridPublicKey, verifySendgridSignature } from './sendgrid-signature.js';
import { isKnownOptOutType, twilioInboundIntent, type SuppressionWriter } from './suppression-writer.js';
import { verifyTwilioSignature } from './twilio-signature.js';

/** Where receipts go: `engine.deliveries`, or a client of the service that keeps the ledger. */
export interface ReceiptDeliveries {
  applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult>;
}

/** A receipt saying a recipient should not be written to again (the contact-policy ledger's input). */
export interface Suppression {
  reason: SuppressionReason;
  /** `twilio`, `sendgrid` (the routes' provider names). */
  provider: string;
  channel: 'sms' | 'email';
  /** The phone number or email address the provider reports, normalised as the ledger keeps recipients (email lower-cased). */
  recipient?: string | undefined;
  /** The account of the send, when the receipt or the ledger says. */
  accountId?: string | undefined;
  deliveryId?: string | undefined;
  providerId?: string | undefined;
  /** The provider's error code or reason, when it gave one. */
  detail?: string | undefined;
  at: Date;
}

export interface TwilioReceiptOptions {
  /** The auth token(s) Twilio signs status callbacks with: several during a rotation or for several accounts. */
  authToken: string | readonly string[];
  /**
   * The public origin Twilio calls (`https://hooks.example.com`), plus the path prefix a proxy strips,
   * if any: Twilio signs the URL it called, and the URL checked is this followed by the path and query
   * the request arrived with. Without it, the URL is rebuilt from the request (`request.protocol` and
   * `request.host`, which follow `X-Forwarded-Proto` / `X-Forwarded-Host` only with Fastify's
   * `trustProxy`): right when the app is reached directly or through a proxy that keeps the path.
   */
  publicUrl?: string | undefined;
  /** Provider name of the receipts (the Twilio gateway's `name`). Default `twilio`. */
  provider?: string | undefined;
  /** Serves `POST /receipts/twilio/inbound` (the number's "A message comes in" webhook) when given. */
  inbound?: TwilioInboundOptions | undefined;
}

/**
 * Inbound texts: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE or OPTOUT suppresses the sender on `sms`
 * (reason `stop`, source `inbound-sms`); START, YES or UNSTOP removes that suppression. With Twilio's
 * Advanced Opt-Out, the `OptOutType` Twilio adds (`STOP`, `START`, `HELP`) decides instead, whatever the
 * body says (custom keywords in any language). Signed and checked like status callbacks (same auth
 * tokens, same `publicUrl`).
 */
export interface TwilioInboundOptions {
  /** Where suppressions are written: `engine.suppressions`, or a client of the service that keeps them. */
  suppressions: SuppressionWriter;
  /**
   * The account a text to `to` (our number, as Twilio posts it) under the Twilio `accountSid` belongs
   * to; undefined when none does (the text is answered and ignored).
   */
  accountFor: (to: string, accountSid: string) => string | undefined | Promise<string | undefined>;
}

export interface SendgridReceiptOptions {
  /** The Event Webhook's verification key, as SendGrid shows it (base64 DER), or PEM. */
  publicKey: string;
  /** Provider name of the receipts (the SendGrid gateway's `name`). Default `sendgrid`. */
  provider?: string | undefined;
}

export interface ReceiptRoutesOptions {
  deliveries: ReceiptDeliveries;
  /** Serves `POST /receipts/twilio` (status callbacks) when given. */
  twilio?: TwilioReceiptOptions | undefined;
  /** Serves `POST /receipts/sendgrid` (the Event Webhook) when given. */
  sendgrid?: SendgridReceiptOptions | undefined;
  /**
   * Called for hard bounces, undelivered SMS, spam reports and unsubscribes, so a contact policy can
   * stop writing to the recipient. A bounce or an undelivered SMS is reported once, when the receipt
   * moves its delivery (a repeated receipt does not); a spam report or an unsubscribe each time the
   * provider posts it. Its failure is logged; the receipt is still answered.
   */
  onSuppression?: ((suppression: Suppression) => void | Promise<void>) | undefined;
  logger?: Logger | undefined;
  /** Largest body in bytes. Default 1 MiB (SendGrid posts batches of up to 768 KB). */
  bodyLimit?: number | undefined;
  /** Clock for receipts without a time of their own. */
  now?: (() => Date) | undefined;
}

const OPTION_KEYS = optionKeys<ReceiptRoutesOptions>()('deliveries', 'twilio', 'sendgrid', 'onSuppression', 'logger', 'bodyLimit', 'now');
const TWILIO_KEYS = optionKeys<TwilioReceiptOptions>()('authToken', 'publicUrl', 'provider', 'inbound');
const TWILIO_INBOUND_KEYS = optionKeys<TwilioInboundOptions>()('suppressions', 'accountFor');
/** An empty TwiML document: Twilio sends no reply of ours (its own opt-out confirmation still goes). */
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const SENDGRID_KEYS = optionKeys<SendgridReceiptOptions>()('publicKey', 'provider');

export const DEFAULT_RECEIPT_BODY_LIMIT = 1024 * 1024;
/** SendGrid has posted at most about a thousand events per batch; more is not a batch from SendGrid. */
const MAX_EVENTS_PER_BATCH = 10_000;
/** Our ids (delivery ids, custom args) are short; anything longer is not ours. */
const ID = /^[\x21-\x7e]{1,200}$/;

const unauthenticated = (message: string) => new HttpError(401, 'CRM_ERR_HTTP_UNAUTHENTICATED', message);
// Twilio's guidance for a webhook whose signature does not validate is 403.
const forbidden = (message: string) => new HttpError(403, 'CRM_ERR_HTTP_FORBIDDEN', message);
const badRequest = (message: string) => new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', message);

function header(request: FastifyRequest, name: string): string {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** A recipient as the ledger and a contact policy compare them (one rule, core's). */
function recipientOf(channel: 'sms' | 'email', value: unknown): string | undefined {
  return typeof value === 'string' ? normalizedRecipient(channel, { recipient: value }) : undefined;
}

function idOf(value: unknown): string | undefined {
  return typeof value === 'string' && ID.test(value) ? value : undefined;
}

/** The time a provider gave an event (Unix seconds), unless it is missing or ahead of our clock. */
function eventTime(seconds: unknown, now: Date): Date {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return now;
  const at = new Date(Math.floor(seconds) * 1000);
  // Past the date range (1e20 s) the Date is invalid, and no comparison with it is true.
  return !Number.isFinite(at.getTime()) || at.getTime() > now.getTime() ? now : at;
}

/**
 * Delivery receipts as a Fastify plugin: providers report what became of each message and the
 * delivery ledger moves forward (`accepted → delivered | undelivered | bounced | failed`; a late or
 * repeated receipt changes nothing).
 *
 * - `POST /receipts/twilio`: Twilio status callbacks (form-encoded), verified with
 *   `X-Twilio-Signature` against `publicUrl` + the request's path and query. The send is found by the
 *   `d` query parameter the Twilio gateway adds to its `statusCallback` (the delivery id), else by
 *   `MessageSid`. `MessageStatus` maps: queued/accepted/sending/sent → accepted, delivered →
 *   delivered, undelivered → undelivered, failed → failed.
 * - `POST /receipts/sendgrid`: the Event Webhook (a JSON array), verified with its ECDSA signature
 *   (`X-Twilio-Email-Event-Webhook-Signature` over `X-Twilio-Email-Event-Webhook-Timestamp` + the raw
 *   body). The send is found by the `deliveryId` custom arg the SendGrid gateway sets, else by
 *   `sg_message_id` (the `X-Message-Id` before SendGrid's `.filter...` suffix). processed → accepted,
 *   delivered, open and click → delivered, bounce → bounced, dropped → failed, deferred ignored;
 *   spam reports and unsubscribes go to `onSuppression`.
 *
 * - `POST /receipts/twilio/inbound` (with `twilio.inbound`): inbound texts, signed like status
 *   callbacks; opt-out and opt-in keywords write to `twilio.inbound.suppressions` (see
 *   {@link TwilioInboundOptions}). Answers empty TwiML; a bad or missing signature is `403`.
 *
 * An unsigned or badly signed receipt is `401 CRM_ERR_HTTP_UNAUTHENTICATED` and changes nothing; a
 * receipt for an id the ledger does not know is answered 200 and ignored (providers retry on
 * errors); a ledger that cannot be reached answers 5xx, so the provider retries. Bodies are bounded
 * (`bodyLimit`); every error is `{ error: { code, message } }`.
 *
 * @example
 * await app.register(receiptRoutes, { deliveries: engine.deliveries, twilio: { authToken, publicUrl: 'https://hooks.example.com' }, sendgrid: { publicKey } });
 */
export const receiptRoutes: FastifyPluginAsync<ReceiptRoutesOptions> = async (app: FastifyInstance, registered) => {
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...options } = registered as ReceiptRoutesOptions & Record<string, unknown>;
  checkOptions('receiptRoutes', options, OPTION_KEYS, true);
  const { deliveries, twilio, sendgrid, onSuppression } = options as ReceiptRoutesOptions;
  // Each provider is optional (one of them is required below).
  checkOptions('receiptRoutes: twilio', twilio, TWILIO_KEYS);
  checkOptions('receiptRoutes: sendgrid', sendgrid, SENDGRID_KEYS);
  checkOptions('receiptRoutes: twilio.inbound', twilio?.inbound, TWILIO_INBOUND_KEYS);
  const inbound = twilio?.inbound;
  if (inbound && (typeof inbound.suppressions?.add !== 'function' || typeof inbound.suppressions.remove !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: twilio.inbound.suppressions must be engine.suppressions, or a client with add and remove');
  }
  if (inbound && typeof inbound.accountFor !== 'function') throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: twilio.inbound.accountFor must be a function (to, accountSid) => accountId | undefined');
  if (typeof deliveries?.applyReceipt !== 'function') throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes needs deliveries: engine.deliveries, or a client with applyReceipt');
  if (!twilio && !sendgrid) throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes needs twilio or sendgrid (or both)');
  const bodyLimit = positiveIntOption('receiptRoutes: bodyLimit', (options as ReceiptRoutesOptions).bodyLimit, DEFAULT_RECEIPT_BODY_LIMIT);
  const logger = ((options as ReceiptRoutesOptions).logger ?? silentLogger).child({ component: 'receipts' });
  const now = (options as ReceiptRoutesOptions).now ?? (() => new Date());

  const suppress = async (suppression: Suppression) => {
    if (!onSuppression) return;
    try {
      await onSuppression(suppression);
    } catch (error) {
      logger.error({ error: describeError(error), provider: suppression.provider, reason: suppression.reason, deliveryId: suppression.deliveryId }, 'the suppression hook failed');
    }
  };
  const apply = async (receipt: DeliveryReceipt): Promise<ReceiptResult> => {
    const result = await deliveries.applyReceipt(receipt);
    const fields = { provider: receipt.provider, providerId: receipt.providerId, deliveryId: receipt.deliveryId, state: receipt.state };
    if (result.applied) logger.info({ ...fields, accountId: result.delivery.accountId, triggerId: result.delivery.triggerId }, 'receipt applied');
    else logger.debug({ ...fields, reason: result.reason }, 'receipt ignored');
    return result;
  };

  // Bodies stay raw: signatures are computed over the bytes as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  setNotFoundHandlerUnlessSet(app);

  if (twilio) {
    const tokens = typeof twilio.authToken === 'string' ? [twilio.authToken] : [...twilio.authToken];
    if (tokens.length === 0 || tokens.some((t) => typeof t !== 'string' || t === '')) throw new AutomationError('CRM_ERR_CONFIG', 'receiptRoutes: twilio.authToken must be the auth token (or a list of them)');
    let publicUrl: string | undefined;
    if (twilio.publicUrl !== undefined) {
      try {
        const parsed = new URL(twilio.publicUrl);
        if (parsed.search !== '' || parsed.hash !== '' || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) throw new Error('an http(s) URL without query or fragment');
        publicUrl = parsed.href.replace(/\/+$/, '');
      } catch (error) {
        throw new AutomationError('CRM_ERR_CONFIG', `receiptRoutes: twilio.publicUrl must be the absolute URL (origin and path prefix) Twilio calls, got ${JSON.stringify(twilio.publicUrl)}`, { cause: error });
      }
    }
    const signedUrl = (request: FastifyRequest) => `${publicUrl ?? `${request.protocol}://${request.host}`}${request.originalUrl}`;
    const provider = twilio.provider ?? 'twilio';
    /** The request's form parameters when Twilio signed them for the URL it called; `refuse` answers otherwise. */
    const signedParams = (request: FastifyRequest, what: string, refuse: (message: string) => HttpError): Array<[string, string]> => {
      if (typeof request.body !== 'string') throw new HttpError(415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', `a Twilio ${what} is application/x-www-form-urlencoded`);
      const signature = header(request, 'x-twilio-signature');
      if (signature === '') throw refuse('X-Twilio-Signature is missing');
      const params = [...new URLSearchParams(request.body)];
      if (!verifyTwilioSignature(tokens, signature, signedUrl(request), params)) {
        logger.warn({ provider, path: request.url.split('?')[0] }, `${what} with a bad signature refused`);
        throw refuse('X-Twilio-Signature does not match this request');
      }
      return params;
    };

    app.post('/receipts/twilio', { bodyLimit }, async (request: FastifyRequest, reply: FastifyReply) => {
      const params = signedParams(request, 'status callback', unauthenticated);
      const get = (name: string) => params.find(([key]) => key === name)?.[1];
      const status = get('MessageStatus') ?? get('SmsStatus') ?? '';
      const state = twilioReceiptState(status);
      const providerId = idOf(get('MessageSid') ?? get('SmsSid'));
      const deliveryId = idOf(new URL(request.url, 'http://receipt.invalid').searchParams.get('d') ?? undefined);
      if (!state || (!providerId && !deliveryId)) return reply.code(200).send({ applied: false, reason: 'ignored' });
      const errorCode = get('ErrorCode');
      const detail = errorCode ? `${status} ${errorCode}` : status;
      const at = now();
      const result = await apply({ provider, state, at, detail, ...(providerId ? { providerId } : {}), ...(deliveryId ? { deliveryId } : {}) });
      // `failed` is Twilio's own refusal (a queue overflow, a suspended account), not news about the recipient.
      if (result.applied && state === 'undelivered') {
        await suppress({ reason: state, provider, channel: 'sms', recipient: recipientOf('sms', get('To')), accountId: result.delivery.accountId, deliveryId: result.delivery.id, providerId, detail: errorCode, at });
      }
      return reply.code(200).send(result.applied ? { applied: true } : { applied: false, reason: result.reason });
    });

    if (inbound) {
      app.post('/receipts/twilio/inbound', { bodyLimit }, async (request: FastifyRequest, reply: FastifyReply) => {
        const params = signedParams(request, 'inbound message', forbidden);
        const get = (name: string) => params.find(([key]) => key === name)?.[1];
        const answer = () => reply.code(200).type('text/xml; charset=utf-8').send(EMPTY_TWIML);
        // With Advanced Opt-Out, Twilio's own verdict (OptOutType) decides, not our keyword list.
        const optOutType = get('OptOutType')?.trim() || undefined;
        const intent = twilioInboundIntent({ body: get('Body'), optOutType });
        const messageSid = idOf(get('MessageSid') ?? get('SmsSid'));
        if (!intent) {
          if (optOutType !== undefined && !isKnownOptOutType(optOutType)) logger.warn({ provider, messageSid, optOutType }, 'inbound text with an OptOutType this route does not know ignored');
          return answer();
        }
        const from = recipientOf('sms', get('From'));
        // Short codes and alphanumeric senders have no place on a list of E.164 numbers.
        if (from === undefined || !isE164(from)) {
          logger.info({ provider, messageSid, intent, optOutType }, 'opt-out keyword from a sender that is not an E.164 number ignored');
          return answer();
        }
        const to = get('To') ?? '';
        const accountSid = get('AccountSid') ?? '';
        const accountId = await inbound.accountFor(to, accountSid);
        if (typeof accountId !== 'string' || accountId === '') {
          logger.warn({ provider, messageSid, to, accountSid, intent, optOutType }, 'keyword sent to a number of no account ignored');
          return answer();
        }
        const detail = messageSid ? `${provider} ${messageSid}` : provider;
        if (intent === 'opt-out') {
          await inbound.suppressions.add(accountId, { channel: 'sms', recipient: from, reason: 'stop', source: 'inbound-sms', by: provider, detail });
        } else {
          await inbound.suppressions.remove(accountId, 'sms', from, { reason: 'stop', source: 'inbound-sms', by: provider, detail });
        }
        logger.info({ provider, accountId, messageSid, intent, optOutType }, intent === 'opt-out' ? 'sender opted out of texts' : 'sender opted back in to texts');
        return answer();
      });
    }
  }

  if (sendgrid) {
    const key = sendgridPublicKey(sendgrid.publicKey);
    const provider = sendgrid.provider ?? 'sendgrid';

    app.post('/receipts/sendgrid', { bodyLimit }, async (request: FastifyRequest, reply: FastifyReply) => {
      if (!Buffer.isBuffer(request.body)) throw new HttpError(415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', 'the Event Webhook posts application/json');
      const signature = header(request, 'x-twilio-email-event-webhook-signature');
      const timestamp = header(request, 'x-twilio-email-event-webhook-timestamp');
      if (signature === '' || timestamp === '') throw unauthenticated('X-Twilio-Email-Event-Webhook-Signature or -Timestamp is missing');
      if (!verifySendgridSignature(key, signature, timestamp, request.body)) {
        logger.warn({ provider }, 'event webhook with a bad signature refused');
        throw unauthenticated('the Event Webhook signature does not match this request');
      }
      let events: unknown;
      try {
        events = JSON.parse(request.body.toString('utf8'));
      } catch {
        throw badRequest('the body is not JSON');
      }
      if (!Array.isArray(events) || events.length > MAX_EVENTS_PER_BATCH) throw badRequest(`the body must be a JSON array of at most ${MAX_EVENTS_PER_BATCH} events`);
      const counts = { events: events.length, applied: 0, ignored: 0 };
      // In order: a batch may hold processed then delivered for one message; the ledger keeps the furthest.
      for (const event of events as unknown[]) {
        if (typeof event !== 'object' || event === null) {
          counts.ignored += 1;
          continue;
        }
        const e = event as Record<string, unknown>;
        const meaning = typeof e['event'] === 'string' ? sendgridEventMeaning(e['event']) : undefined;
        const deliveryId = idOf(e['deliveryId']);
        const providerIds = typeof e['sg_message_id'] === 'string' ? sendgridMessageIdCandidates(e['sg_message_id']).flatMap((id) => idOf(id) ?? []) : [];
        const providerId = providerIds[0];
        const at = eventTime(e['timestamp'], now());
        const recipient = recipientOf('email', e['email']);
        const detail = [e['event'], e['type'], e['reason']].filter((part): part is string => typeof part === 'string' && part !== '').join(': ').slice(0, 300);
        if (meaning && 'suppression' in meaning) {
          counts.ignored += 1;
          await suppress({ reason: meaning.suppression, provider, channel: 'email', recipient, accountId: idOf(e['accountId']), deliveryId, providerId, at });
          continue;
        }
        if (!meaning || (!deliveryId && !providerId)) {
          counts.ignored += 1;
          continue;
        }
        // The first candidate id the ledger knows is the send's; an id none matches is ignored like any unknown id.
        let result = await apply({ provider, state: meaning.state, at, detail, ...(providerId ? { providerId } : {}), ...(deliveryId ? { deliveryId } : {}) });
        for (const other of providerIds.slice(1)) {
          if (result.applied || result.reason !== 'unknown-id') break;
          result = await apply({ provider, state: meaning.state, at, detail, providerId: other, ...(deliveryId ? { deliveryId } : {}) });
        }
        if (!result.applied) {
          counts.ignored += 1;
          continue;
        }
        counts.applied += 1;
        // A hard bounce says the address does not exist; a `blocked` bounce is the receiving server's policy.
        if (meaning.state === 'bounced' && e['type'] !== 'blocked') {
          await suppress({ reason: 'bounce', provider, channel: 'email', recipient, accountId: result.delivery.accountId, deliveryId: result.delivery.id, providerId: result.delivery.providerId ?? providerId, detail, at });
        }
      }
      return reply.code(200).send(counts);
    });
  }
};
