/**
 * Local stand-ins for the outside world, so the example runs without accounts or internet:
 * - Twilio's Messages API: `POST /2010-04-01/Accounts/:sid/Messages.json` (form, basic auth);
 * - SendGrid's Mail Send: `POST /v3/mail/send` (JSON, bearer key), answering 202 + X-Message-Id;
 * - a webhook receiver: `POST /hooks/:name`, verifying the Standard Webhooks signature.
 * Like the real ones, the Twilio and SendGrid stand-ins post signed delivery receipts back (a
 * message's StatusCallback; SENDGRID_EVENT_WEBHOOK_URL).
 * - a person texting back: `POST /twilio/replies` (`{ "from": "+15557654321", "body": "STOP" }`, to
 *   TWILIO_NUMBER unless `to` says otherwise) posts Twilio's signed inbound-message webhook to
 *   TWILIO_INBOUND_URL and, like Twilio's Advanced Opt-Out, refuses later sends from that number to
 *   that person with error 21610 until they text START.
 * `GET /received` shows everything received and every receipt posted; `POST /behaviour` makes the SMS
 * API slow or failing (`{ "smsDelayMs": 500, "smsFailures": 2 }`) and sets the receipts
 * (`{ "smsReceipts": ["delivered", "sent"], "emailReceipts": ["bounce"] }`); `DELETE /received` clears.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { E164_PATTERN } from '@crm-automation/core';
import { z } from 'zod';
import { loadConfig, logLevel, port } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { emptyLog, type ReceivedLog } from './received-log.js';
import { receiptPoster } from './receipt-poster.js';
import { twilioReplies } from './twilio-replies.js';
import { verifyStandardWebhook } from './standard-webhooks-verifier.js';

const env = z.object({
  LOG_LEVEL: logLevel,
  HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: port(4104),
  TWILIO_ACCOUNT_SID: z.string().min(1),
  TWILIO_AUTH_TOKEN: z.string().min(1),
  SENDGRID_API_KEY: z.string().min(1),
  WEBHOOK_SIGNING_SECRET: z.string().startsWith('whsec_'),
  /** Where SendGrid's Event Webhook posts (the notification service's receipt route), and the P-256 key it signs with (PKCS#8 PEM). */
  SENDGRID_EVENT_WEBHOOK_URL: z.string().url().optional(),
  SENDGRID_WEBHOOK_SIGNING_KEY: z.string().includes('PRIVATE KEY').optional(),
  /** Where replies to our numbers are posted (their "A message comes in" webhook: the trigger service's inbound route). */
  TWILIO_INBOUND_URL: z.string().url().optional(),
  /** The number a reply goes to when it names none (the notification service's TWILIO_FROM). */
  TWILIO_NUMBER: z.string().regex(E164_PATTERN, 'must be an E.164 number, e.g. +15550001111').optional(),
});

const logger = createServiceLogger('provider-stand-ins', process.env['LOG_LEVEL'] ?? 'info');
const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
/** Receipts come a moment after the answer, as the providers' do (they take seconds; this keeps tests quick). */
const RECEIPT_DELAY_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const config = loadConfig('provider-stand-ins', env);
  logger.level = config.LOG_LEVEL;
  let received: ReceivedLog = emptyLog();
  /** Receipts: the Twilio statuses posted to a message's StatusCallback, the SendGrid events posted per mail, in this order. */
  const behaviour = { smsDelayMs: 0, smsFailures: 0, smsReceipts: ['sent', 'delivered'], emailReceipts: ['processed', 'delivered'] };
  const receipts = receiptPoster({
    twilioAuthToken: config.TWILIO_AUTH_TOKEN,
    twilioAccountSid: config.TWILIO_ACCOUNT_SID,
    sendgridWebhookUrl: config.SENDGRID_EVENT_WEBHOOK_URL,
    sendgridSigningKey: config.SENDGRID_WEBHOOK_SIGNING_KEY,
    logger,
    record: (receipt) => received.receipts.push(receipt),
  });
  const replies = twilioReplies({ authToken: config.TWILIO_AUTH_TOKEN, accountSid: config.TWILIO_ACCOUNT_SID, inboundUrl: config.TWILIO_INBOUND_URL, logger });

  const app = createHttpServer(logger);
  // Keep the raw body: the webhook signature is over the exact bytes sent.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    (request as unknown as { rawBody: string }).rawBody = body as string;
    try {
      done(null, (body as string) === '' ? {} : JSON.parse(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready', checks: {} }));
  app.get('/received', async () => received);
  app.delete('/received', async () => {
    received = emptyLog();
    return received;
  });
  app.post('/behaviour', async (request) => {
    const status = z.string().min(1).max(40);
    const update = z
      .object({ smsDelayMs: z.number().int().min(0).optional(), smsFailures: z.number().int().min(0).optional(), smsReceipts: z.array(status).max(10).optional(), emailReceipts: z.array(status).max(10).optional() })
      .parse(request.body);
    Object.assign(behaviour, Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)));
    return behaviour;
  });

  // Twilio: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
  app.post('/2010-04-01/Accounts/:sid/Messages.json', async (request, reply) => {
    const expected = `Basic ${Buffer.from(`${config.TWILIO_ACCOUNT_SID}:${config.TWILIO_AUTH_TOKEN}`).toString('base64')}`;
    if (!same(String(request.headers.authorization ?? ''), expected) || (request.params as { sid: string }).sid !== config.TWILIO_ACCOUNT_SID) {
      return reply.code(401).send({ code: 20003, message: 'Authenticate', status: 401 });
    }
    if (behaviour.smsDelayMs > 0) await sleep(behaviour.smsDelayMs);
    if (behaviour.smsFailures > 0) {
      behaviour.smsFailures -= 1;
      return reply.code(503).header('retry-after', '1').send({ code: 20503, message: 'Service unavailable (stand-in failure)', status: 503 });
    }
    const form = request.body as Record<string, string>;
    if (!form['To'] || !form['Body'] || !form['From']) return reply.code(400).send({ code: 21604, message: 'To, From and Body are required', status: 400 });
    // Advanced Opt-Out: the recipient replied STOP to this number; Twilio refuses until they text START.
    if (replies.refuses(form['From'], form['To'])) {
      received.refused.push({ to: form['To'], from: form['From'], body: form['Body'], code: 21610, at: new Date().toISOString() });
      logger.info({ to: form['To'], code: 21610 }, 'SMS refused: the recipient opted out');
      return reply.code(400).send({ code: 21610, message: 'Attempt to send to unsubscribed recipient', more_info: 'https://www.twilio.com/docs/errors/21610', status: 400 });
    }
    const sid = `SM${randomBytes(16).toString('hex')}`;
    const statusCallback = form['StatusCallback'];
    received.sms.push({ to: form['To'], from: form['From'], body: form['Body'], sid, ...(statusCallback ? { statusCallback } : {}), at: new Date().toISOString() });
    logger.info({ to: form['To'], body: form['Body'], sid }, 'SMS received');
    // Like Twilio, the status callbacks come after the answer.
    if (statusCallback) setTimeout(() => void receipts.twilio({ sid, to: form['To'] ?? '', from: form['From'] ?? '', statusCallback }, [...behaviour.smsReceipts]), RECEIPT_DELAY_MS);
    return reply.code(201).send({ sid, status: 'queued', to: form['To'], from: form['From'], body: form['Body'] });
  });

  // A person texting one of our numbers back; Twilio posts it to the number's webhook.
  app.post('/twilio/replies', async (request, reply) => {
    const phone = z.string().regex(E164_PATTERN, 'an E.164 number, e.g. +15557654321');
    const text = z.object({ from: phone, to: phone.optional(), body: z.string().min(1).max(1_600), webhook: z.boolean().optional() }).strict().safeParse(request.body);
    if (!text.success) return reply.code(400).send({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: text.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') } });
    const to = text.data.to ?? config.TWILIO_NUMBER;
    if (!to) return reply.code(400).send({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: 'to: required (no TWILIO_NUMBER is configured)' } });
    const handled = await replies.reply({ from: text.data.from, to, body: text.data.body, webhook: text.data.webhook });
    received.replies.push(handled);
    return handled;
  });

  // SendGrid: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
  app.post('/v3/mail/send', async (request, reply) => {
    if (!same(String(request.headers.authorization ?? ''), `Bearer ${config.SENDGRID_API_KEY}`)) {
      return reply.code(401).send({ errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null }] });
    }
    const mail = request.body as {
      personalizations?: Array<{ to?: Array<{ email: string }>; dynamic_template_data?: unknown }>;
      from?: { email?: string };
      subject?: string;
      template_id?: string;
      custom_args?: Record<string, string>;
    };
    const personalization = mail.personalizations?.[0];
    if (!personalization?.to?.length || !mail.from?.email) return reply.code(400).send({ errors: [{ message: 'personalizations.to and from are required', field: 'personalizations' }] });
    const messageId = randomBytes(11).toString('base64url');
    received.email.push({
      to: personalization.to.map((t) => t.email),
      from: mail.from.email,
      subject: mail.subject ?? null,
      templateId: mail.template_id ?? null,
      templateData: personalization.dynamic_template_data ?? null,
      customArgs: mail.custom_args ?? {},
      messageId,
      at: new Date().toISOString(),
    });
    logger.info({ to: personalization.to.map((t) => t.email), subject: mail.subject, templateId: mail.template_id }, 'email received');
    setTimeout(() => void receipts.sendgrid({ messageId, to: personalization.to?.[0]?.email ?? '', customArgs: mail.custom_args ?? {} }, [...behaviour.emailReceipts]), RECEIPT_DELAY_MS);
    return reply.code(202).header('x-message-id', messageId).send();
  });

  // A CRM's webhook endpoint (the design doc's "hooks.crm.com/new-lead").
  app.post('/hooks/:name', async (request, reply) => {
    const raw = (request as unknown as { rawBody?: string }).rawBody ?? '';
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const verdict = verifyStandardWebhook(config.WEBHOOK_SIGNING_SECRET, { id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature') }, raw);
    if (!verdict.ok) {
      logger.warn({ reason: verdict.reason }, 'webhook refused');
      return reply.code(401).send({ error: verdict.reason });
    }
    const webhookId = header('webhook-id') ?? '';
    received.webhook.push({ path: request.url, method: request.method, webhookId, payload: request.body, at: new Date().toISOString() });
    logger.info({ path: request.url, webhookId, payload: request.body }, 'webhook received (signature verified)');
    return reply.code(204).send();
  });

  const bound = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort: bound }, 'provider stand-ins ready');
  onShutdown(logger, [{ name: 'close HTTP', run: () => app.close() }]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
