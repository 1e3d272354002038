import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { createMemoryIdempotencyStore, createRecordingChannel, GatewayError, type ActionCommand, type RecordingChannel } from '@crm-automation/core';
import { createHash } from 'node:crypto';
import { buildNotificationApp, createNotificationService, notificationRoutes } from '@crm-automation/http';

const TOKEN = 'svc-token-0123456789abcdef';
const NEXT_TOKEN = 'svc-token-next-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

// The design doc's example request body (POST /api/v1/sms).
const designDocSms = {
  recipient: '+15557654321',
  message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.',
  metadata: { source: 'automation-engine', ruleId: '64a5b8e8f1b2c3d4e5f6a7b1', triggerId: '75b6c9f9g2c3d4e5f6a7b2c2', accountId: 'acc_12345' },
};

describe('Notification Service routes', () => {
  let app: FastifyInstance;
  let sms: RecordingChannel;
  let email: RecordingChannel;
  let webhook: RecordingChannel;

  beforeEach(async () => {
    sms = createRecordingChannel({ respond: (_c, n) => ({ provider: 'twilio', id: `SM${n}` }) });
    email = createRecordingChannel();
    webhook = createRecordingChannel();
    app = await buildNotificationApp({
      channels: { sms, email, webhook },
      idempotency: createMemoryIdempotencyStore(),
      auth: { tokens: [TOKEN, NEXT_TOKEN] },
      bodyLimit: 8 * 1024,
    });
  });
  afterEach(() => app.close());

  const post = (path: string, payload: unknown, headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  it('sends the design doc request body and answers 200 with the provider result', async () => {
    const res = await post('/api/v1/sms', designDocSms);
    expect(res.statusCode).toBe(200);
    // Without actionIndex the action part of the key is a digest of the params.
    // Keys sorted: the canonical JSON of the params, written out here independently of the service.
    const canonical = `{"message":${JSON.stringify(designDocSms.message)},"recipient":"+15557654321"}`;
    const digest = createHash('sha256').update(canonical).digest('hex').slice(0, 32);
    const key = `75b6c9f9g2c3d4e5f6a7b2c2:p${digest}`;
    expect(res.json()).toEqual({ result: { provider: 'twilio', id: 'SM1' }, idempotencyKey: key, replayed: false });
    expect(sms.sent).toHaveLength(1);
    const command = sms.sent[0] as ActionCommand;
    expect(command.type).toBe('sms');
    expect(command.params).toEqual({ recipient: '+15557654321', message: designDocSms.message });
    expect(command.metadata).toEqual({ ...designDocSms.metadata, actionIndex: 0, idempotencyKey: key });
  });

  it('a replay returns the stored result without calling the provider again', async () => {
    const body = { ...designDocSms, metadata: { ...designDocSms.metadata, actionIndex: 1, idempotencyKey: 'trg_9:1' } };
    const first = await post('/api/v1/sms', body);
    const second = await post('/api/v1/sms', body);
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual({ ...first.json(), replayed: true });
    expect(sms.calls).toHaveLength(1);
  });

  it('falls back to triggerId:actionIndex, and to the Idempotency-Key header', async () => {
    const indexed = { ...designDocSms, metadata: { ...designDocSms.metadata, actionIndex: 3 } };
    expect((await post('/api/v1/sms', indexed)).json().idempotencyKey).toBe('75b6c9f9g2c3d4e5f6a7b2c2:3');
    const viaHeader = await post('/api/v1/sms', designDocSms, { ...auth, 'idempotency-key': 'from-header' });
    expect(viaHeader.json().idempotencyKey).toBe('from-header');
    const conflicting = await post('/api/v1/sms', { ...designDocSms, metadata: { ...designDocSms.metadata, idempotencyKey: 'a' } }, { ...auth, 'idempotency-key': 'b' });
    expect(conflicting.statusCode).toBe(400);
    expect(conflicting.json().error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
  });

  it('a command in flight elsewhere answers 503 with Retry-After, and the provider is called once', async () => {
    let release: () => void = () => {};
    const slow = createRecordingChannel({ respond: () => new Promise((resolve) => (release = () => resolve({ id: 'slow' }))) });
    const slowApp = await buildNotificationApp({ channels: { sms: slow }, auth: { tokens: [TOKEN] } });
    const inject = () => slowApp.inject({ method: 'POST', url: '/api/v1/sms', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(designDocSms) });
    const first = inject();
    while (slow.calls.length === 0) await new Promise((r) => setImmediate(r));
    const second = await inject();
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json().error).toMatchObject({ code: 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT', retryable: true });
    release();
    expect((await first).statusCode).toBe(200);
    expect((await inject()).json()).toMatchObject({ result: { id: 'slow' }, replayed: true });
    expect(slow.calls).toHaveLength(1);
    await slowApp.close();
  });

  it('a transient gateway failure answers 503 with the provider Retry-After, and a retry sends', async () => {
    sms.failNext(new GatewayError('twilio answered 429: Too Many Requests (code 20429)', { provider: 'twilio', status: 429, providerCode: 20429, retryable: true, retryAfterMs: 30_500 }));
    const res = await post('/api/v1/sms', designDocSms);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('31');
    expect(res.json()).toEqual({
      error: {
        code: 'CRM_ERR_GATEWAY',
        message: 'twilio answered 429: Too Many Requests (code 20429)',
        retryable: true,
        provider: 'twilio',
        providerCode: 20429,
        providerStatus: 429,
        retryAfterMs: 30_500,
      },
    });
    expect((await post('/api/v1/sms', designDocSms)).statusCode).toBe(200);
    expect(sms.sent).toHaveLength(1);
  });

  it('a permanent gateway failure answers 422 with the provider error', async () => {
    sms.failNext(new GatewayError("twilio answered 400: Invalid 'To' Phone Number (code 21211)", { provider: 'twilio', status: 400, providerCode: 21211, response: '{"code":21211}' }));
    const res = await post('/api/v1/sms', designDocSms);
    expect(res.statusCode).toBe(422);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.json().error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 21211, providerStatus: 400, response: '{"code":21211}' });
  });

  it('an unexpected gateway error is permanent (core semantics) without leaking a stack', async () => {
    sms.failNext(new TypeError('boom'));
    const res = await post('/api/v1/sms', designDocSms);
    expect(res.statusCode).toBe(422);
    expect(res.body).not.toContain('at ');
  });

  describe('401', () => {
    it.each([
      ['no header', {}],
      ['a wrong token', { authorization: 'Bearer not-the-token-at-all' }],
      ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ['basic auth', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ])('refuses %s before reading the body, with a challenge', async (_name, headers) => {
      const res = await post('/api/v1/sms', designDocSms, headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="notifications"/);
      expect(res.json().error.code).toBe('CRM_ERR_HTTP_UNAUTHENTICATED');
      expect(sms.calls).toHaveLength(0);
    });

    it('accepts every configured token (rotation)', async () => {
      expect((await post('/api/v1/sms', designDocSms, { authorization: `Bearer ${NEXT_TOKEN}` })).statusCode).toBe(200);
    });
  });

  describe('400', () => {
    it.each([
      ['a recipient that is not E.164', '/api/v1/sms', { ...designDocSms, recipient: '555-1234' }, 'recipient'],
      ['an empty message', '/api/v1/sms', { ...designDocSms, message: ' ' }, 'message'],
      ['an unknown field', '/api/v1/sms', { ...designDocSms, mediaUrl: 'x' }, ''],
      ['missing metadata.triggerId', '/api/v1/sms', { ...designDocSms, metadata: { ruleId: 'r', accountId: 'a' } }, 'metadata.triggerId'],
      ['a negative actionIndex', '/api/v1/sms', { ...designDocSms, metadata: { ...designDocSms.metadata, actionIndex: -1 } }, 'metadata.actionIndex'],
      ['CR/LF in an email subject', '/api/v1/email', { recipient: 'a@b.example', subject: 'Hi\r\nBcc: victim@example.com', body: 'x', metadata: designDocSms.metadata }, 'subject'],
      ['CR/LF in an email recipient', '/api/v1/email', { recipient: 'a@b.example\r\nBcc: v@e.example', subject: 's', body: 'x', metadata: designDocSms.metadata }, 'recipient'],
      ['an email without content', '/api/v1/email', { recipient: 'a@b.example', subject: 's', metadata: designDocSms.metadata }, 'body'],
      ['a non-http webhook URL', '/api/v1/webhook', { url: 'file:///etc/passwd', metadata: designDocSms.metadata }, 'url'],
      ['CR/LF in a webhook header', '/api/v1/webhook', { url: 'https://hooks.example.com/x', headers: { 'X-A': 'b\r\nX-B: c' }, metadata: designDocSms.metadata }, 'headers["X-A"]'],
    ])('refuses %s, naming the path', async (_name, path, body, issuePath) => {
      const res = await post(path, body);
      expect(res.statusCode).toBe(400);
      const { error } = res.json() as { error: { code: string; issues: Array<{ path: string }> } };
      expect(error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
      expect(error.issues.map((i) => i.path)).toContain(issuePath);
      expect(sms.calls.length + email.calls.length + webhook.calls.length).toBe(0);
    });

    it('refuses a body that is not JSON', async () => {
      const res = await post('/api/v1/sms', '{"recipient":');
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
    });

    it('refuses prototype poisoning', async () => {
      const res = await post('/api/v1/sms', '{"recipient":"+15557654321","message":"x","metadata":{"ruleId":"r","triggerId":"t","accountId":"a"},"__proto__":{"admin":true}}');
      expect(res.statusCode).toBe(400);
    });
  });

  it('413 for a body over the limit', async () => {
    const res = await post('/api/v1/sms', { ...designDocSms, message: 'x'.repeat(10 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('CRM_ERR_HTTP_BODY_TOO_LARGE');
  });

  it.each([
    ['text/plain', 'recipient=+15557654321'],
    ['application/x-www-form-urlencoded', 'recipient=%2B15557654321&message=hi'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('415 for %s', async (type, payload) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sms', headers: { ...auth, 'content-type': type }, payload });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
  });

  it('sends email with a template and webhook commands with their params', async () => {
    const emailBody = { recipient: 'manager@crm.example', subject: 'New High-Value Job: #J-5541', templateId: 'new-high-value-job-template', templateData: { job: { number: 'J-5541' } }, metadata: designDocSms.metadata };
    expect((await post('/api/v1/email', emailBody)).statusCode).toBe(200);
    expect(email.sent[0]?.params).toEqual({ recipient: 'manager@crm.example', subject: 'New High-Value Job: #J-5541', templateId: 'new-high-value-job-template', templateData: { job: { number: 'J-5541' } } });
    const hook = { url: 'https://hooks.crm.example/new-lead', payload: { jobId: 'job_abc123' }, metadata: { ...designDocSms.metadata, actionIndex: 1 } };
    expect((await post('/api/v1/webhook', hook)).statusCode).toBe(200);
    // Passed on as sent: the gateway defaults the method to POST.
    expect(webhook.sent[0]?.params).toEqual({ url: 'https://hooks.crm.example/new-lead', payload: { jobId: 'job_abc123' } });
  });

  it('404 (JSON) for unknown routes and unconfigured channels; /healthz needs no token', async () => {
    const smsOnly = await buildNotificationApp({ channels: { sms }, auth: { tokens: [TOKEN] } });
    const res = await smsOnly.inject({ method: 'POST', url: '/api/v1/webhook', headers: { ...auth, 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('CRM_ERR_HTTP_NOT_FOUND');
    expect((await smsOnly.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    await smsOnly.close();
  });

  it('custom channel types get a route with free-form params', async () => {
    const push = createRecordingChannel();
    const custom = await buildNotificationApp({ channels: { push }, auth: { tokens: [TOKEN] } });
    const res = await custom.inject({ method: 'POST', url: '/api/v1/push', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ deviceId: 'd1', title: 't', metadata: designDocSms.metadata }) });
    expect(res.statusCode).toBe(200);
    expect(push.sent[0]?.params).toEqual({ deviceId: 'd1', title: 't' });
    await custom.close();
  });

  it('registers as a plugin beside other routes, protecting only its own', async () => {
    const host = Fastify();
    host.get('/public', async () => ({ ok: true }));
    await host.register(notificationRoutes, { channels: { sms }, auth: { tokens: [TOKEN] } });
    await host.register(createNotificationService({ channels: { email }, auth: { tokens: [TOKEN] } }), { prefix: '/v2' });
    expect((await host.inject({ method: 'GET', url: '/public' })).statusCode).toBe(200);
    expect((await host.inject({ method: 'POST', url: '/api/v1/sms', payload: designDocSms })).statusCode).toBe(401);
    const v2 = await host.inject({ method: 'POST', url: '/v2/api/v1/email', headers: auth, payload: { recipient: 'a@b.example', subject: 's', body: 'b', metadata: designDocSms.metadata } });
    expect(v2.statusCode).toBe(200);
    await host.close();
  });

  it('refuses a configuration without tokens or channels', () => {
    expect(() => createNotificationService({ channels: { sms }, auth: { tokens: [] } })).toThrow(/at least one token/);
    expect(() => createNotificationService({ channels: { sms }, auth: { tokens: ['short'] } })).toThrow(/16 characters/);
    expect(() => createNotificationService({ channels: {}, auth: { tokens: [TOKEN] } })).toThrow(/at least one channel/);
  });
});
