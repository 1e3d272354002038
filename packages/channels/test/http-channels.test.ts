import { describe, expect, it } from 'vitest';
import { createHttpChannels } from '@crm-automation/channels';
import { commandOf } from './support/commands.js';
import { SERVICE_TOKEN, startFakeNotificationService, type FakeNotificationService } from './support/fake-notification-service.js';
import { closedPort } from './support/local-http-server.js';
import { failure } from './support/webhook-command.js';
import { serverPerTest } from './support/per-test.js';

describe('createHttpChannels', () => {
  let service: FakeNotificationService;
  serverPerTest(startFakeNotificationService, (started) => (service = started));

  it('POSTs { ...params, metadata } to /api/v1/<type> with the bearer token and returns the remote result', async () => {
    const channels = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN });
    expect(Object.keys(channels)).toEqual(['sms', 'email', 'webhook']);
    const command = commandOf('sms', { recipient: '+15557654321', message: 'hi' });
    const result = await channels['sms']?.send(command);
    expect(result).toEqual({ provider: 'remote', id: 'remote_1' });
    expect(service.commands).toEqual([{ type: 'sms', body: { recipient: '+15557654321', message: 'hi', metadata: command.metadata } }]);
    expect(service.requests[0]?.headers['idempotency-key']).toBe(command.metadata.idempotencyKey);
    expect(service.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('maps 503 + Retry-After to a transient error naming the provider the service reported', async () => {
    service.failNextTransient(9);
    const channels = createHttpChannels({ baseUrl: `${service.url}/`, token: SERVICE_TOKEN });
    expect(await failure(channels['email']?.send(commandOf('email', { recipient: 'a@b.example', subject: 's', body: 'b' })) ?? Promise.resolve())).toMatchObject({
      retryable: true,
      status: 503,
      retryAfterMs: 9_000,
      // The stand-in service's gateway is named twilio; without a provider in its answer it would be notification-service.
      provider: 'twilio',
    });
  });

  it('maps 422 to a permanent error carrying the provider code the service reported', async () => {
    service.failNextPermanent();
    const error = await failure(createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(commandOf('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve());
    expect(error).toMatchObject({ retryable: false, status: 422, providerCode: 21211 });
    expect(error['message']).toMatch(/Invalid 'To' Phone Number/);
  });

  it('a wrong token (401) is permanent', async () => {
    const error = await failure(createHttpChannels({ baseUrl: service.url, token: 'nope' })['sms']?.send(commandOf('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve());
    expect(error).toMatchObject({ retryable: false, status: 401, providerCode: 'CRM_ERR_UNAUTHORIZED' });
  });

  it.each([
    ['sms', { recipient: '555-1234', message: 'x' }, 'invalid_recipient'],
    ['sms', { recipient: '+15557654321', message: 'x', extra: 1 }, 'unrecognized_keys'],
    ['email', { recipient: 'a@b.example', subject: 'Hi\r\nBcc: v@e.example', body: 'x' }, 'header_injection'],
    ['webhook', { url: 'https://x.example/h', headers: { 'webhook-id': 'forged' } }, 'reserved_header'],
    ['webhook', { url: 'https://x.example/h', headers: { TE: 'trailers' } }, 'reserved_header'],
  ])('checks a %s command with core\'s command schema before calling the service', async (type, params, providerCode) => {
    const gateway = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })[type];
    expect(gateway?.commandSchema).toBeDefined();
    const error = await failure(gateway?.send(commandOf(type, params)) ?? Promise.resolve());
    expect(error).toMatchObject({ retryable: false, providerCode });
    expect(service.requests).toHaveLength(0);
  });

  it('custom types are forwarded unchecked (the service owns their schema)', async () => {
    const push = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN, types: ['push'] })['push'];
    expect(push?.commandSchema).toBeUndefined();
    await push?.send(commandOf('push', { deviceId: 'd1' }));
    expect(service.commands).toHaveLength(1);
  });

  it('an unreachable service is transient', async () => {
    const port = await closedPort();
    const error = await failure(createHttpChannels({ baseUrl: `http://127.0.0.1:${port}`, token: SERVICE_TOKEN })['webhook']?.send(commandOf('webhook', { url: 'https://x.example' })) ?? Promise.resolve());
    expect(error).toMatchObject({ retryable: true });
  });

  it('builds gateways for custom types and refuses a bad configuration', () => {
    expect(Object.keys(createHttpChannels({ baseUrl: service.url, token: 't', types: ['push'] }))).toEqual(['push']);
    expect(() => createHttpChannels({ baseUrl: 'not a url', token: 't' })).toThrow(/baseUrl/);
    expect(() => createHttpChannels({ baseUrl: service.url, token: '' })).toThrow(/token/);
  });

  describe('deliveries', () => {
    const command = (type: string, params: Record<string, unknown>, metadata: Record<string, unknown> = {}) => {
      const c = commandOf(type, params);
      return { ...c, metadata: { ...c.metadata, ...metadata } };
    };

    it("sends the delivery id and the failover exclusions in metadata and returns the service's result, naming the provider", async () => {
      const sent = command('sms', { recipient: '+15557654321', message: 'hi' }, { deliveryId: 'dlv_1', excludeProviders: ['twilio'] });
      expect(await createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(sent)).toEqual({ provider: 'remote', id: 'remote_1' });
      expect(service.commands[0]?.body['metadata']).toMatchObject({ deliveryId: 'dlv_1', excludeProviders: ['twilio'] });
    });

    it('a lost answer after the command was written is ambiguous; an unreachable service is not', async () => {
      service.loseNextAnswer({ kind: 'hang' });
      const channels = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN, timeoutMs: 300 });
      expect(await failure(channels['sms']?.send(command('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve())).toMatchObject({ ambiguous: true, retryable: true });
      service.loseNextAnswer({ kind: 'reset' });
      expect(await failure(channels['sms']?.send(command('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve())).toMatchObject({ ambiguous: true });
      const port = await closedPort();
      const unreachable = await failure(createHttpChannels({ baseUrl: `http://127.0.0.1:${port}`, token: SERVICE_TOKEN })['sms']?.send(command('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve());
      expect(unreachable['ambiguous']).not.toBe(true);
    });

    it("the service's ambiguous provider failure stays ambiguous", async () => {
      service.failNext({ status: 503, error: { code: 'CRM_ERR_GATEWAY', message: 'twilio request timed out failed after the request was sent', provider: 'twilio', retryable: true, ambiguous: true } });
      expect(await failure(createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(command('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve())).toMatchObject({
        ambiguous: true,
        retryable: true,
        status: 503,
      });
    });

    it("the service's in-flight answer is a retryable CRM_ERR_IDEMPOTENCY_IN_FLIGHT with its Retry-After", async () => {
      service.failNext({ status: 503, headers: { 'retry-after': '2' }, error: { code: 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT', message: 'command k is being sent by another worker', retryable: true } });
      const error = await failure(createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(command('sms', { recipient: '+15557654321', message: 'x' })) ?? Promise.resolve());
      expect(error).toMatchObject({ code: 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT', retryable: true, retryAfterMs: 2_000 });
      expect(error['ambiguous']).not.toBe(true);
    });

    it("repeats what the service's gateways declare (dedupes, failover), by type", () => {
      const failover = { providers: ['twilio', 'twilio-backup'], undeliveredWithinMs: 60_000 };
      const channels = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN, capabilities: { webhook: { dedupes: true }, sms: { failover } } });
      expect(channels['webhook']?.dedupes).toBe(true);
      expect(channels['sms']?.dedupes).not.toBe(true);
      expect(channels['sms']?.failover).toEqual(failover);
      expect(() => createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN, capabilities: { webhook: { dedupe: true } as never } })).toThrow(/dedupe/);
    });
  });
});
