/**
 * Local stand-ins for the outside world, so the example runs without accounts or internet:
 * - Twilio's Messages API: `POST /2010-04-01/Accounts/:sid/Messages.json` (form, basic auth);
 * - SendGrid's Mail Send: `POST /v3/mail/send` (JSON, bearer key), answering 202 + X-Message-Id;
 * - a webhook receiver: `POST /hooks/:name`, verifying the Standard Webhooks signature.
 * `GET /received` shows everything received; `POST /behaviour` makes the SMS API slow or failing
 * (`{ "smsDelayMs": 500, "smsFailures": 2 }`) for resilience tests; `DELETE /received` clears.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { loadConfig, logLevel, port } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { emptyLog, type ReceivedLog } from './received-log.js';
import { verifyStandardWebhook } from './standard-webhooks-verifier.js';

const env = z.object({
  LOG_LEVEL: logLevel,
  HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: port(4104),
  TWILIO_ACCOUNT_SID: z.string().min(1),
  TWILIO_AUTH_TOKEN: z.string().min(1),
  SENDGRID_API_KEY: z.string().min(1),
  WEBHOOK_SIGNING_SECRET: z.string().startsWith('whsec_'),
});

const logger = createServiceLogger('provider-stand-ins', process.env['LOG_LEVEL'] ?? 'info');
const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const config = loadConfig('provider-stand-ins', env);
  logger.level = config.LOG_LEVEL;
  let received: ReceivedLog = emptyLog();
  const behaviour = { smsDelayMs: 0, smsFailures: 0 };

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
    Object.assign(behaviour, z.object({ smsDelayMs: z.number().int().min(0).optional(), smsFailures: z.number().int().min(0).optional() }).parse(request.body));
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
    const sid = `SM${randomBytes(16).toString('hex')}`;
    received.sms.push({ to: form['To'], from: form['From'], body: form['Body'], sid, at: new Date().toISOString() });
    logger.info({ to: form['To'], body: form['Body'], sid }, 'SMS received');
    return reply.code(201).send({ sid, status: 'queued', to: form['To'], from: form['From'], body: form['Body'] });
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
