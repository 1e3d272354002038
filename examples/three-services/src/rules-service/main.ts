/**
 * The Rules Service (the design doc's Microservice 1): the Rules REST API over the rules DB, and the
 * rule-lookup side of the three inter-service patterns, all served at once so any trigger service
 * configuration works against it. It has a rule store only (MongoDB or PostgreSQL, by STORE): the
 * Rules API's trigger routes (runs, stats, retry, cancel, HTTP intake) and its contact routes
 * (`/suppressions`, `/contact-policy`) ask the trigger service, which owns the triggers DB and the
 * contact data. Its lookups:
 * - REST: `GET /internal/v1/rules...` (service token);
 * - gRPC: `proto/rules.proto` on GRPC_PORT;
 * - pub/sub: answers `rule_lookup_requested` with `rules_found`, and publishes `rule_changed`.
 * The Management UI is served at `/ui`, next to the API it calls.
 */
import { createAutomationEngine } from '@crm-automation/core';
import { instrumentBus, instrumentEngine } from '@crm-automation/metrics';
import { createObservability } from '../runtime/observability.js';
import { rulesRoutes, triggerServiceClient } from '@crm-automation/http';
import { openBus } from '../runtime/bus-transport.js';
import { loadConfig } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { probeHealth, registerHealthRoutes } from '../runtime/health-routes.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { openRuleStore } from '../runtime/service-stores.js';
import { DESIGN_DOC_EVENT_TYPES } from '../design-doc-event-types.js';
import { accountAuthentication } from './account-api-keys.js';
import { rulesServiceEnv } from './config.js';
import { startGrpcRulesServer } from './grpc-rules-server.js';
import { internalRuleRoutes } from './internal-rule-routes.js';
import { startLookupResponder } from './lookup-responder.js';
import { triggerServiceContact } from './trigger-service-contact.js';
import { mountManagementUi } from './management-ui-mount.js';
import { publishRuleChanges } from './rule-change-publisher.js';

const logger = createServiceLogger('rules-service', process.env['LOG_LEVEL'] ?? 'info');

try {
  const config = loadConfig('rules-service', rulesServiceEnv);
  logger.level = config.LOG_LEVEL;

  // Its own indexes or migrations are applied here; the triggers DB is the trigger service's alone.
  const rules = await openRuleStore(config, logger);
  const rulesStore = rules.store;
  const triggers = triggerServiceClient({ baseUrl: config.TRIGGER_SERVICE_URL, token: config.TRIGGER_SERVICE_TOKEN, timeoutMs: config.TRIGGER_SERVICE_TIMEOUT_MS, rules: rulesStore });
  const contact = triggerServiceContact({ baseUrl: config.TRIGGER_SERVICE_URL, token: config.TRIGGER_SERVICE_TOKEN, timeoutMs: config.TRIGGER_SERVICE_TIMEOUT_MS });

  const observability = createObservability('rules-service');
  const engine = createAutomationEngine({
    ruleStore: rulesStore,
    logger,
    tracer: observability.tracer,
    webhookAddressPolicy: { allowHosts: config.WEBHOOK_ALLOW_HOSTS },
    // Sent by the notification service, not here: declared, so saving a rule does not warn that it has no gateway.
    actionTypes: ['sms', 'email', 'webhook'],
    instanceId: `rules-service-${process.pid}`,
    // The contact data is the trigger service's (its engine checks sends against it): the Rules API's
    // /suppressions and /contact-policy read and change it there, not in a copy here.
    contactPolicies: contact,
    suppressions: contact,
  });
  // This engine validates, stores and dry-runs rules; without a trigger store it can claim nothing.

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
      'rules-db': { check: () => rules.ping() },
      bus: { check: () => Promise.all([lookups.ping(), updates.ping()]) },
      // Reported, not required: without it only the trigger routes answer 503; rules and lookups go on.
      'trigger-service': { critical: false, check: () => probeHealth(config.TRIGGER_SERVICE_URL) },
    },
  });
  await app.register(internalRuleRoutes, { rules: rulesStore, tokens: config.SERVICE_TOKENS });
  await app.register(rulesRoutes, {
    engine,
    triggers,
    authenticate: accountAuthentication(config, logger),
    eventCatalog: DESIGN_DOC_EVENT_TYPES,
    openapi: { title: 'Rules Service', version: '0.1.0' },
  });
  await mountManagementUi(app, logger);
  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, grpcPort: grpcServer.port, transport: config.TRANSPORT, rulesDb: rules.where, triggerService: config.TRIGGER_SERVICE_URL }, 'rules service ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    { name: 'stop answering lookups', run: () => responder.stop() },
    { name: 'close gRPC', run: () => grpcServer.close() },
    { name: 'close HTTP', run: () => app.close() },
    { name: 'publish pending rule changes', run: async () => { changes.stop(); await changes.flush(); } },
    { name: 'close buses', run: () => Promise.all([lookups.close(), updates.close()]) },
    { name: 'close database', run: () => rules.close() },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
