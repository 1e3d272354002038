/**
 * The example's services read JSON bodies as every route of the SDK does: UTF-8 only (another charset
 * is a 415, bytes that are not UTF-8 a 400) and each key once (a 400 naming the key's path), with
 * the same `{ error: { code, message, issues? } }` body as every other error. Composed as their
 * main.ts composes them, over in-memory parts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import { apiKeyAuth, generateApiKey, notificationRoutes, rulesRoutes } from '@crm-automation/http';
import { expectErrorBody } from '@crm-automation/testing';
import { createHttpServer } from '../src/runtime/http-server.js';
import { createServiceLogger } from '../src/runtime/logger.js';
import { internalContactRoutes } from '../src/trigger-service/internal-contact-routes.js';
import { crmRoutes } from '../src/crm-simulator/crm-routes.js';
import { JobBook } from '../src/crm-simulator/job-book.js';
import { CONTACT_API_PREFIX } from '../src/wire/contact-json.js';

const TOKEN = 'svc-token-0123456789abcdef';
const key = generateApiKey();
const logger = createServiceLogger('test', 'silent');

interface Service {
  name: string;
  build: () => Promise<FastifyInstance>;
  url: string;
  headers: Record<string, string>;
  good: Record<string, unknown>;
}

const SERVICES: Service[] = [
  {
    name: 'notification service',
    build: async () => {
      const app = createHttpServer(logger);
      await app.register(notificationRoutes, { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } });
      return app;
    },
    url: '/api/v1/sms',
    headers: { authorization: `Bearer ${TOKEN}` },
    good: { recipient: '+15557654321', message: 'hi', metadata: { triggerId: 't1', ruleId: 'r1', accountId: 'acc' } },
  },
  {
    name: 'rules service (Rules API)',
    build: async () => {
      const app = createHttpServer(logger);
      await app.register(rulesRoutes, { engine: createAutomationEngine({ store: createMemoryStore() }), authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc' }] }), rateLimit: false });
      return app;
    },
    url: '/events',
    headers: { authorization: `Bearer ${key.key}` },
    good: { name: 'job.created', payload: { job: { id: 'j1' } } },
  },
  {
    name: 'trigger service (internal contact routes)',
    build: async () => {
      const app = createHttpServer(logger);
      await app.register(internalContactRoutes, { engine: createAutomationEngine({ store: createMemoryStore() }), tokens: [TOKEN] });
      return app;
    },
    url: `${CONTACT_API_PREFIX}/suppressions/lookup`,
    headers: { authorization: `Bearer ${TOKEN}` },
    good: { accountId: 'acc', channel: 'sms', recipient: '+15557654321' },
  },
  {
    name: 'CRM simulator (job API)',
    build: async () => {
      const app = createHttpServer(logger);
      await app.register(crmRoutes, { jobs: new JobBook(), publish: async () => undefined, logger });
      return app;
    },
    url: '/accounts/acc/jobs/j1',
    headers: {},
    good: { id: 'j1', status: 'Open' },
  },
];

describe.each(SERVICES)('$name: strict JSON bodies', ({ build, url, headers, good }) => {
  let app: FastifyInstance;
  let method: 'POST' | 'PUT' = 'POST';
  beforeAll(async () => {
    app = await build();
    await app.ready();
    // The job API takes PUT; the others POST.
    method = url.startsWith('/accounts/') ? 'PUT' : 'POST';
  });
  afterAll(() => app.close());

  const send = (contentType: string, payload: string | Buffer) => app.inject({ method, url, headers: { ...headers, 'content-type': contentType }, payload });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8'])('accepts a good body as %s', async (type) => {
    const response = await send(type, JSON.stringify(good));
    expect(response.statusCode, response.body).toBeLessThan(300);
  });

  it.each(['latin1', 'utf-16', 'windows-1252', 'bogus'])('refuses charset=%s with 415', async (charset) => {
    expectErrorBody(await send(`application/json; charset=${charset}`, JSON.stringify(good)), { status: 415, code: 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' });
  });

  it.each([[[0xff]], [[0xc0, 0xaf]], [[0xed, 0xa0, 0x80]]])('refuses the bytes %j (not UTF-8) with 400', async (bytes) => {
    const text = JSON.stringify({ ...good, note: '@' });
    const at = text.indexOf('"@"') + 1;
    const body = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + 1))]);
    expectErrorBody(await send('application/json', body), { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
  });

  it('refuses a key given twice, naming its path', async () => {
    const response = await send('application/json', `{${JSON.stringify(good).slice(1, -1)},"nested":{"k":1,"k":2}}`);
    expectErrorBody(response, { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    expect(response.json()).toMatchObject({ error: { issues: [{ path: 'nested.k', code: 'duplicate_key' }] } });
  });
});
