import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import {
  apiKeyAuth,
  buildNotificationApp,
  clientErrorHandler,
  frameworkErrorHandler,
  generateApiKey,
  notificationRoutes,
  rulesRoutes,
  useJsonErrors,
} from '@crm-automation/http';
import { expectErrorBody, malformedRequests } from '@crm-automation/testing';

const TOKEN = 'svc-token-0123456789abcdef';
const BODY_LIMIT = 4 * 1024;
const key = generateApiKey();
const channels = () => ({ sms: createRecordingChannel(), email: createRecordingChannel() });
const engine = () => createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() } });
const notificationAuth = { authorization: `Bearer ${TOKEN}` };
const rulesAuth = { authorization: `Bearer ${key.key}` };

interface Server {
  name: string;
  build: () => Promise<FastifyInstance>;
  requests: ReturnType<typeof malformedRequests>;
}

const notificationRequests = (prefix = '') =>
  malformedRequests({ bodyRoute: `${prefix}/api/v1/sms`, headers: notificationAuth, bodyLimit: BODY_LIMIT, knownPaths: [`${prefix}/api/v1`, `${prefix}/api/v1/sms`, '/healthz'] });
const rulesRequests = (prefix = '') =>
  malformedRequests({ bodyRoute: `${prefix}/rules`, headers: rulesAuth, bodyLimit: BODY_LIMIT, knownPaths: [`${prefix}/rules`, `${prefix}/triggers`, `${prefix}/rules/abc/test`], idRoute: `${prefix}/rules` });

const SERVERS: Server[] = [
  {
    name: 'buildNotificationApp',
    build: () => buildNotificationApp({ channels: channels(), auth: { tokens: [TOKEN] }, bodyLimit: BODY_LIMIT }),
    requests: notificationRequests(),
  },
  {
    name: 'notificationRoutes in a bare app (the plugin sets its 404)',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler });
      await app.register(notificationRoutes, { channels: channels(), auth: { tokens: [TOKEN] }, bodyLimit: BODY_LIMIT });
      return app;
    },
    // /healthz is not served here; a bad escape in it is still a bad URL.
    requests: notificationRequests(),
  },
  {
    name: 'rulesRoutes in a bare app',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler });
      await app.register(rulesRoutes, { engine: engine(), authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc' }] }), bodyLimit: BODY_LIMIT });
      return app;
    },
    requests: rulesRequests(),
  },
  {
    name: 'both plugins in one app with its own handlers (useJsonErrors first)',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler, clientErrorHandler });
      useJsonErrors(app);
      app.get('/readyz', async () => ({ status: 'ready' }));
      await app.register(rulesRoutes, { engine: engine(), authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc' }] }), bodyLimit: BODY_LIMIT });
      await app.register(notificationRoutes, { prefix: '/notify', channels: channels(), auth: { tokens: [TOKEN] }, bodyLimit: BODY_LIMIT });
      return app;
    },
    requests: [...rulesRequests(), ...notificationRequests('/notify')],
  },
];

describe.each(SERVERS)('framework errors answer { error: { code, message } }: $name', ({ build, requests }) => {
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

describe('requests Node\'s HTTP parser refuses (clientErrorHandler), over a real socket', () => {
  let app: FastifyInstance;
  let port = 0;
  beforeAll(async () => {
    app = await buildNotificationApp({ channels: channels(), auth: { tokens: [TOKEN] } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(() => app.close());

  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => socket.write(request));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });

  it.each([
    ['a bad request line', 'NOT A REQUEST\r\n\r\n', 400],
    ['an unknown method', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a header without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n', 400],
    ['a bad Content-Length', 'POST /api/v1/sms HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
    ['two Content-Lengths', 'POST /api/v1/sms HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['headers over the limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('%s', async (_name, request, status) => {
    const answer = await raw(request);
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(body)).toEqual({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: expect.any(String) } });
  });

  it('a bad percent-escape over a real socket', async () => {
    const answer = await raw('GET /api/v1/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: expect.any(String) } });
  });
});
