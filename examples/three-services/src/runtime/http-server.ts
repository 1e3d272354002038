import { clientErrorHandler, frameworkErrorHandler, useJsonErrors } from '@crm-automation/http';
import { httpMetrics } from '@crm-automation/metrics';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Observability } from './observability.js';

/**
 * A Fastify instance logging through the service's pino logger. Fastify's per-request lines are off
 * (a busy service would log every health probe); each response is logged at debug instead, and at
 * warn when it is a server error. Every error, including an unknown route, a URL with a bad
 * percent-escape and a request Node's parser refuses, answers `{ error: { code, message } }`.
 */
export function createHttpServer(logger: Logger, observability?: Observability, options: { trustProxy?: boolean | undefined } = {}): FastifyInstance {
  const app = Fastify({
    ...(options.trustProxy ? { trustProxy: true } : {}),
    loggerInstance: logger.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    // On close, drop idle keep-alive sockets at once; requests in flight still finish.
    forceCloseConnections: 'idle',
    // Errors raised before routing get the same JSON body as every other error.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }) as unknown as FastifyInstance;
  // Before any plugin: the 404 handler can be set once per prefix, and this one is the service's.
  useJsonErrors(app);
  // Registered first so its request counters see every route; serves GET /metrics.
  if (observability) void app.register(httpMetrics, { metrics: observability.metrics, service: observability.service });
  app.addHook('onResponse', async (request, reply) => {
    const line = { method: request.method, url: request.url.split('?')[0], statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime) };
    if (reply.statusCode >= 500) request.log.warn(line, 'request failed');
    else request.log.debug(line, 'request');
  });
  return app;
}

/** Listens and returns the bound port (the OS's choice when `port` is 0). */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}
