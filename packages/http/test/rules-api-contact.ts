/**
 * The Rules API's part of the contact policy (issue 18): the account's policy and its suppression
 * list, through HTTP. Runs inside the Rules API suite (both topologies), so every JSON answer here is
 * also checked against the OpenAPI document by the suite's last test. A store that keeps no contact
 * policy yet (the Mongo store until its adapter has one) answers every route with CRM_ERR_CONFIG, and
 * that is what is checked for it.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { json, type Json, type RulesApiCall } from './support/rules-api-calls.js';

export interface ContactRoutesContext {
  call: RulesApiCall;
  /** Keys of another account, and of this account with read scopes only. */
  keys: { otherAccount: string; readOnly: string };
  /** Whether the suite's store keeps contact policies and suppressions. */
  storeKeepsContactPolicy: () => boolean;
}


const CLIENT = '+15557654321';

/** A policy as the example has it: texts held 21:00–08:00 in the client's zone, three a day. */
const policy = {
  channels: {
    sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.job.client.timeZone', fallbackTimeZone: 'America/New_York' }, caps: [{ max: 3, per: 'day' }], overCap: 'defer' },
    email: { caps: [{ max: 1, per: 'hour' }, { max: 5, per: 'week' }] },
  },
};

/** Parses the CSV the export answers (no field of these tests holds a quote or a line break). */
function csvRows(text: string): string[][] {
  expect(text.endsWith('\r\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\r\n')
    .map((line) => line.split(','));
}

export function describeContactRoutes(ctx: ContactRoutesContext): void {
  const { call, keys } = ctx;

  describe('contact policy and suppressions', () => {
    it('without a store that keeps them, every route says so (CRM_ERR_CONFIG) and nothing else happens', async (test) => {
      if (ctx.storeKeepsContactPolicy()) {
        // The other tests of this block cover a store that keeps them; this one is about one that does not.
        test.annotate('the store keeps a contact policy: covered by the tests below');
        return;
      }
      const requests: Array<InjectOptions> = [
        { url: '/contact-policy' },
        { method: 'PUT', url: '/contact-policy', payload: policy },
        { url: '/suppressions' },
        { url: '/suppressions/changes' },
        { url: `/suppressions/sms/${CLIENT}` },
        { method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: {} },
        { method: 'DELETE', url: `/suppressions/sms/${CLIENT}` },
      ];
      for (const request of requests) {
        const answer = await call(request);
        expect(answer.statusCode, `${request.method ?? 'GET'} ${request.url}`).toBe(400);
        expect(json(answer)).toMatchObject({ error: { code: 'CRM_ERR_CONFIG' } });
      }
    });

    it("documents the policy body with the engine's own schema: what PUT takes validates, what it refuses does not", async () => {
      const doc = json(await call({ url: '/openapi.json', key: null }));
      const body = doc['paths']['/contact-policy']['put']['requestBody']['content']['application/json']['schema'];
      expect(body).toEqual({ $ref: '#/components/schemas/ContactPolicyDocument' });
      const ajv = new Ajv2020({ strict: false, validateSchema: false });
      ajv.addSchema(doc, 'openapi');
      const validate = ajv.compile({ $ref: 'openapi#/components/schemas/ContactPolicyDocument' });
      expect(validate(policy), ajv.errorsText(validate.errors)).toBe(true);
      expect(validate({ channels: { sms: { caps: [{ max: 0, per: 'day' }] } } })).toBe(false);
      expect(validate({ channels: { sms: { quietHours: { from: '21:00', to: '08:00' }, colour: 'red' } } })).toBe(false);
    });

    describe('with a store that keeps them', () => {
      /** Runs `body` only over a store that keeps a contact policy; the test above covers the others. */
      const withStore = (name: string, body: () => Promise<void>) =>
        it(name, async (test) => {
          if (!ctx.storeKeepsContactPolicy()) {
            test.annotate('the store keeps no contact policy: covered by the CRM_ERR_CONFIG test');
            return;
          }
          await body();
        });

      withStore('the policy: version 0 before any, replaced with If-Match, read back, per account', async () => {
        const before = await call({ url: '/contact-policy' });
        expect(before.statusCode, before.body).toBe(200);
        expect(json(before)).toEqual({ accountId: 'acc_A', channels: {}, version: 0 });
        expect(before.headers['etag']).toBe('"0"');

        const put = await call({ method: 'PUT', url: '/contact-policy', payload: policy, headers: { 'if-match': '"0"' } });
        expect(put.statusCode, put.body).toBe(200);
        expect(json(put)).toMatchObject({ accountId: 'acc_A', version: 1, channels: policy.channels });
        expect(put.headers['etag']).toBe('"1"');

        const read = await call({ url: '/contact-policy' });
        expect(json(read)).toMatchObject({ version: 1, channels: policy.channels });
        expect(typeof json(read)['updatedAt']).toBe('string');

        // Written at a version that is no longer current: refused, the policy unchanged.
        const stale = await call({ method: 'PUT', url: '/contact-policy', payload: { channels: {} }, headers: { 'if-match': '"0"' } });
        expect(stale.statusCode, stale.body).toBe(409);
        expect(json(stale)).toMatchObject({ error: { code: 'CRM_ERR_VERSION_CONFLICT' } });
        // A document read by GET, edited and sent back: its own version is the precondition.
        const edited = { ...json(read), channels: { sms: { caps: [{ max: 2, per: 'day' }] } } };
        const replaced = await call({ method: 'PUT', url: '/contact-policy', payload: edited });
        expect(replaced.statusCode, replaced.body).toBe(200);
        expect(json(replaced)).toMatchObject({ version: 2, channels: { sms: { caps: [{ max: 2, per: 'day' }] } } });
        expect(json(replaced)['channels']['email']).toBeUndefined();
        expect((await call({ method: 'PUT', url: '/contact-policy', payload: edited })).statusCode).toBe(409);

        // Another account has its own (none yet).
        expect(json(await call({ url: '/contact-policy', key: keys.otherAccount }))).toEqual({ accountId: 'acc_B', channels: {}, version: 0 });
        // Reading needs rules:read, writing rules:write.
        expect((await call({ url: '/contact-policy', key: keys.readOnly })).statusCode).toBe(200);
        const forbidden = await call({ method: 'PUT', url: '/contact-policy', payload: policy, key: keys.readOnly });
        expect(forbidden.statusCode).toBe(403);
        expect(json(await call({ url: '/contact-policy' }))['version']).toBe(2);
        expect((await call({ url: '/contact-policy', key: null })).statusCode).toBe(401);
      });

      withStore('a policy that does not validate is 400 CRM_ERR_POLICY_INVALID with every issue at its path, and changes nothing', async () => {
        const version = json(await call({ url: '/contact-policy' }))['version'] as number;
        const invalid = {
          channels: {
            sms: { quietHours: { from: '9pm', to: '08:00', timeZone: 'Mars/Olympus_Mons' }, caps: [{ max: 0, per: 'day' }] },
            webhook: { caps: [{ max: 1, per: 'hour' }] },
          },
        };
        const answer = await call({ method: 'PUT', url: '/contact-policy', payload: invalid });
        expect(answer.statusCode, answer.body).toBe(400);
        const body = json(answer);
        expect(body['error']['code']).toBe('CRM_ERR_POLICY_INVALID');
        const paths = (body['error']['issues'] as Json[]).map((i) => i['path']);
        expect(paths).toEqual(expect.arrayContaining(['channels.sms.quietHours.from', 'channels.sms.quietHours.timeZone', 'channels.sms.caps[0].max', 'channels.webhook.caps']));
        expect(body['error']['issues']).toContainEqual(expect.objectContaining({ path: 'channels.webhook.caps', code: 'not_a_person' }));
        for (const payload of [[], 'text', { channels: { sms: { caps: 'three' } } }, { chanels: {} }]) {
          const refused = await call({ method: 'PUT', url: '/contact-policy', payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
          expect(refused.statusCode, JSON.stringify(payload)).toBe(400);
          expect(json(refused)['error']['code']).toBe('CRM_ERR_POLICY_INVALID');
        }
        const badIfMatch = await call({ method: 'PUT', url: '/contact-policy', payload: policy, headers: { 'if-match': 'yesterday' } });
        expect(badIfMatch.statusCode).toBe(400);
        expect(json(badIfMatch)['error']['code']).toBe('CRM_ERR_HTTP_PRECONDITION');
        expect(json(await call({ url: '/contact-policy' }))['version']).toBe(version);
      });

      withStore('suppressions: add (201, then 200 as already there), look up, list, lift; per account; who and why kept', async () => {
        const added = await call({ method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: { reason: 'stop', detail: 'said STOP on the phone' } });
        expect(added.statusCode, added.body).toBe(201);
        expect(json(added)).toMatchObject({ created: true, suppression: { accountId: 'acc_A', channel: 'sms', recipient: CLIENT, reason: 'stop', source: 'api', detail: 'said STOP on the phone' } });
        expect(json(added)['suppression']['by']).toMatch(/^api:/);
        const again = await call({ method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: {} });
        expect(again.statusCode).toBe(200);
        expect(json(again)).toMatchObject({ created: false, suppression: { reason: 'stop' } });

        // Email addresses are kept lower-cased, and found however they are written; no body means `manual`.
        const email = await call({ method: 'PUT', url: '/suppressions/email/Manager@CRM.example' });
        expect(email.statusCode, email.body).toBe(201);
        expect(json(email)['suppression']).toMatchObject({ recipient: 'manager@crm.example', reason: 'manual' });
        expect(json(await call({ url: '/suppressions/email/MANAGER@crm.example' }))).toMatchObject({ channel: 'email', recipient: 'manager@crm.example', suppressed: true, suppression: { reason: 'manual' } });

        const lookup = json(await call({ url: `/suppressions/sms/${encodeURIComponent(CLIENT)}` }));
        expect(lookup).toMatchObject({ channel: 'sms', recipient: CLIENT, suppressed: true, suppression: { reason: 'stop', source: 'api' } });
        // Suppressed on sms is not suppressed on email.
        expect(json(await call({ url: `/suppressions/email/client@crm.example` }))).toEqual({ channel: 'email', recipient: 'client@crm.example', suppressed: false });

        const all = json(await call({ url: '/suppressions' }));
        expect((all['items'] as Json[]).map((s) => `${s['channel']}:${s['recipient']}`).sort()).toEqual(['email:manager@crm.example', `sms:${CLIENT}`]);
        expect((json(await call({ url: '/suppressions?channel=sms' }))['items'] as Json[]).map((s) => s['recipient'])).toEqual([CLIENT]);
        const first = json(await call({ url: '/suppressions?limit=1' }));
        expect(first['items']).toHaveLength(1);
        expect(typeof first['nextCursor']).toBe('string');
        const second = json(await call({ url: `/suppressions?limit=1&cursor=${encodeURIComponent(first['nextCursor'])}` }));
        expect(second['items']).toHaveLength(1);
        expect(second['items'][0]['recipient']).not.toBe(first['items'][0]['recipient']);

        // Another account sees none of it and cannot lift it.
        expect(json(await call({ url: '/suppressions', key: keys.otherAccount }))['items']).toEqual([]);
        expect(json(await call({ url: `/suppressions/sms/${CLIENT}`, key: keys.otherAccount }))['suppressed']).toBe(false);
        expect(json(await call({ method: 'DELETE', url: `/suppressions/sms/${CLIENT}`, key: keys.otherAccount }))).toEqual({ removed: false });
        expect(json(await call({ url: `/suppressions/sms/${CLIENT}` }))['suppressed']).toBe(true);
        // Reading needs triggers:read, changing triggers:write.
        expect((await call({ url: '/suppressions', key: keys.readOnly })).statusCode).toBe(200);
        expect((await call({ method: 'PUT', url: '/suppressions/sms/+15550009999', payload: {}, key: keys.readOnly })).statusCode).toBe(403);
        expect((await call({ method: 'DELETE', url: `/suppressions/sms/${CLIENT}`, key: keys.readOnly })).statusCode).toBe(403);
        expect(json(await call({ url: '/suppressions/sms/+15550009999' }))['suppressed']).toBe(false);

        const lifted = await call({ method: 'DELETE', url: `/suppressions/sms/${CLIENT}?detail=${encodeURIComponent('asked to be texted again')}` });
        expect(lifted.statusCode, lifted.body).toBe(200);
        expect(json(lifted)).toEqual({ removed: true });
        expect(json(await call({ method: 'DELETE', url: `/suppressions/sms/${CLIENT}` }))).toEqual({ removed: false });
        expect(json(await call({ url: `/suppressions/sms/${CLIENT}` }))['suppressed']).toBe(false);

        // The audit export: every change, oldest first, with who, what and why.
        const changes = json(await call({ url: `/suppressions/changes?channel=sms&recipient=${encodeURIComponent(CLIENT)}` }));
        expect(changes['items']).toEqual([
          expect.objectContaining({ action: 'added', channel: 'sms', recipient: CLIENT, reason: 'stop', source: 'api', detail: 'said STOP on the phone', by: expect.stringMatching(/^api:/) }),
          expect.objectContaining({ action: 'removed', channel: 'sms', recipient: CLIENT, reason: 'manual', source: 'api', detail: 'asked to be texted again', by: expect.stringMatching(/^api:/) }),
        ]);
        expect((json(await call({ url: '/suppressions/changes' }))['items'] as Json[]).map((c) => `${c['action']} ${c['channel']}`)).toEqual(['added sms', 'added email', 'removed sms']);
        expect(json(await call({ url: '/suppressions/changes', key: keys.otherAccount }))['items']).toEqual([]);
      });

      withStore('the audit export as CSV (Accept: text/csv), a page at a time', async () => {
        const csv = await call({ url: '/suppressions/changes?channel=sms', headers: { accept: 'text/csv' } });
        expect(csv.statusCode, csv.body).toBe(200);
        expect(csv.headers['content-type']).toMatch(/^text\/csv/);
        const rows = csvRows(csv.body);
        expect(rows[0]).toEqual(['at', 'action', 'channel', 'recipient', 'reason', 'source', 'by', 'detail']);
        expect(rows.slice(1).map((r) => [r[1], r[2], r[3], r[4], r[5]])).toEqual([
          ['added', 'sms', CLIENT, 'stop', 'api'],
          ['removed', 'sms', CLIENT, 'manual', 'api'],
        ]);
        expect(new Date(rows[1]?.[0] ?? '').toISOString()).toBe(rows[1]?.[0]);
        const page = await call({ url: '/suppressions/changes?limit=1', headers: { accept: 'text/csv, application/json;q=0.5' } });
        expect(csvRows(page.body)).toHaveLength(2);
        const next = page.headers['x-next-cursor'];
        expect(typeof next).toBe('string');
        const rest = await call({ url: `/suppressions/changes?limit=10&cursor=${encodeURIComponent(String(next))}`, headers: { accept: 'text/csv' } });
        expect(csvRows(rest.body).slice(1).map((r) => r[1])).toEqual(['added', 'removed']);
        expect(rest.headers['x-next-cursor']).toBeUndefined();
        // JSON stays the default.
        expect(json(await call({ url: '/suppressions/changes?limit=1' }))['items']).toHaveLength(1);
      });

      withStore('a dry run says what the policy would do to each send: skipped (suppressed), or counted against the caps', async () => {
        const rule = { name: 'Text the client', trigger: { eventName: 'job.status.changed' }, delay: { value: 0, unit: 'minutes' }, conditions: { all: [] }, actions: [{ type: 'sms', params: { recipient: '{{job.client.phone}}', message: 'Job {{job.id}} is done' } }] };
        const dryRun = async (phone: string) => {
          const answer = await call({ method: 'POST', url: '/rules/validate', payload: { rule, sample: { name: 'job.status.changed', payload: { job: { id: 'j1', client: { phone, timeZone: 'America/New_York' } } } } } });
          expect(answer.statusCode, answer.body).toBe(200);
          return json(answer)['dryRun']['commands'][0]['contactPolicy'];
        };
        expect((await call({ method: 'PUT', url: '/suppressions/sms/+15550004444', payload: { reason: 'stop' } })).statusCode).toBe(201);
        expect(await dryRun('+15550004444')).toEqual({ outcome: 'skipped', reason: 'suppressed' });
        // The policy of the first test caps texts at 2 a day.
        expect(await dryRun('+15550005555')).toMatchObject({ outcome: 'counted', caps: [{ max: 2, per: 'day' }] });
        expect(json(await call({ method: 'DELETE', url: '/suppressions/sms/+15550004444' }))).toEqual({ removed: true });
      });

      withStore('records the interface a change came from: ui when the client says so, api by default; by is always the caller', async () => {
        const UI_CLIENT = '+15550006666';
        const added = await call({ method: 'PUT', url: `/suppressions/sms/${UI_CLIENT}`, payload: { reason: 'manual', source: 'ui', detail: 'asked on the phone' } });
        expect(added.statusCode, added.body).toBe(201);
        expect(json(added)['suppression']).toMatchObject({ recipient: UI_CLIENT, reason: 'manual', source: 'ui', by: expect.stringMatching(/^api:/) });
        expect(json(await call({ url: `/suppressions/sms/${UI_CLIENT}` }))['suppression']).toMatchObject({ source: 'ui' });
        const lifted = await call({ method: 'DELETE', url: `/suppressions/sms/${UI_CLIENT}?source=ui&detail=${encodeURIComponent('lifted in the Management UI')}` });
        expect(json(lifted)).toEqual({ removed: true });
        // The same recipient again, without a source: the API's.
        expect((await call({ method: 'PUT', url: `/suppressions/sms/${UI_CLIENT}`, payload: { source: 'api' } })).statusCode).toBe(201);
        expect(json(await call({ method: 'DELETE', url: `/suppressions/sms/${UI_CLIENT}` }))).toEqual({ removed: true });
        const changes = json(await call({ url: `/suppressions/changes?channel=sms&recipient=${encodeURIComponent(UI_CLIENT)}` }))['items'] as Json[];
        expect(changes.map((c) => [c['action'], c['source']])).toEqual([
          ['added', 'ui'],
          ['removed', 'ui'],
          ['added', 'api'],
          ['removed', 'api'],
        ]);
        for (const change of changes) expect(change['by'], JSON.stringify(change)).toMatch(/^api:/);
        // `by` is the credential's, whatever the body says.
        const spoofed = await call({ method: 'PUT', url: `/suppressions/sms/${UI_CLIENT}`, payload: { source: 'ui', by: 'someone-else' } });
        expect(spoofed.statusCode).toBe(400);
        expect((json(spoofed)['error']['issues'] as Json[]).map((i) => i['path'])).toEqual(['body']);
        expect(json(await call({ url: `/suppressions/sms/${UI_CLIENT}` }))['suppressed']).toBe(false);
      });

      withStore('refuses what cannot be a recipient, a channel without a person, and bad queries and bodies (400, with paths)', async () => {
        const refusals: Array<[InjectOptions, string, string]> = [
          [{ method: 'PUT', url: '/suppressions/sms/5557654321', payload: {} }, 'CRM_ERR_POLICY_INVALID', 'recipient'],
          [{ method: 'PUT', url: '/suppressions/email/not-an-address', payload: {} }, 'CRM_ERR_POLICY_INVALID', 'recipient'],
          [{ method: 'PUT', url: '/suppressions/webhook/hooks.example.com', payload: {} }, 'CRM_ERR_POLICY_INVALID', 'channel'],
          [{ url: '/suppressions/sms/not-a-number' }, 'CRM_ERR_POLICY_INVALID', 'recipient'],
          [{ method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: { reason: 'annoyed' } }, 'CRM_ERR_HTTP_BAD_REQUEST', 'body.reason'],
          // A client says which of our interfaces it is, never that a provider, the CLI or the engine made the change.
          [{ method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: { reason: 'stop', source: 'engine' } }, 'CRM_ERR_HTTP_BAD_REQUEST', 'body.source'],
          [{ method: 'PUT', url: `/suppressions/sms/${CLIENT}`, payload: { source: 'inbound-sms' } }, 'CRM_ERR_HTTP_BAD_REQUEST', 'body.source'],
          [{ method: 'DELETE', url: `/suppressions/sms/${CLIENT}?source=cli` }, 'CRM_ERR_HTTP_BAD_REQUEST', 'query.source'],
          [{ method: 'DELETE', url: `/suppressions/sms/${CLIENT}?reason=whatever` }, 'CRM_ERR_HTTP_BAD_REQUEST', 'query.reason'],
          [{ url: '/suppressions?limit=0' }, 'CRM_ERR_HTTP_BAD_REQUEST', 'query.limit'],
          [{ url: '/suppressions?colour=red' }, 'CRM_ERR_HTTP_BAD_REQUEST', 'query'],
          [{ url: '/suppressions/changes?limit=501' }, 'CRM_ERR_HTTP_BAD_REQUEST', 'query.limit'],
          [{ url: `/suppressions/${'x'.repeat(51)}/${CLIENT}` }, 'CRM_ERR_HTTP_BAD_REQUEST', 'params.channel'],
        ];
        for (const [request, code, path] of refusals) {
          const answer = await call(request);
          const name = `${request.method ?? 'GET'} ${request.url}`;
          expect(answer.statusCode, `${name}: ${answer.body}`).toBe(400);
          expect(json(answer)['error']['code'], name).toBe(code);
          expect((json(answer)['error']['issues'] as Json[]).map((i) => i['path']), name).toContain(path);
        }
        expect(json(await call({ url: '/suppressions' }))['items'].map((s: Json) => s['recipient'])).toEqual(['manager@crm.example']);
      });
    });
  });
}
