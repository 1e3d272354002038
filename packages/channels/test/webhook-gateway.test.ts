import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESERVED_WEBHOOK_HEADERS } from '@crm-automation/core';
import { createWebhook, type HostResolver } from '@crm-automation/channels';
import { ERROR_STATUS_RETRYABILITY } from './support/error-statuses.js';
import { closedPort } from './support/local-http-server.js';
import { verifyStandardWebhook } from './support/standard-webhooks-verifier.js';
import { failure, webhookCommand } from './support/webhook-command.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROTATED = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;

// receiver.test is not a real name: only the injected resolver knows it, so a request that reaches
// the receiver proves the connection used the resolver's (checked) answer.
const lookup: HostResolver = async (host) => {
  if (host === 'receiver.test') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

describe('createWebhook delivery', () => {
  let receiver: WebhookReceiver;
  let base: string;
  beforeEach(async () => {
    receiver = await startWebhookReceiver(SECRET);
    base = `http://receiver.test:${receiver.port}`;
  });
  afterEach(() => receiver.close());

  const gateway = (extra: Parameters<typeof createWebhook>[0] = {}) =>
    createWebhook({ signingSecret: SECRET, allowHosts: ['receiver.test'], lookup, timeoutMs: 2_000, ...extra });

  it('POSTs the rendered payload as JSON, signed so an independent verifier accepts it', async () => {
    const command = webhookCommand({ url: `${base}/hooks/new-lead?src=crm`, headers: { 'X-Team': 'sales' }, payload: { jobId: 'job_abc123', value: '2500' } });
    const result = await gateway().send(command);

    expect(result).toEqual({ provider: 'webhook', id: command.metadata.idempotencyKey, status: 200 });
    expect(receiver.refused).toEqual([]);
    expect(receiver.accepted).toHaveLength(1);
    const req = receiver.accepted[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/hooks/new-lead?src=crm');
    expect(req?.headers['host']).toBe(`receiver.test:${receiver.port}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-team']).toBe('sales');
    expect(req?.headers['webhook-id']).toBe(command.metadata.idempotencyKey);
    expect(JSON.parse(req?.body ?? '')).toEqual({ jobId: 'job_abc123', value: '2500' });
  });

  it('keeps webhook-id stable across retries of one command, with a fresh timestamp and signature', async () => {
    let now = 1_700_000_000_000;
    const receiverClock = await startWebhookReceiver(undefined);
    const g = gateway({ now: () => now });
    const command = webhookCommand({ url: `http://receiver.test:${receiverClock.port}/hook`, payload: { a: 1 } });
    await g.send(command);
    now += 5_000;
    await g.send(command);
    const [first, second] = receiverClock.accepted;
    expect(first?.headers['webhook-id']).toBe(second?.headers['webhook-id']);
    expect(Number(second?.headers['webhook-timestamp']) - Number(first?.headers['webhook-timestamp'])).toBe(5);
    expect(first?.headers['webhook-signature']).not.toBe(second?.headers['webhook-signature']);
    await expect(verifyStandardWebhook(SECRET, second?.headers ?? {}, second?.body ?? '', now / 1000)).resolves.toEqual({ ok: true });
    await receiverClock.close();
  });

  it('signs with every secret during a key rotation; a receiver holding either accepts', async () => {
    const rotated = await startWebhookReceiver(ROTATED);
    await createWebhook({ signingSecret: [SECRET, ROTATED], allowHosts: ['receiver.test'], lookup }).send(webhookCommand({ url: `http://receiver.test:${rotated.port}/h`, payload: {} }));
    await gateway({ signingSecret: [ROTATED, SECRET] }).send(webhookCommand({ url: `${base}/h`, payload: {} }));
    expect(rotated.accepted).toHaveLength(1);
    expect(receiver.accepted).toHaveLength(1);
    expect(String(rotated.accepted[0]?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    await rotated.close();
  });

  it('uses the rule method; GET carries no body', async () => {
    await gateway().send(webhookCommand({ url: `${base}/put`, method: 'PUT', payload: { x: 1 } }));
    await gateway().send(webhookCommand({ url: `${base}/get`, method: 'GET', payload: { ignored: true } }));
    expect(receiver.accepted.map((r) => [r.method, r.body])).toEqual([
      ['PUT', '{"x":1}'],
      ['GET', ''],
    ]);
  });

  it('sends webhook-id and timestamp but no signature without a secret', async () => {
    const open = await startWebhookReceiver(undefined);
    await createWebhook({ unsigned: true, allowHosts: ['receiver.test'], lookup }).send(webhookCommand({ url: `http://receiver.test:${open.port}/h`, payload: 1 }));
    expect(open.accepted[0]?.headers['webhook-id']).toBeDefined();
    expect(open.accepted[0]?.headers['webhook-signature']).toBeUndefined();
    await open.close();
  });

  it('does not follow redirects: a 3xx is permanent and names the Location', async () => {
    receiver.replyNext({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
    const error = await failure(gateway().send(webhookCommand({ url: `${base}/moved`, payload: {} })));
    expect(error).toMatchObject({ retryable: false, status: 302, provider: 'webhook' });
    expect(error['message']).toMatch(/redirect to "http:\/\/169\.254\.169\.254\/latest\/meta-data\/" not followed/);
    expect(receiver.requests).toHaveLength(1);
  });

  it.each(ERROR_STATUS_RETRYABILITY)('classifies %i as retryable=%s, keeping a truncated response', async (status, retryable) => {
    receiver.replyNext({ status, body: { error: 'x'.repeat(2_000) } });
    const error = await failure(gateway().send(webhookCommand({ url: `${base}/h`, payload: {} })));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable, status });
    expect(String(error['response']).length).toBeLessThanOrEqual(501);
  });

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    receiver.replyNext({ status: 503, headers: { 'retry-after': '12' } });
    expect(await failure(gateway().send(webhookCommand({ url: `${base}/h`, payload: {} })))).toMatchObject({ retryable: true, retryAfterMs: 12_000 });
    const now = Date.parse('2030-01-01T00:00:00Z');
    receiver.replyNext({ status: 429, headers: { 'retry-after': new Date(now + 90_000).toUTCString() } });
    expect(await failure(gateway({ now: () => now }).send(webhookCommand({ url: `${base}/h`, payload: {} })))).toMatchObject({ retryable: true, retryAfterMs: 90_000 });
  });

  it('a receiver that never answers is a transient timeout', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const error = await failure(gateway({ timeoutMs: 200 }).send(webhookCommand({ url: `http://receiver.test:${port}/slow`, payload: {} })));
    expect(error).toMatchObject({ retryable: true, provider: 'webhook' });
    expect(error['message']).toMatch(/timed out/);
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('a refused connection is transient', async () => {
    const port = await closedPort();
    const error = await failure(gateway().send(webhookCommand({ url: `http://receiver.test:${port}/h`, payload: {} })));
    expect(error).toMatchObject({ retryable: true, provider: 'webhook' });
    expect(error['message']).toMatch(/ECONNREFUSED/);
  });

  it('an unknown host is permanent', async () => {
    const error = await failure(gateway().send(webhookCommand({ url: 'http://no-such-host.test/h', payload: {} })));
    expect(error).toMatchObject({ retryable: false, providerCode: 'ENOTFOUND' });
  });

  it.each([
    [{ 'X-Evil': 'a\r\nInjected: yes' }, 'header_injection', /line break/],
    [{ 'X-Evil': 'a\nb' }, 'header_injection', /line break/],
    [{ 'X-Evil': 'a\u2028b' }, 'header_injection', /line break/],
    [{ 'Bad Header': 'x' }, 'invalid_format', /invalid header name/],
    [{ 'X-Number': 5 }, 'invalid_type', /expected string/],
    [{ 'X-Object': { a: 1 } }, 'invalid_type', /expected string/],
  ])('refuses headers %j permanently without sending', async (headers, providerCode, message) => {
    const error = await failure(gateway().send(webhookCommand({ url: `${base}/h`, headers, payload: {} })));
    expect(error).toMatchObject({ retryable: false, providerCode });
    expect(error['message']).toMatch(message);
    expect(receiver.requests).toHaveLength(0);
  });

  // Every header the gateway sets itself, in the spellings a rule could use: core's one list.
  it.each([...RESERVED_WEBHOOK_HEADERS].flatMap((name) => [name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())]))(
    'refuses the reserved header %s at send time, and the rule schema refuses it at save time',
    async (name) => {
      const g = gateway();
      const error = await failure(g.send(webhookCommand({ url: `${base}/h`, headers: { [name]: 'x' }, payload: {} })));
      expect(error).toMatchObject({ retryable: false, providerCode: 'reserved_header' });
      expect(error['message']).toMatch(/set by the gateway/);
      expect(receiver.requests).toHaveLength(0);
      const saved = g.paramsSchema?.safeParse({ url: 'https://hooks.example.com/x', headers: { [name]: 'x' } });
      expect(saved?.success).toBe(false);
    },
  );

  it.each([
    [{ method: 'post' }, 'invalid_value'],
    [{ method: 'TRACE' }, 'invalid_value'],
    [{ payload: JSON.parse('['.repeat(70) + ']'.repeat(70)) as unknown }, 'too_deep'],
    [{ extra: 1 }, 'unrecognized_keys'],
    [{ url: 42 }, 'invalid_type'],
  ])('refuses rendered params %j with core\'s command schema', async (params, providerCode) => {
    const error = await failure(gateway().send(webhookCommand({ url: `${base}/h`, payload: {}, ...params })));
    expect(error).toMatchObject({ retryable: false, providerCode });
    expect(receiver.requests).toHaveLength(0);
  });

  it('allowPrivateNetworks reaches a loopback receiver by address', async () => {
    await createWebhook({ signingSecret: SECRET, allowPrivateNetworks: true }).send(webhookCommand({ url: `http://127.0.0.1:${receiver.port}/direct`, payload: {} }));
    expect(receiver.accepted).toHaveLength(1);
  });

  it('refuses a bad configuration', () => {
    expect(() => createWebhook({ signingSecret: 'whsec_short' })).toThrow(/at least 24 bytes/);
    expect(() => createWebhook({ signingSecret: SECRET, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it.each([
    ['no options', undefined],
    ['an empty object', {}],
    ['an empty list of secrets', { signingSecret: [] }],
    ['unsigned: false', { unsigned: false }],
    ['an explicit undefined secret', { signingSecret: undefined, allowHosts: ['x.test'] }],
  ])('without a signing secret, requires unsigned: true (%s)', (_name, options) => {
    const make = () => createWebhook(options as unknown as Parameters<typeof createWebhook>[0]);
    expect(make).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    expect(make).toThrow(/signingSecret|options object/);
  });

  it('refuses a secret together with unsigned: true', () => {
    expect(() => createWebhook({ signingSecret: SECRET, unsigned: true })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringMatching(/contradicts/) }));
  });

  it('validates rule params with its own address policy (paramsSchema) and rendered params with core\'s (commandSchema)', () => {
    const strict = createWebhook({ signingSecret: SECRET });
    const internal = createWebhook({ signingSecret: SECRET, allowPrivateNetworks: true });
    const rule = { url: 'http://10.0.0.7/hook/{{job.id}}', method: 'POST' };
    expect(strict.paramsSchema?.safeParse(rule).success).toBe(false);
    expect(internal.paramsSchema?.safeParse(rule).success).toBe(true);
    expect(strict.paramsSchema?.safeParse({ url: 'http://169.254.169.254/latest/' }).success).toBe(false);
    expect(internal.paramsSchema?.safeParse({ url: 'http://169.254.169.254/latest/' }).success).toBe(false);
    expect(strict.commandSchema?.safeParse({ url: 'https://hooks.example.com/x', headers: { Expect: '100-continue' } }).success).toBe(false);
    expect(strict.commandSchema?.safeParse({ url: 'https://hooks.example.com/x', headers: { 'X-Team': 'sales' }, payload: { a: 1 } }).success).toBe(true);
  });
});
