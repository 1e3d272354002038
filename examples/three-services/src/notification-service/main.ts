/**
 * The Notification Service (the design doc's Microservice 3): `POST /api/v1/sms|email|webhook`,
 * each command sent at most once per idempotency key (kept in Redis, shared by every instance),
 * through Twilio, SendGrid and signed, SSRF-checked webhooks. Stateless apart from Redis.
 */
import { createRedisIdempotencyStore, createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import { noopTracer, withTracing, type ChannelGateway } from '@crm-automation/core';
import { instrumentGateway } from '@crm-automation/metrics';
import { createObservability } from '../runtime/observability.js';
import { notificationRoutes } from '@crm-automation/http';
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

  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: true });
  await redis.connect();
  const idempotency = createRedisIdempotencyStore({ client: redis, keyPrefix: config.IDEMPOTENCY_KEY_PREFIX });

  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  const observability = createObservability('notification-service');
  // Every provider call is timed and counted by provider, and traced as a child of the caller's span.
  const observed = <G extends ChannelGateway<any>>(gateway: G, provider: string): G =>
    withTracing(instrumentGateway(gateway, { metrics: observability.metrics, provider }), observability.tracer ?? noopTracer, provider);
  const channels = {
    sms: observed(createTwilioSms({ accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, from: config.TWILIO_FROM, baseUrl: config.TWILIO_BASE_URL, timeoutMs }), 'twilio'),
    email: observed(createSendgridEmail({ apiKey: config.SENDGRID_API_KEY, from: config.SENDGRID_FROM, baseUrl: config.SENDGRID_BASE_URL, timeoutMs }), 'sendgrid'),
    webhook: observed(createWebhook({ signingSecret: config.WEBHOOK_SIGNING_SECRET, allowHosts: config.WEBHOOK_ALLOW_HOSTS, timeoutMs }), 'webhook'),
  };

  let accepting = true;
  // JSON errors everywhere, unknown routes included (createHttpServer).
  const app = createHttpServer(logger, observability);
  registerHealthRoutes(app, { accepting: () => accepting, checks: { redis: { check: () => redis.ping() } } });
  await app.register(notificationRoutes, { channels, idempotency, auth: { tokens: config.SERVICE_TOKENS }, logger });
  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, channels: Object.keys(channels) }, 'notification service ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    // Requests in flight finish (and record their idempotency keys) before the server closes.
    { name: 'close HTTP', run: () => app.close() },
    { name: 'close Redis', run: () => redis.quit() },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
