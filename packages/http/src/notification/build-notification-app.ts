import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import { clientErrorHandler, frameworkErrorHandler, useJsonErrors } from '../http-errors.js';
import { receiptRoutes, type ReceiptRoutesOptions } from '../receipts/receipt-routes.js';
import { createNotificationService, type NotificationServiceOptions } from './notification-service.js';

export interface NotificationAppOptions extends NotificationServiceOptions {
  /** Options for the Fastify instance (its own logger, trustProxy, ...). Logging is off by default. */
  fastify?: FastifyServerOptions | undefined;
  /**
   * Provider receipts (`POST /receipts/twilio`, `/receipts/sendgrid`, see `receiptRoutes`), served
   * without the service token (providers sign them instead). `deliveries` is where the ledger is:
   * in the three-service wiring, a `triggerServiceClient` of the trigger service.
   */
  receipts?: ReceiptRoutesOptions | undefined;
}

const APP_OPTION_KEYS = optionKeys<NotificationAppOptions>()(
  'fastify', 'receipts', 'channels', 'idempotency', 'idempotencyOptions', 'auth', 'logger', 'bodyLimit', 'defaultRetryAfterSeconds',
);

/**
 * A standalone Notification Service: a Fastify instance with the notification routes, an
 * unauthenticated `GET /healthz`, and `{ error: { code, message } }` for every error, including an
 * unknown route, a bad percent-escape in the URL and a request Node's HTTP parser refuses; with
 * `receipts`, the provider receipt routes too. Call
 * `listen()` on it, or `inject()` in tests.
 *
 * @example
 * const app = await buildNotificationApp({ channels, idempotency, auth: { tokens: [process.env.SERVICE_TOKEN] } });
 * await app.listen({ port: 3000, host: '0.0.0.0' });
 */
export async function buildNotificationApp(options: NotificationAppOptions): Promise<FastifyInstance> {
  // Checked here too, so the message lists `fastify` among the valid options.
  checkOptions('buildNotificationApp', options, APP_OPTION_KEYS, true);
  if (options.fastify !== undefined && (typeof options.fastify !== 'object' || options.fastify === null || Array.isArray(options.fastify))) {
    throw new AutomationError('CRM_ERR_CONFIG', 'buildNotificationApp: fastify must be an object of Fastify server options');
  }
  if (options.receipts !== undefined && (typeof options.receipts !== 'object' || options.receipts === null || Array.isArray(options.receipts))) {
    throw new AutomationError('CRM_ERR_CONFIG', 'buildNotificationApp: receipts must be the receipt routes\' options ({ deliveries, twilio?, sendgrid? })');
  }
  const { fastify, receipts, ...service } = options;
  const plugin = createNotificationService(service);
  const app = Fastify({ logger: false, frameworkErrors: frameworkErrorHandler, clientErrorHandler, ...fastify });
  useJsonErrors(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(plugin);
  if (receipts) await app.register(receiptRoutes, { logger: service.logger, ...receipts });
  return app;
}
