/**
 * The trigger routes of a rules service that has no trigger store: served by asking a trigger service
 * over HTTP (`triggerServiceRoutes` + `triggerServiceClient`). The Rules API suite runs whole over this
 * hop (rules-api-trigger-service.test.ts); these are the failures only a hop has.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryRuleStore, createMemoryTriggerStore, createRecordingChannel, type AutomationEngine } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { apiKeyAuth, generateApiKey, rulesRoutes, triggerServiceClient, triggerServiceRoutes } from '@crm-automation/http';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const TOKEN = 'trigger-service-token-0123456789';
const A = 'acc_A';
const B = 'acc_B';

/** A server that answers every request with `respond`, or never (when `respond` returns undefined). */
async function fakeService(respond: (url: string) => { status: number; body: string } | undefined): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume();
    const answer = respond(request.url ?? '');
    if (!answer) return; // hangs: the client's deadline must end the call
    response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('trigger routes served from a trigger service', () => {
  const keyA = generateApiKey();
  const keyB = generateApiKey();
  const clock = createManualClock('2026-06-01T12:00:00Z');
  const ruleStore = createMemoryRuleStore();
  const triggerStore = createMemoryTriggerStore();
  let rulesEngine: AutomationEngine;
  let triggerEngine: AutomationEngine;
  let triggerApp: FastifyInstance;
  let triggerUrl: string;
  const fakes: Server[] = [];
  const apps: FastifyInstance[] = [];

  /** A rules service (Rules API over a rule store only) whose trigger routes call `baseUrl`. */
  const rulesService = async (baseUrl: string, token = TOKEN, timeoutMs = 1_000) => {
    const app = Fastify();
    await app.register(rulesRoutes, {
      engine: rulesEngine,
      authenticate: apiKeyAuth({ keys: [{ hash: keyA.hash, accountId: A }, { hash: keyB.hash, accountId: B }] }),
      triggers: triggerServiceClient({ baseUrl, token, timeoutMs, rules: ruleStore }),
    });
    apps.push(app);
    return (method: 'GET' | 'POST', url: string, key = keyA.key, payload?: unknown) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  };

  let ruleId: string;
  let triggerId: string;
  let call: Awaited<ReturnType<typeof rulesService>>;

  beforeAll(async () => {
    rulesEngine = createAutomationEngine({ ruleStore, clock });
    triggerEngine = createAutomationEngine({ triggerStore, ruleSource: ruleStore, clock, channels: { sms: createRecordingChannel() } });
    triggerApp = Fastify();
    await triggerApp.register(triggerServiceRoutes, { engine: triggerEngine, auth: { tokens: [TOKEN] } });
    triggerUrl = await triggerApp.listen({ host: '127.0.0.1', port: 0 });
    call = await rulesService(triggerUrl);
    ruleId = (await rulesEngine.rules.create(A, technicianSmsRule)).id;
    const accepted = await call('POST', '/events', keyA.key, { name: 'job.status.changed', id: 'evt-1', payload: doneJobPayload });
    expect(accepted.statusCode).toBe(202);
    triggerId = (accepted.json() as { triggers: Array<{ id: string }> }).triggers[0]?.id ?? '';
    expect(triggerId).not.toBe('');
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await triggerApp?.close();
    for (const server of fakes) await new Promise((resolve) => server.close(resolve));
  });

  it('the rules service has no trigger store of its own: every trigger it shows is the trigger service’s', async () => {
    expect(rulesEngine.triggerStore).toBeUndefined();
    await expect(rulesEngine.triggers.list(A)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    const page = (await call('GET', '/triggers')).json() as { items: Array<{ id: string; evaluateAt: string }> };
    expect(page.items.map((t) => t.id)).toEqual([triggerId]);
    expect(page.items[0]?.evaluateAt).toBe('2026-06-01T12:05:00.000Z');
    expect((await triggerEngine.triggers.get(A, triggerId))?.status).toBe('pending');
  });

  it('keeps tenants apart across the hop: account B can neither read nor change A’s trigger', async () => {
    const missing = '0123456789abcdef01234567';
    for (const [method, path] of [['GET', ''], ['POST', '/retry'], ['POST', '/cancel']] as const) {
      const onA = await call(method, `/triggers/${triggerId}${path}`, keyB.key);
      const onMissing = await call(method, `/triggers/${missing}${path}`, keyB.key);
      expect(onA.statusCode).toBe(404);
      expect(onA.body.replaceAll(triggerId, 'ID')).toBe(onMissing.body.replaceAll(missing, 'ID'));
    }
    expect(((await call('GET', '/triggers', keyB.key)).json() as { items: unknown[] }).items).toEqual([]);
    // B's stats of A's rule: the rule is not B's, so 404 before the trigger service is asked.
    expect((await call('GET', `/rules/${ruleId}/stats`, keyB.key)).statusCode).toBe(404);
    // An event of B names B's account whatever its body says, and matches none of A's rules.
    const other = await call('POST', '/events', keyB.key, { name: 'job.status.changed', id: 'evt-b', payload: doneJobPayload });
    expect(other.json()).toMatchObject({ triggers: [] });
    expect((await triggerEngine.triggers.get(A, triggerId))?.status).toBe('pending');
  });

  it('ids that look like paths reach no other route of the trigger service: they are ids, not found', async () => {
    // As sent on the wire, so that the rules service's router decodes them to `..`, `a/b`, ...
    const app = Fastify();
    apps.push(app);
    await app.register(rulesRoutes, {
      engine: rulesEngine,
      authenticate: apiKeyAuth({ keys: [{ hash: keyA.hash, accountId: A }] }),
      triggers: triggerServiceClient({ baseUrl: triggerUrl, token: TOKEN }),
    });
    const base = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const raw = (method: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: base.hostname, port: base.port, method, path, headers: { authorization: `Bearer ${keyA.key}` } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const id of ['%2E%2E', '%2E', '..%2F..%2Fevents', 'a%2Fb', 'list', 'rule-stats', `${triggerId}%3Fx`]) {
      for (const [method, suffix] of [['GET', ''], ['POST', '/cancel'], ['POST', '/retry']] as const) {
        const response = await raw(method, `/triggers/${id}${suffix}`);
        expect([id, suffix, response.status, (JSON.parse(response.body) as { error: { code: string } }).error.code]).toEqual([id, suffix, 404, 'CRM_ERR_TRIGGER_NOT_FOUND']);
      }
    }
    expect((await triggerEngine.triggers.get(A, triggerId))?.status).toBe('pending');
  });

  it('passes typed refusals through: 409 for a transition the engine refuses, 400 with issues for a bad event', async () => {
    const retry = await call('POST', `/triggers/${triggerId}/retry`);
    expect(retry.statusCode).toBe(409);
    expect(retry.json()).toMatchObject({ error: { code: 'CRM_ERR_TRIGGER_STATE' } });
    const bad = await call('POST', '/events', keyA.key, { name: 'job.status.changed', payload: [1] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'CRM_ERR_EVENT_INVALID', issues: [{ path: 'payload' }] } });
  });

  it('stats are counted by the trigger service', async () => {
    const stats = await call('GET', `/rules/${ruleId}/stats`);
    expect(stats.statusCode).toBe(200);
    expect(stats.json()).toMatchObject({ ruleId, counts: { pending: 1, completed: 0 }, lastFiredAt: null, truncated: false });
  });

  it('carries a keyed rule’s triggers across the hop with their entity fields as dates, and lists them by entity', async () => {
    const keyed = await rulesEngine.rules.create(A, { ...technicianSmsRule, name: 'Keyed over the hop', trigger: { eventName: 'hop.keyed', key: '$.job.id' }, concurrency: { mode: 'supersede' } });
    const client = triggerServiceClient({ baseUrl: triggerUrl, token: TOKEN, rules: ruleStore });
    if (!client.ingest) throw new Error('a client given rules has an intake');
    const change = (id: string, timestamp: string) => client.ingest?.({ name: 'hop.keyed', id, accountId: A, payload: doneJobPayload, timestamp }) ?? Promise.resolve([]);
    const [first] = await change('hop-1', '2026-06-01T12:00:00.000Z');
    const [second] = await change('hop-2', '2026-06-01T12:00:01.000Z');
    if (!first || !second) throw new Error('each event should start a run');
    expect(second).toMatchObject({ entityKey: doneJobPayload.job.id, status: 'pending' });
    expect(second.firstEventAt).toEqual(new Date('2026-06-01T12:00:00.000Z'));

    const page = await client.list(A, { ruleId: keyed.id, entityKey: doneJobPayload.job.id });
    expect(page.items.map((t) => t.id).sort()).toEqual([first.id, second.id].sort());
    expect(await client.list(A, { entityKey: 'another job' })).toEqual({ items: [] });
    const replaced = await client.get(A, first.id);
    expect(replaced?.executionHistory[0]).toMatchObject({ outcome: 'superseded', reason: 'superseded', triggerId: second.id, event: { id: 'hop-2', name: 'hop.keyed' } });
    expect(replaced?.executionHistory[0]?.at).toBeInstanceOf(Date);
  });

  it('carries a scheduled run across the hop with its schedule, and a rescheduled entry’s due times as dates', async () => {
    const scheduled = await rulesEngine.rules.create(A, {
      ...technicianSmsRule,
      name: 'Scheduled over the hop',
      delay: undefined,
      trigger: { eventName: 'hop.scheduled', key: '$.job.id' },
      schedule: { anchor: '$.job.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: 'Europe/London' },
    });
    const client = triggerServiceClient({ baseUrl: triggerUrl, token: TOKEN, rules: ruleStore });
    const book = (id: string, startsAt: string, timestamp: string) =>
      client.ingest?.({ name: 'hop.scheduled', id, accountId: A, payload: { job: { ...doneJobPayload.job, startsAt } }, timestamp }) ?? Promise.resolve([]);
    const [first] = await book('hop-s1', '2026-06-10T10:00:00Z', '2026-06-01T12:00:00.000Z');
    const [moved] = await book('hop-s2', '2026-06-12T10:00:00Z', '2026-06-01T12:00:01.000Z');
    if (!first || !moved) throw new Error('each event should start a run');
    // 09:00 in London in June is 08:00 UTC (BST).
    expect(first.evaluateAt).toEqual(new Date('2026-06-09T08:00:00.000Z'));
    expect(moved.evaluateAt).toEqual(new Date('2026-06-11T08:00:00.000Z'));
    const read = await client.get(A, moved.id);
    expect(read?.ruleId).toBe(scheduled.id);
    expect(read?.schedule).toEqual({ timeZone: 'Europe/London', zoneSource: 'rule', anchor: '2026-06-12T10:00:00Z', local: '2026-06-11T09:00:00.000+01:00', notes: [] });
    expect(read?.executionHistory[0]).toMatchObject({ outcome: 'rescheduled', from: new Date('2026-06-09T08:00:00.000Z'), to: new Date('2026-06-11T08:00:00.000Z'), eventId: 'hop-s2', triggerId: first.id });
    expect(read?.executionHistory[0]?.from).toBeInstanceOf(Date);
    expect((await client.get(A, first.id))?.executionHistory[0]?.to).toBeInstanceOf(Date);
  });

  it('the internal API admits only the service token, and the account is required', async () => {
    const post = (path: string, body: unknown, token?: string) =>
      triggerApp.inject({ method: 'POST', url: `/internal/v1${path}`, headers: token ? { authorization: `Bearer ${token}` } : {}, payload: body as Record<string, unknown> });
    expect((await post('/triggers/get', { accountId: A, id: triggerId })).statusCode).toBe(401);
    expect((await post('/triggers/get', { accountId: A, id: triggerId }, 'not-the-token-0123456789')).statusCode).toBe(401);
    const noAccount = await post('/triggers/get', { id: triggerId }, TOKEN);
    expect(noAccount.statusCode).toBe(400);
    expect(noAccount.json()).toMatchObject({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', issues: [{ path: 'body.accountId' }] } });
    expect((await post('/triggers/get', { accountId: B, id: triggerId }, TOKEN)).json()).toMatchObject({ error: { code: 'CRM_ERR_TRIGGER_NOT_FOUND' } });
    expect((await post('/triggers/get', { accountId: A, id: triggerId }, TOKEN)).json()).toMatchObject({ id: triggerId, accountId: A });
  });

  describe('when the trigger service cannot answer, every trigger route is a typed 503 with Retry-After', () => {
    const routes = () =>
      [
        ['GET', '/triggers', undefined],
        ['GET', `/triggers/${triggerId}`, undefined],
        ['POST', `/triggers/${triggerId}/retry`, undefined],
        ['POST', `/triggers/${triggerId}/cancel`, undefined],
        ['GET', `/rules/${ruleId}/stats`, undefined],
        ['POST', '/events', { name: 'job.status.changed', payload: doneJobPayload }],
      ] as const;
    const expectUnavailable = async (rules: Awaited<ReturnType<typeof rulesService>>) => {
      for (const [method, url, payload] of routes()) {
        const response = await rules(method, url, keyA.key, payload);
        expect([method, url, response.statusCode]).toEqual([method, url, 503]);
        expect(response.json()).toEqual({ error: { code: 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE', message: 'the trigger service is unavailable; retry later' } });
        expect(response.headers['retry-after']).toBe('5');
      }
    };

    it('down (nothing listens)', async () => {
      const { url, server } = await fakeService(() => ({ status: 200, body: '{}' }));
      await new Promise((resolve) => server.close(resolve));
      await expectUnavailable(await rulesService(url));
    });

    it('too slow (past the client deadline)', async () => {
      const { url, server } = await fakeService(() => undefined);
      fakes.push(server);
      await expectUnavailable(await rulesService(url, TOKEN, 200));
    });

    it('refusing this service’s token (a misconfiguration, not the caller’s fault)', async () => {
      await expectUnavailable(await rulesService(triggerUrl, 'a-token-it-does-not-know-0123'));
    });

    it('failing, or answering something that is not a trigger', async () => {
      const failing = await fakeService(() => ({ status: 500, body: JSON.stringify({ error: { code: 'CRM_ERR_HTTP_INTERNAL', message: 'x' } }) }));
      const nonsense = await fakeService((url) => ({ status: 200, body: url.endsWith('/list') ? '{"items":[{"id":1}]}' : url.endsWith('/events') ? '{"triggers":[{}]}' : '{"id":"x"}' }));
      const html = await fakeService(() => ({ status: 502, body: '<html>bad gateway</html>' }));
      fakes.push(failing.server, nonsense.server, html.server);
      await expectUnavailable(await rulesService(failing.url));
      await expectUnavailable(await rulesService(nonsense.url));
      await expectUnavailable(await rulesService(html.url));
    });
  });

  it('refuses a client without a usable address or token, and a triggers option missing methods', async () => {
    expect(() => triggerServiceClient({ baseUrl: 'not a url', token: TOKEN })).toThrow(/baseUrl must be a URL/);
    expect(() => triggerServiceClient({ baseUrl: triggerUrl, token: 'short' })).toThrow(/at least 16 characters/);
    expect(() => triggerServiceClient({ baseUrl: triggerUrl, token: TOKEN, timeout: 5 } as never)).toThrow(/did you mean "timeoutMs"/);
    const app = Fastify();
    apps.push(app);
    await expect(app.register(rulesRoutes, { engine: rulesEngine, authenticate: async () => null, triggers: { get: async () => null } as never }).ready()).rejects.toThrow(/missing: list, cancel, retry/);
  });
});

describe('resolving a delivery through the trigger service', () => {
  it('answers a delivery that is not unknown with 409 CRM_ERR_HTTP_DELIVERY_STATE over the hop, not a 5xx', async () => {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { sms: createRecordingChannel() } });
    const app = Fastify();
    await app.register(triggerServiceRoutes, { engine: { triggers: engine.triggers, ingest: engine.ingest, deliveries: engine.deliveries }, auth: { tokens: [TOKEN] } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const [sent] = await store.recordIntents([{ accountId: A, triggerId: 'trg_1', ruleId: 'rule_1', actionIndex: 0, attempt: 1, type: 'sms', provider: 'twilio', idempotencyKey: 'trg_1:0', dedupes: false, at: new Date() }]);
      await store.recordOutcomes([{ id: sent?.id ?? '', state: 'accepted', providerId: 'SM1', at: new Date() }]);
      const client = triggerServiceClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, token: TOKEN });
      for (const as of ['sent', 'resend'] as const) {
        await expect(client.deliveries.resolve(A, sent?.id ?? '', { as, by: 'ops' })).rejects.toMatchObject({ statusCode: 409, code: 'CRM_ERR_HTTP_DELIVERY_STATE' });
      }
      expect((await client.deliveries.get(A, sent?.id ?? ''))?.state).toBe('accepted');
    } finally {
      await app.close();
    }
  });
});
