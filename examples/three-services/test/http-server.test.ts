/**
 * Every service of the example is built on createHttpServer: each answers malformed requests (a bad
 * percent-escape, an unknown route, bad JSON, another media type, a body over the limit) with the
 * same `{ error: { code, message } }` body as every other error. The services are composed here as
 * their main.ts composes them, over in-memory parts; the services test checks the running processes.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import { apiKeyAuth, generateApiKey, notificationRoutes, rulesRoutes } from '@crm-automation/http';
import { expectErrorBody, malformedRequests } from '@crm-automation/testing';
import { registerHealthRoutes } from '../src/runtime/health-routes.js';
import { createHttpServer } from '../src/runtime/http-server.js';
import { createServiceLogger } from '../src/runtime/logger.js';
import { internalRuleRoutes } from '../src/rules-service/internal-rule-routes.js';
import { crmRoutes } from '../src/crm-simulator/crm-routes.js';
import { JobBook } from '../src/crm-simulator/job-book.js';

const TOKEN = 'svc-token-0123456789abcdef';
const key = generateApiKey();
const logger = createServiceLogger('test', 'silent');

const SERVICES: Array<{ name: string; build: () => Promise<FastifyInstance>; requests: ReturnType<typeof malformedRequests> }> = [
  {
    name: 'notification service',
    build: async () => {
      const app = createHttpServer(logger);
      registerHealthRoutes(app, { checks: {} });
      await app.register(notificationRoutes, { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] }, bodyLimit: 64 * 1024 });
      return app;
    },
    requests: malformedRequests({ bodyRoute: '/api/v1/sms', headers: { authorization: `Bearer ${TOKEN}` }, bodyLimit: 64 * 1024, knownPaths: ['/api/v1', '/healthz'] }),
  },
  {
    name: 'rules service',
    build: async () => {
      const store = createMemoryStore();
      const app = createHttpServer(logger);
      registerHealthRoutes(app, { liveness: false, checks: {} });
      await app.register(internalRuleRoutes, { rules: store, tokens: [TOKEN] });
      await app.register(rulesRoutes, { engine: createAutomationEngine({ store }), authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc' }] }), bodyLimit: 64 * 1024 });
      return app;
    },
    requests: malformedRequests({ bodyRoute: '/rules', headers: { authorization: `Bearer ${key.key}` }, bodyLimit: 64 * 1024, knownPaths: ['/rules', '/internal/v1/rules', '/readyz'], idRoute: '/rules' }),
  },
  {
    name: 'CRM simulator (job API)',
    build: async () => {
      const app = createHttpServer(logger);
      registerHealthRoutes(app, { checks: {} });
      await app.register(crmRoutes, { jobs: new JobBook(), publish: async () => undefined, logger });
      return app;
    },
    requests: malformedRequests({ bodyRoute: '/accounts/acc/jobs/j1/status', bodyLimit: 1024 * 1024, knownPaths: ['/accounts/acc/jobs/j1', '/healthz'] }),
  },
  {
    name: 'trigger service (health and metrics only)',
    build: async () => {
      const app = createHttpServer(logger);
      registerHealthRoutes(app, { checks: {} });
      return app;
    },
    // No route takes a body: the URL and route classes apply.
    requests: malformedRequests({ knownPaths: ['/healthz', '/readyz', '/metrics'] }),
  },
];

describe.each(SERVICES)('$name answers framework errors with { error: { code, message } }', ({ build, requests }) => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await build();
    await app.ready();
  });
  afterAll(() => app.close());

  it.each(requests.map((r) => [r.name, r] as const))('%s', async (_name, request) => {
    const response = await app.inject({ method: request.method, url: request.url, headers: request.headers ?? {}, ...(request.payload === undefined ? {} : { payload: request.payload }) });
    expectErrorBody(response, request);
  });
});
