import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { ChannelDelivery, ChannelReceiver } from '@crm-automation/testing';
import { loseAnswer, messageTaking, sendJson, startLocalHttpServer, type AnswerLost, type LocalHttpServer, type TakesMessages } from './local-http-server.js';

export const SENDGRID_API_KEY = 'SG.test-key.0123456789';
/** A fixed clock shared by the fake and the gateway, so rate-limit resets are exact. */
export const SENDGRID_NOW_MS = 1_700_000_000_000;

interface MailSend {
  personalizations: Array<{ to: Array<{ email: string; name?: string }>; dynamic_template_data?: Record<string, unknown> }>;
  from: { email: string; name?: string };
  subject?: string;
  content?: Array<{ type: string; value: string }>;
  template_id?: string;
  custom_args?: Record<string, unknown>;
  reply_to?: { email: string };
}

type Failure = { kind: 'rate-limited'; resetInSeconds: number } | { kind: 'server-error' } | { kind: 'bad-request' } | AnswerLost;

export interface FakeSendgrid extends ChannelReceiver, LocalHttpServer, TakesMessages {
  mails: Array<MailSend & { messageId: string }>;
  violations: string[];
  failNext(failure: Failure): void;
  /** The Event Webhook's verification key, as SendGrid's settings show it (base64 DER of a P-256 public key). */
  verificationKey: string;
  /** An Event Webhook event for a mail this fake accepted, with its custom args at the top level as SendGrid sends them. */
  eventFor(mail: { messageId: string; personalizations: MailSend['personalizations']; custom_args?: Record<string, unknown> | undefined }, event: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /**
   * Posts events to `url`, signed as SendGrid signs them (or with a tampered body or signature);
   * `rawBody` is signed and sent instead of the events' JSON.
   */
  postEvents(url: string, events: unknown[], options?: PostEventsOptions): Promise<{ status: number; body: string }>;
}

export interface PostEventsOptions {
  tamper?: 'body' | 'signature' | 'unsigned' | undefined;
  rawBody?: string | undefined;
}

const errors = (...list: Array<{ message: string; field: string | null; help?: string | null }>) => ({ errors: list });

/**
 * A local stand-in for SendGrid's v3 Mail Send endpoint: checks `POST /v3/mail/send` with a bearer
 * key and the documented JSON (personalizations[].to[].email, from.email, subject + content with
 * text/plain first, or template_id), answers 202 with an X-Message-Id, and SendGrid's error shapes
 * (`{ errors: [{ message, field, help }] }`, 429 with X-RateLimit-* headers).
 */
export async function startFakeSendgrid(): Promise<FakeSendgrid> {
  const failures: Failure[] = [];
  const mails: FakeSendgrid['mails'] = [];
  const violations: string[] = [];

  const taking = messageTaking(() => mails.length);
  const server = await startLocalHttpServer(async (req, res) => {
    if (req.method !== 'POST' || req.path !== '/v3/mail/send') {
      violations.push(`unexpected ${req.method} ${req.path}`);
      return sendJson(res, 404, errors({ message: 'resource not found', field: null }));
    }
    if (req.headers.authorization !== `Bearer ${SENDGRID_API_KEY}`) {
      violations.push('bad bearer key');
      return sendJson(res, 401, errors({ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }));
    }
    if (req.headers['content-type'] !== 'application/json') violations.push(`content-type ${req.headers['content-type']}`);
    let mail: MailSend;
    try {
      mail = JSON.parse(req.body) as MailSend;
    } catch {
      violations.push('body is not JSON');
      return sendJson(res, 400, errors({ message: 'Bad Request', field: null }));
    }
    const problems: Array<{ message: string; field: string }> = [];
    const to = mail.personalizations?.[0]?.to?.[0]?.email;
    if (!to) problems.push({ message: 'The to array is required for all personalization objects, and must have at least one email object with a valid email address.', field: 'personalizations.0.to' });
    if (!mail.from?.email) problems.push({ message: 'The from object must be provided for every email send.', field: 'from' });
    if (mail.template_id === undefined) {
      if (!mail.subject) problems.push({ message: 'The subject is required.', field: 'subject' });
      if (!mail.content?.length) problems.push({ message: 'Unless a valid template_id is provided, the content parameter is required.', field: 'content' });
    }
    const types = (mail.content ?? []).map((c) => c.type);
    if (types.includes('text/html') && types.includes('text/plain') && types.indexOf('text/plain') > types.indexOf('text/html')) {
      problems.push({ message: 'If present, text/plain content must be first, followed by text/html.', field: 'content' });
    }
    for (const [key, value] of Object.entries(mail.custom_args ?? {})) {
      if (typeof value !== 'string') problems.push({ message: 'Custom args values must be strings.', field: `custom_args.${key}` });
    }
    if (problems.length > 0) {
      violations.push(...problems.map((p) => `${p.field}: ${p.message}`));
      return sendJson(res, 400, errors(...problems.map((p) => ({ ...p, help: null }))));
    }
    const failure = failures.shift();
    if (failure?.kind === 'rate-limited') {
      return sendJson(res, 429, errors({ field: null, message: 'too many requests' }), {
        'x-ratelimit-limit': '600',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(SENDGRID_NOW_MS / 1000 + failure.resetInSeconds),
      });
    }
    if (failure?.kind === 'server-error') return sendJson(res, 500, errors({ field: null, message: 'Internal server error' }));
    if (failure?.kind === 'bad-request') {
      return sendJson(res, 400, errors({ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email', help: 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to' }));
    }
    const messageId = randomBytes(16).toString('base64url');
    mails.push({ ...mail, messageId });
    taking.took();
    if (failure && (await loseAnswer(failure, res))) return;
    res.writeHead(202, { 'x-message-id': messageId });
    res.end();
  });

  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return Object.assign(server, {
    verificationKey: keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    eventFor: (mail: { messageId: string; personalizations: MailSend['personalizations']; custom_args?: Record<string, unknown> | undefined }, event: string, extra: Record<string, unknown> = {}) => ({
      email: mail.personalizations[0]?.to[0]?.email,
      timestamp: Math.floor(Date.now() / 1000),
      event,
      sg_event_id: randomBytes(16).toString('base64url'),
      sg_message_id: `${mail.messageId}.recvd-5f5b8d8d8-abcde-1-64B7A8B4-1.0`,
      'smtp-id': `<${mail.messageId}@ismtpd0001p1las1.sendgrid.net>`,
      ...mail.custom_args,
      ...extra,
    }),
    async postEvents(url: string, events: unknown[], options: PostEventsOptions = {}) {
      const body = options.rawBody ?? JSON.stringify(events);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = sign('sha256', Buffer.from(timestamp + body), keys.privateKey).toString('base64');
      const sent = options.tamper === 'body' ? body.replace('"delivered"', '"bounce"') : body;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.tamper !== 'unsigned') {
        headers['x-twilio-email-event-webhook-timestamp'] = timestamp;
        headers['x-twilio-email-event-webhook-signature'] = options.tamper === 'signature' ? sign('sha256', Buffer.from(`${timestamp}[]`), keys.privateKey).toString('base64') : signature;
      }
      const response = await fetch(url, { method: 'POST', headers, body: sent });
      return { status: response.status, body: await response.text() };
    },
    mails,
    waitForMessages: taking.waitFor,
    violations,
    failNext: (failure: Failure) => failures.push(failure),
    deliveries: (): ChannelDelivery[] =>
      mails.map((m) => ({ recipient: m.personalizations[0]?.to[0]?.email, idempotencyKey: m.custom_args?.['idempotencyKey'] as string | undefined })),
    failNextTransient: (retryAfterSeconds?: number) => failures.push({ kind: 'rate-limited', resetInSeconds: retryAfterSeconds ?? 1 }),
    failNextPermanent: () => failures.push({ kind: 'bad-request' }),
  });
}
