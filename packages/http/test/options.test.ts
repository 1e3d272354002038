import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import { apiKeyAuth, buildNotificationApp, createAccountRateLimiter, createNotificationService, generateApiKey, notificationRoutes, rulesRoutes, rulesRouteDefinitions, triggerServiceClient, triggerServiceRoutes } from '@crm-automation/http';
import { typosOf } from '@crm-automation/testing';

const TOKEN = 'svc-token-0123456789abcdef';

const notification = { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } };
const rules = { engine: createAutomationEngine({ store: createMemoryStore() }), authenticate: apiKeyAuth({ keys: [{ hash: generateApiKey().hash, accountId: 'a' }] }) };
const triggerService = { engine: createAutomationEngine({ store: createMemoryStore() }), auth: { tokens: [TOKEN] } };
const NOTIFICATION_KEYS = ['channels', 'idempotency', 'idempotencyOptions', 'auth', 'logger', 'bodyLimit', 'defaultRetryAfterSeconds'];

const registered = (plugin: typeof rulesRoutes | typeof notificationRoutes | typeof triggerServiceRoutes) => async (options: Record<string, unknown>) => {
  const app = Fastify();
  try {
    await app.register(plugin as never, options as never);
    await app.ready();
  } finally {
    await app.close();
  }
};

type Factory = (options: Record<string, unknown>) => unknown;

// Each factory with options it accepts and every key of its options type, written out here.
const FACTORIES: Array<[name: string, make: Factory, base: Record<string, unknown>, keys: string[]]> = [
  ['createNotificationService', (o) => createNotificationService(o as never), notification, NOTIFICATION_KEYS],
  ['createNotificationService: auth', (o) => createNotificationService({ ...notification, auth: o as never }), { tokens: [TOKEN] }, ['tokens']],
  ['createNotificationService: idempotencyOptions', (o) => createNotificationService({ ...notification, idempotencyOptions: o as never }), { lockMs: 1000 }, ['lockMs', 'ttlMs']],
  ['notificationRoutes', registered(notificationRoutes), notification, NOTIFICATION_KEYS],
  ['buildNotificationApp', (o) => buildNotificationApp(o as never), notification, ['fastify', ...NOTIFICATION_KEYS]],
  ['rulesRoutes', registered(rulesRoutes), rules, ['engine', 'authenticate', 'rateLimit', 'bodyLimit', 'eventCatalog', 'statsWindowMs', 'openapi', 'triggers']],
  ['triggerServiceRoutes', registered(triggerServiceRoutes), triggerService, ['engine', 'auth', 'bodyLimit']],
  ['triggerServiceRoutes: auth', (o) => registered(triggerServiceRoutes)({ ...triggerService, auth: o }), { tokens: [TOKEN] }, ['tokens']],
  ['triggerServiceClient', (o) => triggerServiceClient(o as never), { baseUrl: 'http://127.0.0.1:4102', token: TOKEN }, ['baseUrl', 'token', 'timeoutMs', 'rules', 'retryAfterSeconds']],
  ['rulesRoutes: openapi', (o) => rulesRouteDefinitions({ ...rules, openapi: o as never }), { title: 't' }, ['title', 'version', 'description']],
  ['rateLimit', (o) => createAccountRateLimiter(o as never), { max: 10 }, ['max', 'windowMs', 'maxAccounts']],
];

async function thrownBy(make: () => unknown): Promise<unknown> {
  try {
    await make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, base, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', async (typo, key) => {
    const error = await thrownBy(() => make({ ...base, [typo]: base[key] ?? 1 }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).toContain(`"${typo}" (did you mean "${key}"?)`);
  });

  it('accepts its documented options', async () => {
    expect(await thrownBy(() => make(base))).toBeUndefined();
  });
});

describe('plugins registered with Fastify\'s own options', () => {
  it.each([
    ['notificationRoutes', registered(notificationRoutes), notification],
    ['rulesRoutes', registered(rulesRoutes), rules],
    ['triggerServiceRoutes', registered(triggerServiceRoutes), triggerService],
  ] as const)('%s accepts prefix, logLevel and logSerializers', async (_name, make, base) => {
    expect(await thrownBy(() => make({ ...base, prefix: '/v1', logLevel: 'warn', logSerializers: {} }))).toBeUndefined();
  });

  it.each([
    ['bodyLimit 0', { ...notification, bodyLimit: 0 }],
    ['bodyLimit 1.5', { ...notification, bodyLimit: 1.5 }],
    ['defaultRetryAfterSeconds -1', { ...notification, defaultRetryAfterSeconds: -1 }],
    ['no channels', { auth: { tokens: [TOKEN] } }],
    ['no options', undefined],
  ])('createNotificationService refuses %s', (_name, options) => {
    expect(() => createNotificationService(options as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });

  it.each([
    ['statsWindowMs 0', { ...rules, statsWindowMs: 0 }],
    ['rateLimit.max -5', { ...rules, rateLimit: { max: -5 } }],
    ['bodyLimit NaN', { ...rules, bodyLimit: Number.NaN }],
  ])('rulesRoutes refuses %s', async (_name, options) => {
    expect(await thrownBy(() => registered(rulesRoutes)(options))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });
});
