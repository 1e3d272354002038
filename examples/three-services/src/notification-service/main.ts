/**
 * The Notification Service (the design doc's Microservice 3): `POST /api/v1/sms|email|webhook`,
 * each command sent at most once per idempotency key (kept in Redis or PostgreSQL by STORE, shared by
 * every instance), through Twilio, SendGrid and signed, SSRF-checked webhooks. Stateless apart from
 * that store. With TRIGGER_SERVICE_URL it takes the providers' delivery receipts (`POST
 * /receipts/twilio`, `/receipts/sendgrid`, verified by their signatures) and forwards them to the
 * trigger service's delivery ledger.
 */
import { createRedisIdempotencyStore, createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import { createPostgresIdempotencyStore } from '@crm-automation/adapter-postgres';
import { noopTracer, withTracing, type ChannelGateway, type IdempotencyStore } from '@crm-automation/core';
import { instrumentGateway } from '@crm-automation/metrics';
import { createObservability } from '../runtime/observability.js';
import { notificationRoutes, receiptRoutes, triggerServiceClient } from '@crm-automation/http';
import { Redis } from 'ioredis';
import { loadConfig } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { registerHealthRoutes } from '../runtime/health-routes.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { notificationServiceEnv } from './config.js';

const logger = createServiceLogger('notification-service', process.env['LOG_LEVEL'] ?? 'info');

try {
  const config = loadConfig('notification-service', notificationServiceEnv);
  logger.level = config.LOG_LEVEL;

  let idempotency: IdempotencyStore;
  let ping: () => Promise<unknown>;
  let closeStore: () => Promise<unknown>;
  if (config.STORE === 'postgres') {
    const keys = createPostgresIdempotencyStore({ connectionString: config.POSTGRES_URL, schema: config.POSTGRES_SCHEMA, logger, poolConfig: { max: 10, application_name: 'notification-service' } });
    await keys.ensureSchema();
    idempotency = keys;
    ping = () => keys.pool.query('SELECT 1');
    closeStore = () => keys.close();
  } else {
    const redis = new Redis(config.REDIS_URL ?? '', { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: true });
    await redis.connect();
    idempotency = createRedisIdempotencyStore({ client: redis, keyPrefix: config.IDEMPOTENCY_KEY_PREFIX });
    ping = () => redis.ping();
    closeStore = () => redis.quit();
  }

  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  // Receipts go to the trigger service, which keeps the delivery ledger; Twilio is asked for status
  // callbacks only when there is somewhere to take them.
  const ledger = config.TRIGGER_SERVICE_URL && config.TRIGGER_SERVICE_TOKEN ? triggerServiceClient({ baseUrl: config.TRIGGER_SERVICE_URL, token: config.TRIGGER_SERVICE_TOKEN, timeoutMs: config.TRIGGER_SERVICE_TIMEOUT_MS }) : undefined;
  const statusCallback = ledger && config.PUBLIC_URL ? `${config.PUBLIC_URL.replace(/\/+$/, '')}/receipts/twilio` : undefined;
  const observability = createObservability('notification-service');
  // Every provider call is timed and counted by provider, and traced as a child of the caller's span.
  const observed = <G extends ChannelGateway<any>>(gateway: G, provider: string): G =>
    withTracing(instrumentGateway(gateway, { metrics: observability.metrics, provider }), observability.tracer ?? noopTracer, provider);
  const channels = {
    sms: observed(createTwilioSms({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, from: config.TWILIO_FROM, baseUrl: config.TWILIO_BASE_URL, timeoutMs, statusCallback }), 'twilio'),
    email: observed(createSendgridEmail({ apiKey: config.SENDGRID_API_KEY, from: config.SENDGRID_FROM, baseUrl: config.SENDGRID_BASE_URL, timeoutMs }), 'sendgrid'),
    webhook: observed(createWebhook({ signingSecret: config.WEBHOOK_SIGNING_SECRET, allowHosts: config.WEBHOOK_ALLOW_HOSTS, timeoutMs }), 'webhook'),
  };

  let accepting = true;
  // JSON errors everywhere, unknown routes included (createHttpServer).
  const app = createHttpServer(logger, observability, { trustProxy: config.TRUST_PROXY === true });
  registerHealthRoutes(app, { accepting: () => accepting, checks: { [config.STORE]: { check: ping } } });
  await app.register(notificationRoutes, { channels, idempotency, auth: { tokens: config.SERVICE_TOKENS }, logger });
  if (ledger) {
    // Signed by the providers, not by a service token: outside notificationRoutes' token check.
    await app.register(receiptRoutes, {
      deliveries: ledger,
      twilio: { authToken: config.TWILIO_AUTH_TOKEN, publicUrl: config.PUBLIC_URL },
      sendgrid: config.SENDGRID_WEBHOOK_PUBLIC_KEY ? { publicKey: config.SENDGRID_WEBHOOK_PUBLIC_KEY } : undefined,
      logger,
      // Where a contact policy would take them; here they are logged.
      onSuppression: (s) => logger.warn({ accountId: s.accountId, channel: s.channel, provider: s.provider, reason: s.reason, deliveryId: s.deliveryId, detail: s.detail }, 'recipient to suppress (a receipt says so)'),
    });
  }
  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, channels: Object.keys(channels), idempotency: config.STORE, receipts: ledger ? ['twilio', ...(config.SENDGRID_WEBHOOK_PUBLIC_KEY ? ['sendgrid'] : [])] : [] }, 'notification service ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    // Requests in flight finish (and record their idempotency keys) before the server closes.
    { name: 'close HTTP', run: () => app.close() },
    { name: `close ${config.STORE}`, run: () => closeStore() },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
