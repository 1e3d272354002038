import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, type ActionCommand, type ChannelGateway } from '@crm-automation/core';
import { createSendgridEmail, createTwilioSms, createWebhook, transportFailure } from '@crm-automation/channels';
import { sendJson, startLocalHttpServer, type LocalHttpServer } from './support/local-http-server.js';

/**
 * The same verdict at rule save and at send (issue 12): a rule the engine accepts with a literal value
 * is one every send of it can make, and a value refused at send was refused at save, with the same
 * code. The providers are one loopback server; the webhook's resolver and connector are injected.
 */

let provider: LocalHttpServer;
let channels: Record<string, ChannelGateway>;
let n = 0;

beforeAll(async () => {
  provider = await startLocalHttpServer((req, res) => {
    if (req.path.endsWith('/Messages.json')) return sendJson(res, 201, { sid: `SM${provider.requests.length}`, status: 'queued' });
    if (req.path === '/v3/mail/send') return sendJson(res, 202, undefined, { 'x-message-id': `m${provider.requests.length}` });
    return sendJson(res, 200, { ok: true });
  });
  const port = provider.port;
  channels = {
    webhook: createWebhook({
      signingSecret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
      lookup: async () => [{ address: '93.184.216.34', family: 4 }],
      connect: async () => connect(port, '127.0.0.1'),
    }),
    sms: createTwilioSms({ accountSid: 'AC1', authToken: 't', from: '+15550001111', baseUrl: provider.url }),
    email: createSendgridEmail({ apiKey: 'k', from: 'a@crm.example', baseUrl: provider.url }),
  };
});
afterAll(async () => provider.close());

let engine: ReturnType<typeof createAutomationEngine> | undefined;

function saveCodes(type: string, params: Record<string, unknown>): string[] {
  engine ??= createAutomationEngine({ store: createMemoryStore(), channels });
  const result = engine.rules.validate({ name: 'r', trigger: { eventName: 'e' }, conditions: { all: [] }, actions: [{ type, params }] });
  return result.ok ? [] : result.issues.map((i) => i.code);
}

/** `sent`, or the failure's providerCode with `permanent`/`retryable`. */
async function sendOutcome(type: string, params: Record<string, unknown>): Promise<string> {
  n += 1;
  const command: ActionCommand = { type, params, metadata: { source: 'automation-engine', ruleId: 'r', triggerId: `t${n}`, accountId: 'a', actionIndex: 0, idempotencyKey: `t${n}:0` } };
  const before = provider.requests.length;
  try {
    await channels[type]?.send(command);
    expect(provider.requests.length).toBe(before + 1);
    return 'sent';
  } catch (error) {
    const e = error as { code?: string; providerCode?: string; retryable?: boolean };
    expect(e.code).toBe('CRM_ERR_GATEWAY');
    expect(provider.requests.length).toBe(before);
    return `${e.providerCode} ${e.retryable ? 'retryable' : 'permanent'}`;
  }
}

async function expectSameVerdict(type: string, params: Record<string, unknown>) {
  const save = saveCodes(type, params);
  const sent = await sendOutcome(type, params);
  if (save.length === 0) expect(sent, JSON.stringify(params)).toBe('sent');
  else expect(sent, JSON.stringify(params)).toBe(`${save[0]} permanent`);
}

const hook = (headers: Record<string, string>) => ({ url: 'https://hooks.example.com/x', method: 'POST', headers, payload: { a: 1 } });

describe('webhook headers: save verdict = send verdict', () => {
  it.each(['x-ok', 'X-Custom', 'webhook-id', 'Webhook-ID', 'WEBHOOK-SIGNATURE', 'webhook-timestamp', 'expect', 'Expect', 'keep-alive', 'te', 'TE', 'host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'trailer', 'proxy-authorization', 'Proxy-Authenticate', 'proxy-foo', 'x a', 'x:a', ' x', '', 'é', 'cookie', 'authorization'])(
    'header name %j',
    async (name) => expectSameVerdict('webhook', hook({ [name]: 'v' })),
  );

  it.each(['{"__proto__":"x"}', '{"__proto__":{"a":1}}', '{"__proto__":"a\\r\\nb"}'])('headers parsed from the JSON %s', async (json) => {
    await expectSameVerdict('webhook', hook(JSON.parse(json) as Record<string, string>));
  });

  it.each(['v', '', ' lead', 'a\tb', 'café', 'a\u0001b', 'a\u007fb', 'a\u001fb', '€', '日本', '😀', 'a\u000bb', 'a\r\nb', 'a\u0000b', 'a\u2028b', 'x'.repeat(4_096), 'x'.repeat(4_097)])('header value %j', async (value) =>
    expectSameVerdict('webhook', hook({ 'x-v': value })),
  );

  it('for generated header values, an accepted value is always sent as is, a refused one never retried', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ maxLength: 8 })), async (raw) => {
        const value = raw.replaceAll('{{', '{').replaceAll('\\', '/');
        await expectSameVerdict('webhook', hook({ 'x-v': value }));
        if (saveCodes('webhook', hook({ 'x-v': value })).length === 0) {
          expect(Buffer.from(String(provider.requests.at(-1)?.headers['x-v'] ?? ''), 'latin1').toString('latin1')).toBe(value.trim());
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

describe('SMS recipients: save verdict = send verdict', () => {
  it.each(['+15557654321', '+447911123456', '+1234567', '+123456789012345', '+1 555 765 4321', '+1-555-765-4321', '15557654321', '+05557654321', '+1234567890123456', '+123456', ' +15557654321', '+15557654321\n', '+１５５５７６５４３２１', 'tel:+15557654321', '00155576543210'])(
    '%j',
    async (recipient) => expectSameVerdict('sms', { recipient, message: 'hi' }),
  );
});

describe('email recipients: save verdict = send verdict', () => {
  it.each(['a@crm.example', 'user@bücher.de', '"a b"@crm.example', 'A <a@crm.example>', 'a@crm.example.', 'a@crm..example', '.a@crm.example', 'a..b@crm.example', 'a@crm.example\r\nBcc: x@y.example', 'a@1.2.3.4', 'a@c\u0001rm.example', `${'x'.repeat(65)}@crm.example`])(
    '%j',
    async (recipient) => expectSameVerdict('email', { recipient, subject: 's', body: 'b' }),
  );
});

describe('a request the HTTP client refuses to send', () => {
  it('is a permanent failure, never retried or held as ambiguous', () => {
    const refused = Object.assign(new Error('invalid x-v header'), { code: 'UND_ERR_INVALID_ARG' });
    expect(transportFailure('webhook', refused, 'request', { ambiguous: true })).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 'UND_ERR_INVALID_ARG' });
    expect(transportFailure('webhook', refused).ambiguous).toBeFalsy();
    expect(transportFailure('webhook', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).retryable).toBe(true);
  });
});
