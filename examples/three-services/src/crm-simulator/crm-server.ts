/**
 * The CRM simulator's server mode: the CRM's jobs as they are now, over HTTP, and the events a status
 * change publishes, as the CRM app does (saved first, then published to the bus). The trigger
 * service's `facts.job` loader reads jobs here when a trigger of a rule with `evaluate: 'current'`
 * fires; `npm run simulate` changes their status through it.
 *
 *   GET    /accounts/:accountId/jobs/:jobId            the job now (404 `{ resource: "job" }` when none)
 *   PUT    /accounts/:accountId/jobs/:jobId            record a job as it is (no event)
 *   POST   /accounts/:accountId/jobs/:jobId/status     `{ "status": "Done" }`: save, then publish job.status.changed
 *   DELETE /accounts/:accountId/jobs/:jobId            forget it (its runs are then skipped: entity-missing)
 *
 * A stand-in like the provider stand-ins: no authentication, keep it on loopback. Reads HTTP_PORT
 * (default 4105), HOST, TRANSPORT, RABBITMQ_URL / KAFKA_BROKERS, BUS_PREFIX, LOG_LEVEL; the launcher
 * starts it next to the services.
 */
import { openBus } from '../runtime/bus-transport.js';
import { loadConfig } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { registerHealthRoutes } from '../runtime/health-routes.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { crmSimulatorEnv } from './config.js';
import { crmRoutes } from './crm-routes.js';
import { JobBook } from './job-book.js';

const logger = createServiceLogger('crm-simulator', process.env['LOG_LEVEL'] ?? 'info');

try {
  const config = loadConfig('crm-simulator', crmSimulatorEnv);
  logger.level = config.LOG_LEVEL;
  // The trigger service's queue is declared up front, so events published before it starts wait for it.
  const events = openBus(config, { stream: 'events', logger, declareGroups: ['trigger-service'] });
  const jobs = new JobBook();
  let accepting = true;

  const app = createHttpServer(logger);
  registerHealthRoutes(app, { checks: { bus: { check: () => events.ping() } }, accepting: () => accepting });
  await app.register(crmRoutes, { jobs, publish: (event) => events.bus.publish(event), logger });

  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, transport: config.TRANSPORT }, 'crm simulator ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    { name: 'close HTTP', run: () => app.close() },
    { name: 'close bus', run: () => events.close() },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
