/**
 * The Trigger Service (the design doc's Microservice 2): consumes CRM events from the bus, stores
 * pending triggers in the triggers DB (MongoDB or PostgreSQL, by STORE; a trigger store only), runs
 * the leasing claim loop, re-reads each rule when its trigger is due, and sends action commands to the
 * notification service over HTTP. Rules come from the rules service by RULE_LOOKUP = rest | grpc |
 * pubsub. Its internal trigger API (`/internal/v1/*`, service token) is how the rules service serves
 * the Rules API's trigger and delivery routes without reading this database, and where the
 * notification service forwards the providers' delivery receipts. Rules that evaluate the job as it
 * is now (`evaluate: 'current'`) read it from the CRM (CRM_URL) when their trigger fires.
 * It owns the contact data too (policies, suppressions, cap counters, the send throttle, next to the
 * triggers): its engine reads them at fire time, and with TWILIO_AUTH_TOKEN it takes the replies to
 * the accounts' Twilio numbers (`POST /receipts/twilio/inbound`, signed by Twilio): STOP suppresses
 * the sender, START lifts it.
 */
import { createAutomationEngine, type RuleSource } from '@crm-automation/core';
import { instrumentBus, instrumentEngine } from '@crm-automation/metrics';
import { createObservability } from '../runtime/observability.js';
import { createHttpChannels } from '@crm-automation/channels';
import { receiptRoutes, triggerServiceRoutes } from '@crm-automation/http';
import { openBus, type OpenedBus } from '../runtime/bus-transport.js';
import { loadConfig } from '../runtime/env-config.js';
import { exitOnStartupFailure, onShutdown } from '../runtime/graceful-shutdown.js';
import { breakerCheck, registerHealthRoutes, type ReadinessCheck } from '../runtime/health-routes.js';
import { createHttpServer, listen } from '../runtime/http-server.js';
import { createServiceLogger } from '../runtime/logger.js';
import { openTriggerStore } from '../runtime/service-stores.js';
import { triggerServiceEnv } from './config.js';
import { crmJobLoader } from './crm-job-loader.js';
import { internalContactRoutes } from './internal-contact-routes.js';
import { startPubSubIntake, type PubSubIntake } from './pubsub-intake.js';
import { remoteRuleSource } from './rule-lookup/create-rule-source.js';
import type { RuleReplica } from './rule-lookup/rule-replica.js';

const logger = createServiceLogger('trigger-service', process.env['LOG_LEVEL'] ?? 'info');
const observability = createObservability('trigger-service');

try {
  const config = loadConfig('trigger-service', triggerServiceEnv);
  logger.level = config.LOG_LEVEL;

  // Its own indexes or migrations are applied here: triggers, deliveries, contact data.
  const triggers = await openTriggerStore(config, logger);
  const contact = triggers.contact;

  const retries = { maxAttempts: config.BUS_MAX_ATTEMPTS, retryDelaysMs: config.BUS_RETRY_DELAYS_MS };
  const events = openBus(config, { stream: 'events', logger, ...retries });
  const buses: OpenedBus[] = [events];
  const checks: Record<string, ReadinessCheck> = {
    'triggers-db': { check: () => triggers.ping() },
    bus: { check: () => Promise.all(buses.map((b) => b.ping())) },
  };

  let ruleSource: RuleSource;
  let intakeReplica: RuleReplica | undefined;
  let closeRuleSource = () => {};
  let startIntake: (engine: ReturnType<typeof createAutomationEngine>) => Promise<PubSubIntake | undefined> = async () => undefined;
  if (config.RULE_LOOKUP === 'pubsub') {
    const replica = await triggers.ruleReplica();
    ruleSource = replica;
    intakeReplica = replica;
    // Requests are kept for the rules service even before it first starts.
    const lookups = openBus(config, { stream: 'rule-lookups', logger, declareGroups: ['rules-service'], ...retries });
    const updates = openBus(config, { stream: 'rule-updates', logger, ...retries });
    buses.push(lookups, updates);
    startIntake = (engine) => startPubSubIntake({ engine, events: events.bus, lookups: lookups.bus, updates: updates.bus, replica, logger });
  } else {
    const remote = remoteRuleSource(config, logger);
    ruleSource = remote.source;
    closeRuleSource = remote.close;
    // Reported, not required: the service is built to ride out a rules service outage.
    checks['rules-service'] = breakerCheck(remote.breaker);
  }

  // Rules with `evaluate: 'current'` see the job as the CRM has it when their trigger fires.
  const jobs = crmJobLoader({
    baseUrl: config.CRM_URL,
    timeoutMs: config.CRM_TIMEOUT_MS,
    breakerFailures: config.CRM_BREAKER_FAILURES,
    breakerCooldownMs: config.CRM_BREAKER_COOLDOWN_MS,
    logger,
  });
  // Reported, not required: due triggers wait (retried, outside their budget) while the CRM is away.
  checks['crm'] = breakerCheck(jobs.breaker);

  const engine = createAutomationEngine({
    triggerStore: triggers.store,
    ruleSource,
    // With pub/sub lookup the engine's own bus intake is unused: events arrive through startPubSubIntake.
    ...(config.RULE_LOOKUP === 'pubsub' ? {} : { bus: events.bus }),
    group: 'trigger-service',
    channels: createHttpChannels({ baseUrl: config.NOTIFICATION_SERVICE_URL, token: config.NOTIFICATION_SERVICE_TOKEN, timeoutMs: config.NOTIFICATION_TIMEOUT_MS }),
    logger,
    tracer: observability.tracer,
    sendTimeoutMs: config.SEND_TIMEOUT_MS,
    leaseMs: config.LEASE_MS,
    pollIntervalMs: config.POLL_INTERVAL_MS,
    concurrency: config.CONCURRENCY,
    maxAttempts: config.MAX_ATTEMPTS,
    backoff: { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS },
    facts: { job: jobs.load },
    factTimeoutMs: config.FACT_TIMEOUT_MS,
    // Read when each trigger fires: a suppressed recipient's action is skipped (`suppressed`), and a
    // provider's opt-out error (Twilio 21610) adds the suppression.
    contactPolicies: contact,
    suppressions: contact,
    contactCounter: contact,
    sendThrottle: contact,
    ...(config.INSTANCE_ID ? { instanceId: config.INSTANCE_ID } : {}),
  });

  instrumentEngine(engine, { metrics: observability.metrics });
  instrumentBus(events.bus, { metrics: observability.metrics, name: 'events' });

  engine.on('event:ingested', ({ event, triggers, created }) => {
    if (triggers.length > 0) logger.info({ accountId: event.accountId, eventId: event.id, eventName: event.name, triggers: triggers.map((t) => ({ triggerId: t.id, ruleId: t.ruleId, evaluateAt: t.evaluateAt })), created }, 'event ingested');
  });
  engine.on('trigger:superseded', ({ accountId, ruleId, entityKey, reason, triggerId, pendingTriggerId, event }) => {
    logger.info({ accountId, ruleId, entityKey, triggerId, pendingTriggerId, reason, eventId: event.id }, reason === 'superseded' ? 'trigger superseded by a newer event' : 'trigger stale: a newer event is pending');
  });
  engine.on('trigger:cancelled', ({ trigger, event, stage }) => {
    logger.info({ accountId: trigger.accountId, ruleId: trigger.ruleId, entityKey: trigger.entityKey, triggerId: trigger.id, eventId: event.id, eventName: event.name, stage }, 'trigger cancelled by event');
  });
  engine.on('action:sent', ({ command, durationMs }) => {
    const m = command.metadata;
    logger.info({ accountId: m.accountId, ruleId: m.ruleId, triggerId: m.triggerId, action: command.type, actionIndex: m.actionIndex, durationMs }, 'action sent');
  });
  // Without the recipient: a phone number or address is personal data, and the change log keeps it.
  engine.on('suppression:changed', ({ change }) => {
    logger.info({ accountId: change.accountId, channel: change.channel, action: change.action, reason: change.reason, source: change.source, by: change.by }, change.action === 'added' ? 'recipient suppressed' : 'suppression lifted');
  });
  engine.on('action:failed', ({ command, error, durationMs }) => {
    const m = command?.metadata;
    logger.warn({ accountId: m?.accountId, ruleId: m?.ruleId, triggerId: m?.triggerId, action: command?.type, error, durationMs }, 'action failed');
  });

  await engine.start();
  const intake = await startIntake(engine);

  let accepting = true;
  const app = createHttpServer(logger, observability);
  registerHealthRoutes(app, { checks, accepting: () => accepting });
  // HTTP intake from the rules service carries the rules it matched; with pub/sub lookup they go into
  // the replica too, as a rules_found's would, so the fire-time re-read finds them.
  const replica = intakeReplica;
  const ingest: typeof engine.ingest = replica
    ? async (event, options) => {
        await replica.upsert(options?.rules ?? []);
        return engine.ingest(event, options);
      }
    : (event, options) => engine.ingest(event, options);
  // The delivery ledger too: receipts from the notification service, deliveries for the Rules API.
  await app.register(triggerServiceRoutes, { engine: { triggers: engine.triggers, ingest, deliveries: engine.deliveries }, auth: { tokens: config.SERVICE_TOKENS } });
  // The contact data behind the Rules API's /suppressions and /contact-policy (the rules service has none).
  await app.register(internalContactRoutes, { engine, tokens: config.SERVICE_TOKENS });
  const twilioNumbers = config.TWILIO_NUMBERS;
  if (config.TWILIO_AUTH_TOKEN && twilioNumbers) {
    const accountSid = config.TWILIO_ACCOUNT_SID;
    // Signed by Twilio, not by a service token. It serves Twilio status callbacks too (applied to the
    // ledger here); the example points those at the notification service, which forwards them.
    await app.register(receiptRoutes, {
      deliveries: engine.deliveries,
      twilio: {
        authToken: config.TWILIO_AUTH_TOKEN,
        publicUrl: config.PUBLIC_URL,
        inbound: {
          suppressions: engine.suppressions,
          accountFor: (to, sid) => (accountSid === undefined || sid === accountSid ? twilioNumbers.get(to) : undefined),
        },
      },
      logger,
    });
  }
  const httpPort = await listen(app, config.HOST, config.HTTP_PORT);
  logger.info({ httpPort, transport: config.TRANSPORT, ruleLookup: config.RULE_LOOKUP, triggersDb: triggers.where, instanceId: engine.instanceId, inboundSms: twilioNumbers ? [...twilioNumbers.keys()] : [] }, 'trigger service ready');

  onShutdown(logger, [
    { name: 'refuse new work', run: async () => void (accepting = false) },
    { name: 'stop pub/sub intake', run: async () => intake?.stop() },
    // Stops consuming events and claiming triggers, and waits for triggers in flight to be recorded.
    { name: 'stop engine', run: () => engine.stop() },
    { name: 'close buses', run: () => Promise.all(buses.map((b) => b.close())) },
    { name: 'close rule lookup', run: async () => closeRuleSource() },
    { name: 'close HTTP', run: () => app.close() },
    { name: 'close database', run: () => triggers.close() },
  ]);
} catch (error) {
  exitOnStartupFailure(logger, error);
}
