/**
 * The Rules Service API suite, run over any store: the memory store in `npm test`, the Mongo store in
 * `npm run test:services`.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair, exportSPKI } from 'jose';
import {
  createAutomationEngine,
  createManualClock,
  createRecordingChannel,
  GatewayError,
  type AutomationEngine,
  type AutomationStore,
} from '@crm-automation/core';
import { anyOf, apiKeyAuth, generateApiKey, jwtAuth, rulesRoutes, triggerServiceClient, triggerServiceRoutes } from '@crm-automation/http';
import { doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { describeEntityRoutes } from './rules-api-entities.js';
import { describeScheduleRoutes } from './rules-api-schedules.js';
import { describeContactRoutes } from './rules-api-contact.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

export interface StoreFixture {
  store: AutomationStore;
  cleanup?: () => Promise<void>;
}

/**
 * `one-engine`: the Rules API over one engine with both halves of the store (a single process).
 * `trigger-service`: a rules-only engine whose trigger routes go over real HTTP to a trigger-only
 * engine behind `triggerServiceRoutes` (the three-service deployment).
 */
export type RulesApiTopology = 'one-engine' | 'trigger-service';

const SERVICE_TOKEN = 'suite-service-token-0123456789';

const A = 'acc_A';
const B = 'acc_B';
const JWT_SECRET = 'a-test-secret-of-sufficient-length-123456';

/** Every route that takes a rule id, as a request for a given id. */
const RULE_ID_ROUTES: Array<(id: string) => InjectOptions> = [
  (id) => ({ url: `/rules/${id}` }),
  (id) => ({ method: 'PUT', url: `/rules/${id}`, payload: technicianSmsRule }),
  (id) => ({ method: 'DELETE', url: `/rules/${id}` }),
  (id) => ({ method: 'POST', url: `/rules/${id}/test`, payload: { payload: doneJobPayload } }),
  (id) => ({ url: `/rules/${id}/stats` }),
];
/** Every route that takes a trigger id. */
const TRIGGER_ID_ROUTES: Array<(id: string) => InjectOptions> = [
  (id) => ({ url: `/triggers/${id}` }),
  (id) => ({ method: 'POST', url: `/triggers/${id}/retry` }),
  (id) => ({ method: 'POST', url: `/triggers/${id}/cancel` }),
];

export function describeRulesApi(name: string, makeStore: () => Promise<StoreFixture>, topology: RulesApiTopology = 'one-engine'): void {
  describe(`Rules Service API over ${name}${topology === 'trigger-service' ? ', triggers in a trigger service' : ''}`, () => {
    const keyA = generateApiKey();
    const keyB = generateApiKey();
    const readOnly = generateApiKey();
    let app: FastifyInstance;
    let engine: AutomationEngine;
    /** The engine that runs due triggers: `engine` itself, or the trigger service's. */
    let runner: AutomationEngine;
    let triggerService: FastifyInstance | undefined;
    let fixture: StoreFixture;
    let sms = createRecordingChannel();
    const clock = createManualClock('2026-06-01T12:00:00Z');
    const currentJobs = new Map<string, unknown>();
    let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
    const responses: Array<{ method: string; url: string; response: LightMyRequestResponse }> = [];

    const call = async (options: InjectOptions & { key?: string | null }) => {
      const { key, ...rest } = options;
      const headers: Record<string, string> = { ...(rest.headers as Record<string, string> | undefined) };
      if (key !== null) headers['authorization'] = `Bearer ${key ?? keyA.key}`;
      const response = await app.inject({ ...rest, headers });
      responses.push({ method: String(rest.method ?? 'GET'), url: String(rest.url), response });
      return response;
    };
    const json = (r: LightMyRequestResponse) => r.json() as Record<string, any>;

    beforeAll(async () => {
      rsa = await generateKeyPair('RS256');
      fixture = await makeStore();
      sms = createRecordingChannel();
      // No webhook gateway: saving a webhook rule is accepted with a warning.
      const channels = { sms, email: createRecordingChannel() };
      // The CRM's jobs as they are now, for rules evaluated on current state; a job not set here is as its event had it.
      const facts = { job: async ({ entityKey, event }: { entityKey?: string | undefined; event: { payload: Record<string, unknown> } }) => (entityKey !== undefined && currentJobs.has(entityKey) ? currentJobs.get(entityKey) : event.payload['job']) };
      let triggers: Parameters<typeof rulesRoutes>[1]['triggers'];
      if (topology === 'one-engine') {
        engine = createAutomationEngine({ store: fixture.store, clock, channels, maxAttempts: 1, facts });
        runner = engine;
      } else {
        engine = createAutomationEngine({ ruleStore: fixture.store, clock, channels, facts });
        runner = createAutomationEngine({ triggerStore: fixture.store, ruleSource: fixture.store, clock, channels, maxAttempts: 1, facts });
        triggerService = Fastify();
        await triggerService.register(triggerServiceRoutes, { engine: runner, auth: { tokens: [SERVICE_TOKEN] } });
        const address = await triggerService.listen({ host: '127.0.0.1', port: 0 });
        triggers = triggerServiceClient({ baseUrl: address, token: SERVICE_TOKEN, rules: fixture.store });
      }
      app = Fastify();
      await app.register(rulesRoutes, {
        engine,
        ...(triggers ? { triggers } : {}),
        authenticate: anyOf(
          apiKeyAuth({ keys: [
            { hash: keyA.hash, accountId: A },
            { hash: keyB.hash, accountId: B },
            { hash: readOnly.hash, accountId: A, scopes: ['rules:read', 'triggers:read'] },
          ] }),
          jwtAuth({ secret: JWT_SECRET }),
        ),
        bodyLimit: 64 * 1024,
        eventCatalog: [{ name: 'job.status.changed', description: 'A job changed status', samplePayload: doneJobPayload }],
      });
      await app.ready();
    });

    afterAll(async () => {
      await app?.close();
      await triggerService?.close();
      await fixture?.cleanup?.();
    });

    beforeEach(() => sms.clear());

    describe('rules CRUD', () => {
      it('creates, reads, lists, replaces with If-Match, and deletes', async () => {
        const created = await call({ method: 'POST', url: '/rules', payload: technicianSmsRule });
        expect(created.statusCode).toBe(201);
        const rule = json(created);
        expect(rule).toMatchObject({ accountId: A, version: 1, name: technicianSmsRule.name, enabled: true });
        expect(created.headers['location']).toBe(`/rules/${rule['id']}`);
        expect(created.headers['etag']).toBe('"1"');

        const got = await call({ url: `/rules/${rule['id']}` });
        expect(got.statusCode).toBe(200);
        expect(json(got)).toEqual(rule);

        const listed = await call({ url: '/rules?eventName=job.status.changed&enabled=true' });
        expect(json(listed)['items'].map((r: { id: string }) => r.id)).toContain(rule['id']);

        const replaced = await call({ method: 'PUT', url: `/rules/${rule['id']}`, headers: { 'if-match': '"1"' }, payload: { ...rule, name: 'Renamed' } });
        expect(replaced.statusCode).toBe(200);
        expect(json(replaced)).toMatchObject({ name: 'Renamed', version: 2, createdAt: rule['createdAt'] });

        const stale = await call({ method: 'PUT', url: `/rules/${rule['id']}`, headers: { 'if-match': '"1"' }, payload: technicianSmsRule });
        expect(stale.statusCode).toBe(409);
        expect(json(stale)['error']['code']).toBe('CRM_ERR_VERSION_CONFLICT');

        const staleBody = await call({ method: 'PUT', url: `/rules/${rule['id']}`, payload: { ...technicianSmsRule, version: 1 } });
        expect(staleBody.statusCode).toBe(409);

        const badIfMatch = await call({ method: 'PUT', url: `/rules/${rule['id']}`, headers: { 'if-match': 'abc' }, payload: technicianSmsRule });
        expect(badIfMatch.statusCode).toBe(400);

        const deleted = await call({ method: 'DELETE', url: `/rules/${rule['id']}` });
        expect(deleted.statusCode).toBe(204);
        expect(deleted.body).toBe('');
        expect((await call({ url: `/rules/${rule['id']}` })).statusCode).toBe(404);
        expect((await call({ method: 'DELETE', url: `/rules/${rule['id']}` })).statusCode).toBe(404);
      });

      it('paginates with a cursor', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(json(await call({ method: 'POST', url: '/rules', payload: { ...highValueJobRule, name: `page ${i}`, trigger: { eventName: 'page.test' } } }))['id']);
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = json(await call({ url: `/rules?eventName=page.test&limit=2${cursor ? `&cursor=${cursor}` : ''}` }));
          expect(page['items'].length).toBeLessThanOrEqual(2);
          seen.push(...page['items'].map((r: { id: string }) => r.id));
          cursor = page['nextCursor'];
        } while (cursor);
        expect(seen).toEqual(ids);
        expect((await call({ url: '/rules?limit=0' })).statusCode).toBe(400);
        expect((await call({ url: '/rules?enabled=maybe' })).statusCode).toBe(400);
      });

      it('answers validation errors with every issue and its path', async () => {
        const response = await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, delay: { value: 1, unit: 'weeks' }, actions: [{ type: 'sms', params: { recipient: 'nope', message: '{{' } }] } });
        expect(response.statusCode).toBe(400);
        const body = json(response);
        expect(body['error']['code']).toBe('CRM_ERR_RULE_INVALID');
        expect(body['error']['issues'].map((i: { path: string }) => i.path).sort()).toEqual(['actions[0].params.message', 'actions[0].params.recipient', 'delay.unit']);
        expect(response.body).not.toMatch(/at .*\.ts:\d+/);
      });

      it('takes the account from the credentials, never from the body', async () => {
        const response = await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, accountId: B } });
        expect(response.statusCode).toBe(400);
        expect(json(response)['error']['issues'][0]['path']).toBe('accountId');
        const same = await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, accountId: A } });
        expect(json(same)['accountId']).toBe(A);
      });
    });

    describe('dry runs', () => {
      it('validates and dry-runs an unsaved rule', async () => {
        const response = await call({ method: 'POST', url: '/rules/validate', payload: { rule: technicianSmsRule, sample: { payload: doneJobPayload } } });
        expect(response.statusCode).toBe(200);
        const body = json(response);
        expect(body['valid']).toBe(true);
        expect(body['dryRun']['commands'][0]['command']['params']).toEqual({ recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' });
        const invalid = json(await call({ method: 'POST', url: '/rules/validate', payload: { rule: { ...technicianSmsRule, actions: [] } } }));
        expect(invalid).toMatchObject({ valid: false, issues: [{ path: 'actions' }] });
        expect(sms.calls).toHaveLength(0);
      });

      it('dry-runs a saved rule and shows the failing condition with the value seen', async () => {
        const rule = json(await call({ method: 'POST', url: '/rules', payload: highValueJobRule }));
        const response = await call({ method: 'POST', url: `/rules/${rule['id']}/test`, payload: { payload: highValueJobPayload(1999, 'Commercial') } });
        expect(response.statusCode).toBe(200);
        expect(json(response)).toMatchObject({ valid: true, matched: false, commands: [], conditions: [{ factPath: '$.total', factResult: 1999, result: false }, { result: true }] });
        expect((await call({ method: 'POST', url: '/rules/000000000000000000000000/test', payload: { payload: {} } })).statusCode).toBe(404);
      });
    });

    describe('events and triggers', () => {
      it('takes events over HTTP with the bus path’s dedupe, and shows, cancels and retries triggers', async () => {
        const rule = json(await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, trigger: { eventName: 'http.intake' } } }));
        const event = { name: 'http.intake', payload: doneJobPayload, id: 'evt-http-1' };
        const accepted = await call({ method: 'POST', url: '/events', payload: event });
        expect(accepted.statusCode).toBe(202);
        const body = json(accepted);
        expect(body).toMatchObject({ id: 'evt-http-1', triggers: [{ ruleId: rule['id'], status: 'pending', evaluateAt: '2026-06-01T12:05:00.000Z' }] });
        const again = json(await call({ method: 'POST', url: '/events', payload: event }));
        expect(again['triggers'][0]['id']).toBe(body['triggers'][0]['id']);

        const triggerId = body['triggers'][0]['id'];
        const trigger = json(await call({ url: `/triggers/${triggerId}` }));
        expect(trigger).toMatchObject({ id: triggerId, status: 'pending', executionHistory: [], triggeringEvent: { id: 'evt-http-1', payload: doneJobPayload } });

        const byRule = json(await call({ url: `/triggers?ruleId=${rule['id']}&status=pending,retrying` }));
        expect(byRule['items'].map((t: { id: string }) => t.id)).toEqual([triggerId]);
        expect(json(await call({ url: `/triggers?ruleId=${rule['id']}&status=completed` }))['items']).toEqual([]);
        expect(json(await call({ url: `/triggers?ruleId=${rule['id']}&from=2026-06-01T12:06:00Z` }))['items']).toEqual([]);
        expect((await call({ url: '/triggers?status=exploded' })).statusCode).toBe(400);

        expect((await call({ method: 'POST', url: `/triggers/${triggerId}/retry` })).statusCode).toBe(409);
        const cancelled = await call({ method: 'POST', url: `/triggers/${triggerId}/cancel` });
        expect(cancelled.statusCode).toBe(200);
        expect(json(cancelled)['status']).toBe('cancelled');
        const twice = await call({ method: 'POST', url: `/triggers/${triggerId}/cancel` });
        expect(twice.statusCode).toBe(409);
        expect(json(twice)['error']['code']).toBe('CRM_ERR_TRIGGER_STATE');

        const second = json(await call({ method: 'POST', url: '/events', payload: { ...event, id: 'evt-http-2' } }))['triggers'][0]['id'];
        sms.failNext(new GatewayError('invalid number', { status: 400, provider: 'twilio', providerCode: 21211 }));
        await clock.advance(5 * 60_000);
        await runner.runDue();
        const failed = json(await call({ url: `/triggers/${second}` }));
        expect(failed).toMatchObject({ status: 'failed', executionHistory: [{ outcome: 'failed', actions: [{ status: 'failed', error: { providerCode: 21211 } }] }] });
        const retried = await call({ method: 'POST', url: `/triggers/${second}/retry` });
        expect(json(retried)['status']).toBe('pending');
        await runner.runDue();
        expect(json(await call({ url: `/triggers/${second}` }))['status']).toBe('completed');

        const stats = json(await call({ url: `/rules/${rule['id']}/stats` }));
        expect(stats).toMatchObject({ ruleId: rule['id'], counts: { completed: 1, cancelled: 1, failed: 0 }, truncated: false });
        expect(stats['lastFiredAt']).toBe(clock.now().toISOString());
      });

      it('refuses malformed events with the field at fault', async () => {
        const bad = await call({ method: 'POST', url: '/events', payload: { name: 'x', payload: [1] } });
        expect(bad.statusCode).toBe(400);
        expect(json(bad)['error']).toMatchObject({ code: 'CRM_ERR_EVENT_INVALID', issues: [{ path: 'payload' }] });
        const other = await call({ method: 'POST', url: '/events', payload: { name: 'x', payload: {}, accountId: B } });
        expect(json(other)['error']['issues'][0]['path']).toBe('accountId');
      });

      it('lists event types from the catalogue and the account’s rules', async () => {
        const types = json(await call({ url: '/event-types' }))['items'];
        expect(types[0]).toEqual({ name: 'job.status.changed', description: 'A job changed status', samplePayload: doneJobPayload });
        expect(types.map((t: { name: string }) => t.name)).toContain('http.intake');
      });
    });

    describe('security', () => {
      it('401 without or with bad credentials, 403 without the scope', async () => {
        for (const key of [null, 'crm_not-a-key', 'garbage']) {
          const response = await call({ url: '/rules', key });
          expect(response.statusCode).toBe(401);
          expect(json(response)['error']['code']).toBe('CRM_ERR_HTTP_UNAUTHENTICATED');
        }
        const forbidden = await call({ method: 'POST', url: '/rules', payload: technicianSmsRule, key: readOnly.key });
        expect(forbidden.statusCode).toBe(403);
        expect((await call({ url: '/rules', key: readOnly.key })).statusCode).toBe(200);
      });

      it('accepts HS256 and RS256 JWTs with the account in a claim; refuses expired and unsigned ones', async () => {
        const token = await new SignJWT({ accountId: A, scope: 'rules:read' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(JWT_SECRET));
        expect((await call({ url: '/rules', key: token })).statusCode).toBe(200);
        expect((await call({ method: 'POST', url: '/rules', payload: technicianSmsRule, key: token })).statusCode).toBe(403);
        const expired = await new SignJWT({ accountId: A, scope: 'rules:read' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(new TextEncoder().encode(JWT_SECRET));
        expect((await call({ url: '/rules', key: expired })).statusCode).toBe(401);
        const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ accountId: A, scope: 'rules:read' })).toString('base64url')}.`;
        expect((await call({ url: '/rules', key: unsigned })).statusCode).toBe(401);

        const rsApp = Fastify();
        await rsApp.register(rulesRoutes, { engine, authenticate: jwtAuth({ publicKey: await exportSPKI(rsa.publicKey), accountClaim: 'https://crm/account' }) });
        const rsToken = await new SignJWT({ 'https://crm/account': B, scope: ['rules:read'] }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(rsa.privateKey);
        const ok = await rsApp.inject({ url: '/rules', headers: { authorization: `Bearer ${rsToken}` } });
        expect(ok.statusCode).toBe(200);
        const hsOnRs = await rsApp.inject({ url: '/rules', headers: { authorization: `Bearer ${token}` } });
        expect(hsOnRs.statusCode).toBe(401);
        await rsApp.close();
      });

      it('413 for a body over the limit, 415 for a body that is not JSON, 400 for broken JSON', async () => {
        const big = await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, description: 'x'.repeat(70 * 1024) } });
        expect(big.statusCode).toBe(413);
        expect(json(big)['error']['code']).toBe('CRM_ERR_HTTP_BODY_TOO_LARGE');
        const text = await call({ method: 'POST', url: '/rules', payload: 'name=x', headers: { 'content-type': 'text/plain' } });
        expect(text.statusCode).toBe(415);
        expect(json(text)['error']['code']).toBe('CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
        const broken = await call({ method: 'POST', url: '/rules', payload: '{"name":', headers: { 'content-type': 'application/json' } });
        expect(broken.statusCode).toBe(400);
        expect(json(broken)['error']['code']).toBe('CRM_ERR_HTTP_BAD_REQUEST');
      });

      it('429 with Retry-After over the per-account rate', async () => {
        const limitedApp = Fastify();
        const key = generateApiKey();
        const other = generateApiKey();
        await limitedApp.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: A }, { hash: other.hash, accountId: B }] }), rateLimit: { max: 3, windowMs: 60_000 } });
        const get = (k: string) => limitedApp.inject({ url: '/rules', headers: { authorization: `Bearer ${k}` } });
        for (let i = 0; i < 3; i++) expect((await get(key.key)).statusCode).toBe(200);
        const limited = await get(key.key);
        expect(limited.statusCode).toBe(429);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect((limited.json() as Record<string, any>)['error']['code']).toBe('CRM_ERR_HTTP_RATE_LIMITED');
        expect((await get(other.key)).statusCode).toBe(200);
        await limitedApp.close();
      });

      it('answers unknown routes and internal failures without details', async () => {
        const missing = await call({ url: '/nope' });
        expect(missing.statusCode).toBe(404);
        expect(json(missing)['error']['code']).toBe('CRM_ERR_HTTP_NOT_FOUND');
      });

      it("tenant isolation: every route called by B on A's resources answers exactly as for a missing resource", async () => {
        const rule = json(await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, name: 'Secret rule of A', trigger: { eventName: 'iso.test' } } }));
        const event = json(await call({ method: 'POST', url: '/events', payload: { name: 'iso.test', payload: doneJobPayload, id: 'iso-1' } }));
        const triggerId = event['triggers'][0]['id'];
        const missingId = '0123456789abcdef01234567';
        const check = async (make: (id: string) => InjectOptions, realId: string) => {
          const onA = await call({ ...make(realId), key: keyB.key });
          const onMissing = await call({ ...make(missingId), key: keyB.key });
          expect(onA.statusCode).toBe(404);
          expect(onA.statusCode).toBe(onMissing.statusCode);
          expect(onA.body.replaceAll(realId, 'ID')).toBe(onMissing.body.replaceAll(missingId, 'ID'));
          expect(onA.body).not.toContain('Secret rule of A');
        };
        for (const make of RULE_ID_ROUTES) await check(make, rule['id']);
        for (const make of TRIGGER_ID_ROUTES) await check(make, triggerId);
        for (const url of ['/rules', `/triggers`, `/triggers?ruleId=${rule['id']}`, '/event-types']) {
          const body = (await call({ url, key: keyB.key })).body;
          expect(body).not.toContain(rule['id']);
          expect(body).not.toContain(triggerId);
          expect(body).not.toContain('Secret rule of A');
          expect(body).not.toContain('iso.test');
        }
        // A's resources are untouched by B's attempts.
        expect(json(await call({ url: `/rules/${rule['id']}` }))['version']).toBe(1);
        expect(json(await call({ url: `/triggers/${triggerId}` }))['status']).toBe('pending');
      });
    });

    describe('read scope, warnings and bad input', () => {
      const webhookRule = { ...technicianSmsRule, name: 'Hook without a gateway', actions: [{ type: 'webhook', params: { url: 'https://hooks.crm.example/done/{{job.id}}', payload: { id: '{{job.id}}' } } }] };
      const noGateway = [{ path: 'actions[0].type', code: 'no_gateway', message: expect.stringContaining('no gateway for "webhook"') }];

      it('a read-only key may validate, dry-run an unsaved rule and test a saved one, but not save', async () => {
        const validated = await call({ method: 'POST', url: '/rules/validate', payload: { rule: technicianSmsRule, sample: { payload: doneJobPayload } }, key: readOnly.key });
        expect(validated.statusCode).toBe(200);
        expect(json(validated)['dryRun']['matched']).toBe(true);
        const rule = json(await call({ method: 'POST', url: '/rules', payload: highValueJobRule }));
        const tested = await call({ method: 'POST', url: `/rules/${rule['id']}/test`, payload: { payload: highValueJobPayload(2500, 'Commercial') }, key: readOnly.key });
        expect(tested.statusCode).toBe(200);
        expect(json(tested)['matched']).toBe(true);
        expect((await call({ method: 'POST', url: '/rules', payload: technicianSmsRule, key: readOnly.key })).statusCode).toBe(403);
        expect(sms.calls).toHaveLength(0);
      });

      it('answers the warnings of a save (POST, PUT, validate) and never stores them', async () => {
        const created = await call({ method: 'POST', url: '/rules', payload: webhookRule });
        expect(created.statusCode).toBe(201);
        expect(json(created)['warnings']).toEqual(noGateway);
        const id = json(created)['id'];
        const replaced = await call({ method: 'PUT', url: `/rules/${id}`, payload: { ...webhookRule, name: 'Renamed hook' } });
        expect(replaced.statusCode).toBe(200);
        expect(json(replaced)['warnings']).toEqual(noGateway);
        const validated = json(await call({ method: 'POST', url: '/rules/validate', payload: { rule: webhookRule } }));
        expect(validated).toMatchObject({ valid: true, warnings: noGateway });
        expect(json(await call({ url: `/rules/${id}` }))['warnings']).toBeUndefined();
        expect(json(await call({ method: 'POST', url: '/rules', payload: technicianSmsRule }))['warnings']).toBeUndefined();
        expect(json(await call({ method: 'POST', url: '/rules/validate', payload: { rule: technicianSmsRule } }))['warnings']).toBeUndefined();
      });

      const ID_ROUTES = [...RULE_ID_ROUTES, ...TRIGGER_ID_ROUTES];
      const BAD_IDS = ['x'.repeat(65), 'x'.repeat(100), '%00', '%20', 'a%20b', 'a%0Ab', '%7F', '%C3%A9'];

      it.each(ID_ROUTES.flatMap((route, r) => BAD_IDS.map((id) => [r, id, route] as const)))('route #%d refuses the id %s with a 400 naming params.id', async (_r, id, route) => {
        const response = await call(route(id));
        expect(response.statusCode).toBe(400);
        expect(json(response)['error']).toMatchObject({ code: 'CRM_ERR_HTTP_BAD_REQUEST', issues: [{ path: 'params.id' }] });
      });

      it.each([
        '/rules?limit=abc', '/rules?limit=0', '/rules?limit=501', '/rules?limit=1.5', '/rules?limit=', '/rules?enabled=yes', '/rules?enabled=1', '/rules?eventName=',
        '/rules?unknown=1', '/rules?cursor=', `/rules?cursor=${'c'.repeat(101)}`, '/rules?limit=1&limit=2',
        '/triggers?from=yesterday', '/triggers?from=2026-13-01T00:00:00Z', '/triggers?to=2026-06-01', '/triggers?from=+275760-09-13T00:00:00Z', '/triggers?from=2026-06-01T12:00:00',
        '/triggers?status=bogus', '/triggers?status=', '/triggers?status=pending,nope', `/triggers?ruleId=${'r'.repeat(65)}`, '/triggers?ruleId=a%20b', '/triggers?limit=-1', '/triggers?other=x',
      ])('refuses the query %s with a 400 naming the parameter', async (url) => {
        const response = await call({ url });
        expect(response.statusCode).toBe(400);
        const error = json(response)['error'];
        expect(error['code']).toBe('CRM_ERR_HTTP_BAD_REQUEST');
        expect(error['issues'][0]['path']).toMatch(/^query/);
      });

      const now = clock.now().getTime();
      const BAD_TIMESTAMPS: unknown[] = [8.64e15, -8.64e15, 8.64e15 + 1, 1e300, -1e300, Number.MAX_SAFE_INTEGER, now + 2 * 86_400_000, now - 30 * 86_400_000, 0, -1, 1.5e12 * 10,
        '+275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '1970-01-01T00:00:00Z', 'tomorrow', '', '2026-02-30T10:00:00Z', ' ', 'June 1', 'x'.repeat(101), true, null, {}, []];

      it.each(BAD_TIMESTAMPS.map((t) => [JSON.stringify(t), t] as const))('refuses the event timestamp %s on every route that takes one', async (_label, timestamp) => {
        const saved = json(await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, trigger: { eventName: 'time.test' } } }));
        const answers = [
          await call({ method: 'POST', url: '/events', payload: { name: 'time.test', payload: doneJobPayload, timestamp } }),
          await call({ method: 'POST', url: '/rules/validate', payload: { rule: technicianSmsRule, sample: { payload: doneJobPayload, timestamp } } }),
          await call({ method: 'POST', url: `/rules/${saved['id']}/test`, payload: { payload: doneJobPayload, timestamp } }),
        ];
        for (const response of answers) {
          expect(response.statusCode, response.body).toBe(400);
          expect(json(response)['error']['code'], response.body).toBe('CRM_ERR_EVENT_INVALID');
          // The same issue code and path core gives in-process: the HTTP schema does not read timestamps itself.
          expect(['invalid_timestamp', 'timestamp_out_of_range']).toContain(json(response)['error']['issues'][0]['code']);
          expect(json(response)['error']['issues'][0]['path']).toMatch(/(^|\.)timestamp$/);
        }
        expect(json(await call({ url: '/triggers?limit=500' }))['items'].filter((t: { triggeringEvent: { name: string } }) => t.triggeringEvent.name === 'time.test')).toEqual([]);
      });

      it('reads every timestamp spelling core reads in-process, to the same instant', async () => {
        await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, trigger: { eventName: 'time.spelling' } } });
        const at = new Date(Math.floor(now / 1000) * 1000 - 60_000);
        const spellings: unknown[] = [at.toISOString(), at.toISOString().slice(0, 19), at.toUTCString(), at.getTime(), at.toISOString().replace('T', 't').replace('Z', 'z')];
        const due = new Set<string>();
        for (const [i, timestamp] of spellings.entries()) {
          const response = await call({ method: 'POST', url: '/events', payload: { name: 'time.spelling', id: `spelling-${i}`, payload: doneJobPayload, timestamp } });
          expect(response.statusCode, `${JSON.stringify(timestamp)}: ${response.body}`).toBe(202);
          for (const trigger of json(response)['triggers'] as { evaluateAt: string }[]) due.add(trigger.evaluateAt);
        }
        expect([...due]).toEqual([new Date(at.getTime() + 5 * 60_000).toISOString()]);
      });

      // Built as text: JSON.stringify itself recurses and cannot write 10,000 levels.
      const DEEP = '__deep__';
      const deepJson = (depth: number) => {
        let open = '';
        let close = '';
        for (let i = 0; i < depth; i++) {
          open += i % 2 ? '[' : '{"a":';
          close = (i % 2 ? ']' : '}') + close;
        }
        return `${open}1${close}`;
      };
      const withDeep = (value: unknown, depth: number) => ({
        payload: JSON.stringify(value).replace(`"${DEEP}"`, deepJson(depth)),
        headers: { 'content-type': 'application/json' },
      });

      it.each([65, 100, 2_500, 10_000])('refuses JSON %d levels deep on every route with a body, with a typed code and a path', async (depth) => {
        const saved = json(await call({ method: 'POST', url: '/rules', payload: technicianSmsRule }));
        const cases: Array<[InjectOptions, string[]]> = [
          [{ method: 'POST', url: '/rules', ...withDeep({ ...technicianSmsRule, conditions: { all: [{ fact: 'job', operator: 'equal', value: DEEP }] } }, depth) }, ['CRM_ERR_RULE_INVALID']],
          [{ method: 'POST', url: '/rules', ...withDeep(DEEP, depth) }, ['CRM_ERR_RULE_INVALID']],
          [{ method: 'PUT', url: `/rules/${saved['id']}`, ...withDeep({ ...technicianSmsRule, extra: DEEP }, depth) }, ['CRM_ERR_RULE_INVALID']],
          [{ method: 'POST', url: '/events', ...withDeep({ name: 'deep.test', payload: { x: DEEP } }, depth) }, ['CRM_ERR_EVENT_INVALID']],
          [{ method: 'POST', url: `/rules/${saved['id']}/test`, ...withDeep({ payload: { x: DEEP } }, depth) }, ['CRM_ERR_EVENT_INVALID', 'CRM_ERR_HTTP_BAD_REQUEST']],
          [{ method: 'POST', url: '/rules/validate', ...withDeep({ rule: technicianSmsRule, sample: { payload: { x: DEEP } } }, depth) }, ['CRM_ERR_EVENT_INVALID', 'CRM_ERR_HTTP_BAD_REQUEST']],
        ];
        for (const [request, codes] of cases) {
          const response = await call(request);
          expect(response.statusCode, `${request.method} ${request.url}: ${response.body.slice(0, 200)}`).toBe(400);
          const error = json(response)['error'];
          expect(codes).toContain(error['code']);
          expect(error['issues'][0]['code']).toBe('too_deep');
          expect(error['issues'][0]['path'].length).toBeGreaterThan(0);
        }
        const validated = await call({ method: 'POST', url: '/rules/validate', ...withDeep({ rule: { ...technicianSmsRule, conditions: DEEP } }, depth) });
        expect(validated.statusCode === 400 || json(validated)['valid'] === false).toBe(true);
      });
    });

    describe('deliveries', () => {
      /** One run of an SMS rule on a fresh event; answers the trigger's id. */
      const runOnce = async (eventId: string, failure?: Error): Promise<string> => {
        const accepted = json(await call({ method: 'POST', url: '/events', payload: { name: 'delivery.test', payload: doneJobPayload, id: eventId } }));
        const triggerId = accepted['triggers'][0]['id'] as string;
        if (failure) sms.failNext(failure);
        await clock.advance(5 * 60_000);
        await runner.runDue();
        return triggerId;
      };
      const timedOut = () => new GatewayError('twilio: no answer within 5000 ms', { provider: 'twilio', retryable: true, ambiguous: true });

      it('lists, filters and shows the sends of a run, reachable from the trigger', async () => {
        await call({ method: 'POST', url: '/rules', payload: { ...technicianSmsRule, trigger: { eventName: 'delivery.test' } } });
        const triggerId = await runOnce('dlv-1');
        const ofTrigger = await call({ url: `/triggers/${triggerId}/deliveries` });
        expect(ofTrigger.statusCode, ofTrigger.body).toBe(200);
        const [delivery, ...others] = json(ofTrigger)['items'];
        expect(others).toEqual([]);
        expect(delivery).toMatchObject({ accountId: A, triggerId, actionIndex: 0, attempt: 1, type: 'sms', state: 'accepted', recipient: '+15557654321', dedupes: false });
        expect(delivery['providerId']).toMatch(/^rec_\d+$/);
        expect(delivery['events'].map((e: { state: string }) => e.state)).toEqual(['intent', 'accepted']);
        // The run view's history names the same send.
        const trigger = json(await call({ url: `/triggers/${triggerId}` }));
        expect(trigger['executionHistory'].at(-1)['actions'][0]['deliveryId']).toBe(delivery['id']);

        expect(json(await call({ url: `/deliveries/${delivery['id']}` }))).toEqual(delivery);
        expect(json(await call({ url: `/deliveries?triggerId=${triggerId}` }))['items']).toEqual([delivery]);
        expect(json(await call({ url: `/deliveries?triggerId=${triggerId}&state=accepted,delivered&recipient=%2B15557654321&providerId=${delivery['providerId']}&provider=${delivery['provider']}` }))['items']).toEqual([delivery]);
        expect(json(await call({ url: `/deliveries?triggerId=${triggerId}&state=unknown` }))['items']).toEqual([]);
        expect(json(await call({ url: `/deliveries?triggerId=${triggerId}&provider=nobody` }))['items']).toEqual([]);
        // A read-only key reads them.
        expect((await call({ url: `/deliveries/${delivery['id']}`, key: readOnly.key })).statusCode).toBe(200);

        const second = await runOnce('dlv-2');
        const page1 = json(await call({ url: '/deliveries?limit=1' }));
        expect(page1['items']).toHaveLength(1);
        expect(page1['items'][0]['triggerId']).toBe(second);
        const page2 = json(await call({ url: `/deliveries?limit=1&cursor=${encodeURIComponent(page1['nextCursor'])}` }));
        expect(page2['items'][0]['id']).not.toBe(page1['items'][0]['id']);
      });

      it('answers missing deliveries and triggers as 404, and bad filters as 400 with the parameter', async () => {
        const missing = await call({ url: '/deliveries/0123456789abcdef01234567' });
        expect(missing.statusCode).toBe(404);
        expect(json(missing)['error']['code']).toBe('CRM_ERR_HTTP_DELIVERY_NOT_FOUND');
        const noTrigger = await call({ url: '/triggers/0123456789abcdef01234567/deliveries' });
        expect(noTrigger.statusCode).toBe(404);
        expect(json(noTrigger)['error']['code']).toBe('CRM_ERR_TRIGGER_NOT_FOUND');
        const resolveMissing = await call({ method: 'POST', url: '/deliveries/0123456789abcdef01234567/resolve', payload: { as: 'sent' } });
        expect(resolveMissing.statusCode).toBe(404);
        for (const query of ['state=exploded', 'limit=0', 'limit=501', 'sort=id', `recipient=${'x'.repeat(400)}`]) {
          const bad = await call({ url: `/deliveries?${query}` });
          expect(bad.statusCode, query).toBe(400);
          expect(json(bad)['error']['code']).toBe('CRM_ERR_HTTP_BAD_REQUEST');
          expect(json(bad)['error']['issues'][0]['path']).toMatch(/^query/);
        }
      });

      it('resolves an unknown send as sent, once, with the write scope', async () => {
        const triggerId = await runOnce('dlv-3', timedOut());
        const [unknown] = json(await call({ url: `/triggers/${triggerId}/deliveries` }))['items'];
        expect(unknown).toMatchObject({ state: 'unknown', error: { code: 'CRM_ERR_GATEWAY' } });
        expect(json(await call({ url: '/deliveries?state=unknown' }))['items'].map((d: { id: string }) => d.id)).toContain(unknown['id']);

        const readOnlyTry = await call({ method: 'POST', url: `/deliveries/${unknown['id']}/resolve`, payload: { as: 'sent' }, key: readOnly.key });
        expect(readOnlyTry.statusCode).toBe(403);
        for (const payload of [{ as: 'delivered' }, {}, { as: 'sent', note: 'x'.repeat(501) }, { as: 'sent', by: 'someone else' }]) {
          const bad = await call({ method: 'POST', url: `/deliveries/${unknown['id']}/resolve`, payload });
          expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
          expect(json(bad)['error']['issues'][0]['path']).toMatch(/^body/);
        }
        expect(json(await call({ url: `/deliveries/${unknown['id']}` }))['state']).toBe('unknown');

        const resolved = await call({ method: 'POST', url: `/deliveries/${unknown['id']}/resolve`, payload: { as: 'sent', note: 'Twilio console shows it' } });
        expect(resolved.statusCode, resolved.body).toBe(200);
        expect(json(resolved)).toMatchObject({ id: unknown['id'], state: 'accepted' });
        expect(json(resolved)['events'].at(-1)).toMatchObject({ state: 'accepted', source: 'operator' });
        const again = await call({ method: 'POST', url: `/deliveries/${unknown['id']}/resolve`, payload: { as: 'resend' } });
        expect(again.statusCode).toBe(409);
        expect(json(again)['error']['code']).toBe('CRM_ERR_HTTP_DELIVERY_STATE');
        await runner.runDue();
        expect(sms.sent.filter((c) => c.metadata.triggerId === triggerId)).toHaveLength(0);
      });

      it('resolves an unknown send as resend: the action goes out again, once', async () => {
        const triggerId = await runOnce('dlv-4', timedOut());
        const [unknown] = json(await call({ url: `/triggers/${triggerId}/deliveries` }))['items'];
        const resolved = await call({ method: 'POST', url: `/deliveries/${unknown['id']}/resolve`, payload: { as: 'resend' } });
        expect(resolved.statusCode, resolved.body).toBe(200);
        expect(json(resolved)['state']).toBe('abandoned');
        await runner.runDue();
        await runner.runDue();
        expect(sms.sent.filter((c) => c.metadata.triggerId === triggerId)).toHaveLength(1);
        const sends = json(await call({ url: `/triggers/${triggerId}/deliveries` }))['items'];
        expect(sends.map((d: { state: string }) => d.state)).toEqual(['abandoned', 'accepted']);
      });

      it("tenant isolation: B sees none of A's deliveries and cannot resolve them", async () => {
        const triggerId = await runOnce('dlv-5', timedOut());
        const [unknown] = json(await call({ url: `/triggers/${triggerId}/deliveries` }))['items'];
        const missingId = '0123456789abcdef01234567';
        for (const make of [(id: string) => ({ url: `/deliveries/${id}` }), (id: string) => ({ method: 'POST' as const, url: `/deliveries/${id}/resolve`, payload: { as: 'resend' } })]) {
          const onA = await call({ ...make(unknown['id']), key: keyB.key });
          const onMissing = await call({ ...make(missingId), key: keyB.key });
          expect(onA.statusCode).toBe(404);
          expect(onA.body.replaceAll(unknown['id'], 'ID')).toBe(onMissing.body.replaceAll(missingId, 'ID'));
        }
        expect((await call({ url: `/triggers/${triggerId}/deliveries`, key: keyB.key })).statusCode).toBe(404);
        for (const url of ['/deliveries', `/deliveries?triggerId=${triggerId}`, '/deliveries?state=unknown']) {
          const body = (await call({ url, key: keyB.key })).body;
          expect(body).not.toContain(unknown['id']);
          expect(body).not.toContain(triggerId);
        }
        expect(json(await call({ url: `/deliveries/${unknown['id']}` }))['state']).toBe('unknown');
      });
    });

    describeEntityRoutes({ call, clock, runner: () => runner, currentJobs });
    describeScheduleRoutes({ call, clock });
    describeContactRoutes({
      call,
      keys: { otherAccount: keyB.key, readOnly: readOnly.key },
      storeKeepsContactPolicy: () => typeof (fixture.store as Partial<Record<'findSuppression' | 'getContactPolicy', unknown>>).findSuppression === 'function',
    });

    describe('OpenAPI', () => {
      it('serves a 3.1 document and every real response so far validates against it', async () => {
        const doc = json(await call({ url: '/openapi.json', key: null }));
        expect(doc['openapi']).toBe('3.1.0');
        expect((await call({ url: '/healthz', key: null })).statusCode).toBe(200);
        const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
        addFormats(ajv);
        ajv.addSchema(doc, 'openapi');
        const documented = new Set<string>();
        const validators = new Map<string, ReturnType<typeof ajv.compile>>();
        let checked = 0;
        for (const { method, url, response } of responses) {
          const path = url.split('?')[0] ?? url;
          const template = Object.keys(doc['paths']).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path) && doc['paths'][p][method.toLowerCase()]);
          if (!template) {
            expect(response.statusCode, `${method} ${url} is not in the document`).toBe(404);
            continue;
          }
          const operation = doc['paths'][template][method.toLowerCase()];
          const documentedResponse = operation['responses'][String(response.statusCode)];
          expect(documentedResponse, `${method} ${template} ${response.statusCode} is not documented`).toBeDefined();
          documented.add(`${method} ${template}`);
          if (String(response.headers['content-type']).startsWith('text/csv')) {
            expect(documentedResponse['content']?.['text/csv'], `${method} ${template} ${response.statusCode} answers CSV undocumented`).toBeDefined();
            continue;
          }
          const schema = documentedResponse['content']?.['application/json']?.['schema'];
          if (!schema) continue;
          const pointer = ['paths', template, method.toLowerCase(), 'responses', String(response.statusCode), 'content', 'application/json', 'schema']
            .map((seg) => encodeURIComponent(seg.replaceAll('~', '~0').replaceAll('/', '~1')))
            .join('/');
          // One compiled validator per documented answer: compiling is most of this test's time.
          const validate = validators.get(pointer) ?? ajv.compile({ $ref: `openapi#/${pointer}` });
          validators.set(pointer, validate);
          const valid = validate(response.json());
          expect(valid, `${method} ${url} ${response.statusCode}: ${ajv.errorsText(validate.errors)}`).toBe(true);
          checked += 1;
        }
        expect(checked).toBeGreaterThan(40);
        const allOperations = Object.entries(doc['paths'] as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
        expect(allOperations.filter((op) => !documented.has(op))).toEqual([]);
      });
    });
  });
}
