import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { HttpError, replyWithError } from '../http-errors.js';
import { createNotificationService, type NotificationServiceOptions } from './notification-service.js';

export interface NotificationAppOptions extends NotificationServiceOptions {
  /** Options for the Fastify instance (its own logger, trustProxy, ...). Logging is off by default. */
  fastify?: FastifyServerOptions | undefined;
}

/**
 * A standalone Notification Service: a Fastify instance with the notification routes, an
 * unauthenticated `GET /healthz` and JSON 404s. Call `listen()` on it, or `inject()` in tests.
 *
 * @example
 * const app = await buildNotificationApp({ channels, idempotency, auth: { tokens: [process.env.SERVICE_TOKEN] } });
 * await app.listen({ port: 3000, host: '0.0.0.0' });
 */
export async function buildNotificationApp(options: NotificationAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...options.fastify });
  app.setNotFoundHandler((request, reply) =>
    replyWithError(new HttpError(404, 'CRM_ERR_HTTP_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(createNotificationService(options));
  return app;
}
