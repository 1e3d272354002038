import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { metricsFor, type AutomationMetrics, type MetricsOptions } from './registry.js';

export interface HttpMetricsOptions extends MetricsOptions {
  metrics?: AutomationMetrics | undefined;
  /** `service` label of every series. */
  service: string;
  /** Serve the registry at this path (default `/metrics`); `false` to not serve it. */
  path?: string | false | undefined;
}

const startedAt = Symbol('crm-metrics-started-at');

/**
 * Counts requests by route template (not raw URL, so ids don't explode cardinality), method and status,
 * times them, and serves `/metrics`. Registered without encapsulation so it sees every route.
 */
const plugin: FastifyPluginAsync<HttpMetricsOptions> = async (app: FastifyInstance, registered) => {
  // Fastify reads these from the registration options itself.
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...options } = registered as HttpMetricsOptions & Record<string, unknown>;
  const m = metricsFor('httpMetrics', options, ['service', 'path']);
  app.addHook('onRequest', async (request) => {
    (request as unknown as Record<symbol, bigint>)[startedAt] = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { service: options.service, method: request.method, route };
    m.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    const started = (request as unknown as Record<symbol, bigint | undefined>)[startedAt];
    if (started !== undefined) m.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
  });
  const path = options.path ?? '/metrics';
  if (path !== false) {
    app.get(path, async (_request, reply) => {
      reply.type(m.registry.contentType);
      return m.registry.metrics();
    });
  }
};
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

export const httpMetrics = plugin;
