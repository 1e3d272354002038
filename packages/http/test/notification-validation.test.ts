import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import {
  createRecordingChannel,
  emailCommandSchema,
  formatPath,
  RESERVED_WEBHOOK_HEADERS,
  smsCommandSchema,
  webhookCommandSchema,
  type ChannelGateway,
  type ParamsSchema,
  type RecordingChannel,
} from '@crm-automation/core';
import { buildNotificationApp } from '@crm-automation/http';

const TOKEN = 'svc-token-0123456789abcdef';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const metadata = { ruleId: 'rule_1', triggerId: 'trg_1', accountId: 'acc_A' };

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
};

describe('Notification Service request validation', () => {
  let app: FastifyInstance;
  let channels: Record<string, RecordingChannel>;

  beforeEach(async () => {
    channels = { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel(), push: createRecordingChannel() };
    app = await buildNotificationApp({ channels, auth: { tokens: [TOKEN] }, bodyLimit: 1024 * 1024 });
  });
  afterEach(() => app.close());

  const post = (type: string, body: unknown) => app.inject({ method: 'POST', url: `/api/v1/${type}`, headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  const sent = () => Object.values(channels).reduce((n, c) => n + c.calls.length, 0);

  // Generated variants of each built-in type's params: the service answers 400 exactly when core's
  // command schema (what the engine checks before every send) refuses them.
  const SMS = { recipient: '+15557654321', message: 'hi' };
  const EMAIL = { recipient: 'a@crm.example', subject: 's', body: 'b' };
  const WEBHOOK = { url: 'https://hooks.crm.example/x', method: 'POST', headers: { 'X-Team': 'sales' }, payload: { a: 1 } };
  const recipients = ['+15557654321', '+1555765432', '+123456', '+1234567', '15557654321', '+0123456789', '+1555\r\n', '+15557654321\u2028', '', 'a@crm.example', 'a@crm', 'a@@crm.example', 'a b@crm.example', 'a@crm.example\n', `${'a'.repeat(310)}@crm.example`, '<a@crm.example>', 'a@crm.example,b@crm.example'];
  const lines = ['ok', '', 'a\r\nBcc: x', 'a\nb', 'a\rb', 'a\u2028b', 'a\u2029b', 'a\0b', 'x'.repeat(999), 'x'.repeat(998)];
  const headerNames = ['X-Team', 'x-team', 'Bad Header', 'x:y', '', ...[...RESERVED_WEBHOOK_HEADERS].map((h) => h.toUpperCase()), 'Authorization', 'Cookie', 'X-Webhook-Id'];
  const urls = ['https://hooks.crm.example/x', 'http://hooks.crm.example', 'ftp://hooks.crm.example/', 'file:///etc/passwd', 'javascript:alert(1)', 'hooks.crm.example/x', 'https://hooks.crm.example/x\r\nX: y', `https://hooks.crm.example/${'a'.repeat(2100)}`];
  const cases: Array<[type: string, schema: ParamsSchema, params: Record<string, unknown>]> = [
    ...recipients.map((recipient) => ['sms', smsCommandSchema, { ...SMS, recipient }] as [string, ParamsSchema, Record<string, unknown>]),
    ...['', ' ', 'x', 'x'.repeat(1600), 'x'.repeat(1601)].map((message) => ['sms', smsCommandSchema, { ...SMS, message }] as [string, ParamsSchema, Record<string, unknown>]),
    ['sms', smsCommandSchema, { ...SMS, mediaUrl: 'x' }],
    ['sms', smsCommandSchema, { recipient: SMS.recipient }],
    ...recipients.map((recipient) => ['email', emailCommandSchema, { ...EMAIL, recipient }] as [string, ParamsSchema, Record<string, unknown>]),
    ...lines.map((subject) => ['email', emailCommandSchema, { ...EMAIL, subject }] as [string, ParamsSchema, Record<string, unknown>]),
    ...lines.map((templateId) => ['email', emailCommandSchema, { recipient: EMAIL.recipient, subject: 's', templateId }] as [string, ParamsSchema, Record<string, unknown>]),
    ['email', emailCommandSchema, { recipient: EMAIL.recipient, subject: 's' }],
    ['email', emailCommandSchema, { ...EMAIL, templateData: 'x' }],
    ...headerNames.map((name) => ['webhook', webhookCommandSchema, { ...WEBHOOK, headers: { [name]: 'v' } }] as [string, ParamsSchema, Record<string, unknown>]),
    ...lines.map((value) => ['webhook', webhookCommandSchema, { ...WEBHOOK, headers: { 'X-A': value } }] as [string, ParamsSchema, Record<string, unknown>]),
    ...urls.map((url) => ['webhook', webhookCommandSchema, { ...WEBHOOK, url }] as [string, ParamsSchema, Record<string, unknown>]),
    ...['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'post', 'TRACE', 'CONNECT', ''].map((method) => ['webhook', webhookCommandSchema, { ...WEBHOOK, method }] as [string, ParamsSchema, Record<string, unknown>]),
    ...[63, 64, 65, 200].map((depth) => ['webhook', webhookCommandSchema, { ...WEBHOOK, payload: nested(depth) }] as [string, ParamsSchema, Record<string, unknown>]),
  ];

  it.each(cases.map(([type, schema, params], i) => [i, type, schema, params] as const))('#%d %s: answers as core\'s command schema decides', async (_i, type, schema, params) => {
    const expected = schema.safeParse(params).success;
    const res = await post(type, { ...params, metadata });
    expect(res.statusCode, res.body).toBe(expected ? 200 : 400);
    if (!expected) {
      const error = res.json().error as { code: string; issues: Array<{ path: string; code: string }> };
      expect(error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
      // Paths name the field as the caller wrote it (`recipient`, `headers["X-A"]`), never `params.`.
      for (const issue of error.issues) expect(issue.path.startsWith('params')).toBe(false);
    }
  });

  it.each([...RESERVED_WEBHOOK_HEADERS])('refuses the reserved header %s with reserved_header and its path', async (name) => {
    const res = await post('webhook', { ...WEBHOOK, headers: { [name]: 'x' }, metadata });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues).toContainEqual({ path: formatPath(['headers', name]), code: 'reserved_header', message: 'this header is set by the gateway' });
    expect(sent()).toBe(0);
  });

  it.each([
    ['a webhook payload', 'webhook', { ...WEBHOOK, payload: nested(65) }, /^payload/],
    ['a webhook payload 2,500 levels deep', 'webhook', { ...WEBHOOK, payload: nested(2_500) }, /^payload/],
    ['custom params', 'push', { data: nested(65) }, /^data/],
    ['custom params 2,500 levels deep', 'push', { data: nested(2_500) }, /^data/],
    ['metadata', 'sms', { ...SMS, metadata: { ...metadata, extra: nested(70) } }, /^metadata/],
    ['an email templateData', 'email', { ...EMAIL, templateId: 't', templateData: nested(100) as Record<string, unknown> }, /^templateData/],
  ])('refuses %s nested deeper than 64 levels with too_deep and the path, never a 500', async (_name, type, params, path) => {
    const res = await post(type, { metadata, ...params });
    expect(res.statusCode).toBe(400);
    const { error } = res.json() as { error: { code: string; issues: Array<{ path: string; code: string }> } };
    expect(error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
    expect(error.issues[0]?.code).toBe('too_deep');
    expect(error.issues[0]?.path).toMatch(path);
    expect(sent()).toBe(0);
  });

  it('accepts custom params nested up to the limit', async () => {
    const res = await post('push', { data: nested(64), metadata });
    expect(res.statusCode).toBe(200);
    expect(channels['push']?.calls).toHaveLength(1);
  });

  it.each([
    ['an array', [1, 2]],
    ['a string', '"sms"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('refuses a body that is %s', async (_name, body) => {
    const res = await post('sms', typeof body === 'string' ? body : JSON.stringify(body));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('CRM_ERR_HTTP_BAD_REQUEST');
  });

  it('reports problems of params and metadata together', async () => {
    const res = await post('sms', { recipient: 'nope', message: 'hi', metadata: { ruleId: 'r' } });
    expect(res.json().error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['metadata.accountId', 'metadata.triggerId', 'recipient']);
  });

  it.each([
    ['too long', 'k'.repeat(401)],
    ['empty in metadata', ''],
  ])('refuses an idempotency key that is %s', async (_name, key) => {
    const res = await post('sms', { ...SMS, metadata: { ...metadata, idempotencyKey: key } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('metadata.idempotencyKey');
  });

  it('refuses an Idempotency-Key header over 400 characters', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sms', headers: { ...headers, 'idempotency-key': 'k'.repeat(401) }, payload: JSON.stringify({ ...SMS, metadata }) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues[0].path).toBe('headers["idempotency-key"]');
  });

  it("checks params with the gateway's own commandSchema, for custom and built-in types", async () => {
    const strict: ParamsSchema = {
      safeParse: (value) =>
        typeof (value as { deviceId?: unknown }).deviceId === 'string'
          ? { success: true }
          : { success: false, error: { issues: [{ path: ['deviceId'], message: 'deviceId is required', code: 'custom' }] } },
    };
    const push: ChannelGateway & RecordingChannel = Object.assign(createRecordingChannel(), { commandSchema: strict });
    // A built-in type whose gateway narrows core's schema: only UK numbers.
    const ukOnly: ParamsSchema = {
      safeParse: (value) => {
        const base = smsCommandSchema.safeParse(value);
        if (!base.success) return base;
        return String((value as { recipient: string }).recipient).startsWith('+44') ? { success: true } : { success: false, error: { issues: [{ path: ['recipient'], message: 'UK numbers only', code: 'custom' }] } };
      },
    };
    const uk: ChannelGateway & RecordingChannel = Object.assign(createRecordingChannel(), { commandSchema: ukOnly });
    const custom = await buildNotificationApp({ channels: { push, sms: uk }, auth: { tokens: [TOKEN] } });
    const call = (type: string, body: unknown) => custom.inject({ method: 'POST', url: `/api/v1/${type}`, headers, payload: JSON.stringify(body) });
    expect((await call('push', { title: 't', metadata })).json().error.issues).toEqual([{ path: 'deviceId', code: 'custom', message: 'deviceId is required' }]);
    expect((await call('push', { deviceId: 'd', metadata })).statusCode).toBe(200);
    expect((await call('sms', { ...SMS, metadata })).json().error.issues[0].message).toBe('UK numbers only');
    expect((await call('sms', { recipient: '+447700900123', message: 'hi', metadata })).statusCode).toBe(200);
    await custom.close();
  });
});
