/**
 * The engine in one realistic process: an HTTP server with the Rules REST API (rules, triggers, dry
 * runs, deliveries, HTTP event intake at `POST /events`), the engine's claim loop, and the gateways:
 * console by default, Twilio / SendGrid / real webhooks when configured, with the providers' delivery
 * receipts at `POST /receipts/twilio` and `/receipts/sendgrid`. In memory by default; MongoDB or
 * PostgreSQL by STORE (MongoDB whenever MONGODB_URI is set), Redis idempotency with REDIS_URL. The
 * Management UI is at `/ui` (once built).
 *
 *   npm run app -w @crm-automation/example-single-process
 *   curl -H "authorization: Bearer <printed key>" localhost:3000/rules
 */
// First: the channels' HTTP client (undici) must install the process's global dispatcher before
// anything wakes Node's bundled one (pg reads globalThis.Response when loaded), or on Node 20 every
// Twilio and SendGrid send fails with "invalid onError method" (reported against packages/channels).
import { createRedisIdempotencyStore } from '@crm-automation/channels';
import { createAutomationMetrics, httpMetrics, instrumentEngine } from '@crm-automation/metrics';
import { createAutomationEngine, createMemoryIdempotencyStore, createMemoryStore, type AutomationStore, type IdempotencyStore } from '@crm-automation/core';
import { createMongoStore } from '@crm-automation/adapter-mongo';
import { createPostgresIdempotencyStore, createPostgresStore } from '@crm-automation/adapter-postgres';
import { apiKeyAuth, clientErrorHandler, frameworkErrorHandler, generateApiKey, hashApiKey, receiptRoutes, rulesRoutes, useJsonErrors, type ApiKeyRecord } from '@crm-automation/http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadAppConfig, storeKind } from './app/app-config.js';
import { appGateways } from './app/app-gateways.js';
import { appReceipts } from './app/app-receipts.js';
import { DESIGN_DOC_EVENT_TYPES } from './app/event-catalog.js';
import { mountManagementUi } from './app/management-ui-mount.js';
import { startupBanner, type StartupBannerInput } from './app/startup-banner.js';
import { highValueJobRule, technicianSmsRule } from './rules.js';

const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info', base: { service: 'crm-automation-app' }, timestamp: pino.stdTimeFunctions.isoTime });

try {
  const config = loadAppConfig();
  logger.level = config.LOG_LEVEL;

  // Storage: memory (lost on exit), MongoDB or PostgreSQL; indexes or migrations applied at start.
  const kind = storeKind(config);
  /** Readiness probes and what to close on shutdown, per dependency. */
  const probes: Record<string, () => Promise<unknown>> = {};
  const closers: Array<() => Promise<unknown>> = [];
  let store: AutomationStore;
  let durableKeys: IdempotencyStore | undefined;
  if (kind === 'mongo') {
    const mongo = createMongoStore({ uri: config.MONGODB_URI, dbName: config.MONGODB_DB, logger });
    await mongo.ensureIndexes();
    store = mongo;
    probes['mongo'] = () => mongo.db.command({ ping: 1 });
    closers.push(() => mongo.close());
  } else if (kind === 'postgres') {
    const postgres = createPostgresStore({ connectionString: config.POSTGRES_URL, schema: config.POSTGRES_SCHEMA, logger });
    await postgres.ensureSchema();
    store = postgres;
    probes['postgres'] = () => postgres.pool.query('SELECT 1');
    if (!config.REDIS_URL) {
      const keys = createPostgresIdempotencyStore({ pool: postgres.pool, schema: postgres.schema });
      await keys.ensureSchema();
      durableKeys = keys;
    }
    closers.push(() => postgres.close());
  } else {
    store = createMemoryStore();
  }
  let redis: Redis | undefined;
  let idempotency: IdempotencyStore;
  if (config.REDIS_URL) {
    const client = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await client.connect();
    redis = client;
    idempotency = createRedisIdempotencyStore({ client });
    probes['redis'] = () => client.ping();
    closers.unshift(() => client.quit());
  } else {
    idempotency = durableKeys ?? createMemoryIdempotencyStore();
  }

  const gateways = appGateways(config, (line) => process.stdout.write(`${line}\n`));
  const engine = createAutomationEngine({
    store,
    channels: gateways.channels,
    idempotency,
    logger,
    webhookAddressPolicy: { allowHosts: config.WEBHOOK_ALLOW_HOSTS },
  });
  const metrics = createAutomationMetrics({ defaultLabels: { service: 'single-process' } });
  instrumentEngine(engine, { metrics });
  engine.on('trigger:finished', ({ trigger, result }) => {
    logger.info({ accountId: trigger.accountId, ruleId: trigger.ruleId, triggerId: trigger.id, status: result.status, reason: result.history.reason }, `trigger ${result.status}`);
  });

  // Who may call the API: stored hashes, plus a development key printed once the server listens.
  const keys: ApiKeyRecord[] = (config.RULES_API_KEYS ?? []).map((entry) => {
    const [accountId = '', hash = ''] = entry.split(':');
    return { accountId, hash };
  });
  let devKey: StartupBannerInput['devKey'];
  if (config.NODE_ENV !== 'production' && (config.DEV_API_KEY || keys.length === 0)) {
    const key = config.DEV_API_KEY ?? generateApiKey().key;
    keys.push({ hash: hashApiKey(key), accountId: config.DEV_ACCOUNT_ID, id: 'dev-key' });
    devKey = { accountId: config.DEV_ACCOUNT_ID, key, fromEnv: config.DEV_API_KEY !== undefined };
  }

  const seed = config.SEED_RULES ?? kind === 'memory';
  if (seed && (await engine.rules.list(config.DEV_ACCOUNT_ID, { limit: 1 })).items.length === 0) {
    for (const rule of [technicianSmsRule, highValueJobRule]) {
      const saved = await engine.rules.create(config.DEV_ACCOUNT_ID, rule);
      logger.info({ accountId: config.DEV_ACCOUNT_ID, ruleId: saved.id, name: saved.name }, 'design doc rule seeded');
    }
  }

  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    // Errors raised before routing (a bad percent-escape, a request Node's parser refuses) get the same JSON body.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    ...(config.TRUST_PROXY ? { trustProxy: true } : {}),
  }) as unknown as FastifyInstance;
  // Every other error, and unknown routes, answer { error: { code, message } } too; set before the plugins.
  useJsonErrors(app);
  // Counts every request by route and status, and serves GET /metrics (Prometheus).
  await app.register(httpMetrics, { metrics, service: 'single-process' });
  let accepting = true;
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    let ready = accepting;
    const probe = async (name: string, check: () => Promise<unknown>) => {
      try {
        await check();
        checks[name] = 'ok';
      } catch (error) {
        checks[name] = `down: ${error instanceof Error ? error.message : String(error)}`;
        ready = false;
      }
    };
    for (const [name, check] of Object.entries(probes)) await probe(name, check);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });
  await app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys }), eventCatalog: DESIGN_DOC_EVENT_TYPES, openapi: { title: 'CRM Automation (single process)', version: '0.1.0' } });
  // Providers' delivery receipts (signed by them, no API key) move the engine's ledger forward.
  const receipts = appReceipts(config, engine.deliveries, logger);
  if (receipts) await app.register(receiptRoutes, receipts);
  const uiBuilt = await mountManagementUi(app);
  // The address a person opens first: the UI (or the page at /ui saying how to build it).
  app.get('/', (_request, reply) => reply.redirect('/ui/'));
  await engine.start();
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
  const receiptRoutesServed = [receipts?.twilio ? '/receipts/twilio' : undefined, receipts?.sendgrid ? '/receipts/sendgrid' : undefined].filter((r) => r !== undefined);
  logger.info({ port, store: kind, idempotency: redis ? 'redis' : durableKeys ? 'postgres' : 'memory', gateways: gateways.describe, receipts: receiptRoutesServed }, 'app ready');
  process.stdout.write(startupBanner({ host: config.HOST, port, uiBuilt, devKey }));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    accepting = false;
    logger.info({ signal }, 'shutting down');
    await app.close(); // requests in flight finish
    await engine.stop(); // triggers in flight finish and are recorded
    for (const close of closers) await close();
    logger.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (error) {
  if ((error as { code?: unknown }).code === 'CRM_ERR_CONFIG' && error instanceof Error) process.stderr.write(`${error.message}\n`);
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
