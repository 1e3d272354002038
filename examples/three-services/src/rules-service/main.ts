/**
 * The Rules Service (the design doc's Microservice 1): the Rules REST API over the rules DB, and the
 * rule-lookup side of the three inter-service patterns, all served at once so any trigger service
 * configuration works against it:
 * - REST: `GET /internal/v1/rules...` (service token);
 * - gRPC: `proto/rules.proto` on GRPC_PORT;
 * - pub/sub: answers `rule_lookup_requested` with `rules_found`, and publishes `rule_changed`.
 * The Management UI is served at `/ui`, next to the API it calls.
 */
import { createAutomationEngine } from '@crm-automation/core';
import { instrumentBus, instrumentEngine } from '@crm-automation/metrics';
import { createObservability } from '../runtime/observability.js';
import { createMongoStore } from '@crm-automation/adapter-mongo';
import { rulesRoutes } from '@crm-automation/http';
import { openBus } from '../runtime/bus-transport.js';
import { loadConfig } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { registerHealthRoutes } from '../runtime/health-routes.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { pingMongo } from '../runtime/mongo-ping.js';
import { DESIGN_DOC_EVENT_TYPES } from '../design-doc-event-types.js';
import { accountAuthentication } from './account-api-keys.js';
import { rulesServiceEnv } from './config.js';
import { startGrpcRulesServer } from './grpc-rules-server.js';
import { internalRuleRoutes } from './internal-rule-routes.js';
import { startLookupResponder } from './lookup-responder.js';
import { mountManagementUi } from './management-ui-mount.js';
import { publishRuleChanges } from './rule-change-publisher.js';
import { splitRulesAndTriggers } from './rules-service-store.js';

const logger = createServiceLogger('rules-service', process.env['LOG_LEVEL'] ?? 'info');

try {
  const config = loadConfig('rules-service', rulesServiceEnv);
  logger.level = config.LOG_LEVEL;

  const rulesStore = createMongoStore({ uri: config.MONGODB_URI, dbName: config.RULES_DB_NAME, logger });
  // Same server, the trigger service's database: see rules-service-store.ts.
  const triggersStore = createMongoStore({ client: rulesStore.db.client, dbName: config.TRIGGERS_DB_NAME, logger });
  await rulesStore.ensureIndexes();
  await triggersStore.ensureIndexes();

  const observability = createObservability('rules-service');
  const engine = createAutomationEngine({
    store: splitRulesAndTriggers(rulesStore, triggersStore),
    logger,
    tracer: observability.tracer,
    webhookAddressPolicy: { allowHosts: config.WEBHOOK_ALLOW_HOSTS },
    instanceId: `rules-service-${process.pid}`,
  });
  // This engine validates, stores and dry-runs rules; it never starts, so it claims no triggers.

  const lookups = openBus(config, { stream: 'rule-lookups', logger });
  // Nothing consumes rule updates until a pub/sub trigger service has subscribed; until then they are dropped.
  const updates = openBus(config, { stream: 'rule-updates', logger, mandatory: false });
  const changes = publishRuleChanges(engine, updates.bus, logger);
  const responder = await startLookupResponder({ requests: lookups.bus, updates: updates.bus, rules: rulesStore, logger });

  const grpcServer = await startGrpcRulesServer({ rules: rulesStore, tokens: config.SERVICE_TOKENS, host: config.HOST, port: config.GRPC_PORT, logger });

  let accepting = true;
  instrumentEngine(engine, { metrics: observability.metrics });
  instrumentBus(lookups.bus, { metrics: observability.metrics, name: 'rule-lookups' });
  const app = createHttpServer(logger, observability);
  registerHealthRoutes(app, {
    liveness: false, // the Rules API serves GET /healthz
    accepting: () => accepting,
    checks: {
      'rules-db': { check: () => pingMongo(rulesStore.db) },
      'triggers-db': { check: () => pingMongo(triggersStore.db) },
      bus: { check: () => Promise.all([lookups.ping(), updates.ping()]) },
    },
  });
  await app.register(internalRuleRoutes, { rules: rulesStore, tokens: config.SERVICE_TOKENS });
  await app.register(rulesRoutes, {
    engine,
    authenticate: accountAuthentication(config, logger),
    eventCatalog: DESIGN_DOC_EVENT_TYPES,
    openapi: { title: 'Rules Service', version: '0.1.0' },
  });
  await mountManagementUi(app, logger);
  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, grpcPort: grpcServer.port, transport: config.TRANSPORT, rulesDb: config.RULES_DB_NAME }, 'rules service ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    { name: 'stop answering lookups', run: () => responder.stop() },
    { name: 'close gRPC', run: () => grpcServer.close() },
    { name: 'close HTTP', run: () => app.close() },
    { name: 'publish pending rule changes', run: async () => { changes.stop(); await changes.flush(); } },
    { name: 'close buses', run: () => Promise.all([lookups.close(), updates.close()]) },
    { name: 'close databases', run: () => Promise.all([triggersStore.close(), rulesStore.close()]) },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
