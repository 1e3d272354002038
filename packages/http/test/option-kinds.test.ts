import Fastify, { type FastifyPluginAsync } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import {
  apiKeyAuth,
  buildNotificationApp,
  createNotificationService,
  generateApiKey,
  jwtAuth,
  rulesRoutes,
  serviceTokenAuth,
  triggerServiceClient,
  triggerServiceRoutes,
} from '@crm-automation/http';

/*
 * The HTTP package's factories and plugins refuse what a JavaScript caller gets wrong with
 * CRM_ERR_CONFIG naming the option: an unknown key where none was checked before (apiKeyAuth,
 * serviceTokenAuth, jwtAuth), a known key of the wrong kind (an engine that is a string, a logger
 * without `child`, a gateway without `send`), options that are not an object. Never a TypeError at
 * registration or a 500 on every request later.
 */

const TOKEN = 't'.repeat(24);
const key = generateApiKey();
const engine = createAutomationEngine({ store: createMemoryStore() });

type Make = (options: unknown) => unknown;
const register = <T,>(plugin: FastifyPluginAsync<T & Record<never, never>>) => async (options: unknown) => {
  const app = Fastify();
  try {
    await app.register(plugin as FastifyPluginAsync, options as Record<string, never>);
    await app.ready();
  } finally {
    await app.close();
  }
};

const FACTORIES: Array<[name: string, make: Make, base: Record<string, unknown>, wrong: Array<[key: string, values: unknown[]]>, typos: Array<[typo: string, key: string]>]> = [
  [
    'createNotificationService',
    (o) => createNotificationService(o as never),
    { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } },
    [
      ['channels', ['x', 42, [], { sms: 'x' }, { sms: {} }, { sms: null }, { sms: createRecordingChannel }]],
      ['idempotency', ['redis://x', 42, {}, []]],
      ['logger', ['x', 42, {}, console.log]],
    ],
    [['channel', 'channels'], ['idempotence', 'idempotency']],
  ],
  [
    'buildNotificationApp',
    (o) => buildNotificationApp(o as never),
    { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } },
    [
      ['fastify', ['x', 42, []]],
      ['receipts', ['x', 42, []]],
      ['logger', ['x', {}]],
    ],
    [['fastfy', 'fastify'], ['receipt', 'receipts']],
  ],
  [
    'rulesRoutes',
    register(rulesRoutes),
    { engine, authenticate: apiKeyAuth({ keys: [] }) },
    [
      ['engine', ['x', 42, {}, [], () => engine, { ingest: () => undefined }]],
      ['authenticate', ['x', 42, {}, []]],
      ['eventCatalog', ['x', 42, {}]],
    ],
    [['engines', 'engine'], ['authenticat', 'authenticate']],
  ],
  [
    'triggerServiceRoutes',
    register(triggerServiceRoutes),
    { engine, auth: { tokens: [TOKEN] } },
    [['engine', ['x', 42, {}, [], () => engine]]],
    [['engin', 'engine']],
  ],
  [
    'apiKeyAuth',
    (o) => apiKeyAuth(o as never),
    { keys: [{ hash: key.hash, accountId: 'acc' }] },
    [
      ['keys', ['x', 42, {}, [null], [{ hash: 'abc', accountId: 'acc' }], [{ hash: key.hash }], [{ hash: key.hash, accountId: '' }], [{ hash: key.hash, accountId: 'acc', scopes: 'rules:read' }], [{ hash: key.hash, accountId: 'acc', scope: ['rules:read'] }]]],
    ],
    [['key', 'keys'], ['kyes', 'keys']],
  ],
  [
    'serviceTokenAuth',
    (o) => serviceTokenAuth(o as never),
    { tokens: [TOKEN] },
    [
      ['tokens', ['x', 42, {}, [], ['short']]],
      ['realm', [42, '', 'a"b', 'a\r\nb']],
    ],
    [['token', 'tokens'], ['relm', 'realm']],
  ],
  [
    'jwtAuth',
    (o) => jwtAuth(o as never),
    { secret: 's'.repeat(32) },
    [
      ['secret', [42, {}, [], true]],
      ['issuer', [42, '', {}]],
      ['audience', [42, '']],
      ['accountClaim', [1, '']],
      ['clockToleranceSec', ['30', -1, Number.NaN]],
    ],
    [['secrets', 'secret'], ['issuers', 'issuer'], ['publicKy', 'publicKey']],
  ],
  [
    'triggerServiceClient',
    (o) => triggerServiceClient(o as never),
    { baseUrl: 'http://127.0.0.1:1', token: TOKEN },
    [
      ['token', [42, '', {}]],
      ['rules', ['http://rules', 42, {}]],
    ],
    [['tokens', 'token'], ['rule', 'rules']],
  ],
];

async function thrownBy(make: () => unknown): Promise<unknown> {
  try {
    await make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(FACTORIES)('%s', (name, make, base, wrong, typos) => {
  it('accepts its base options', async () => {
    expect(await thrownBy(() => make(base))).toBeUndefined();
  });

  it.each(wrong.flatMap(([option, values]) => values.map((value, index) => [option, index, value] as const)))('refuses a wrong %s (value %d) with CRM_ERR_CONFIG naming it', async (option, _index, value) => {
    const error = await thrownBy(() => make({ ...base, [option]: value }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(option) as string });
    expect(error).not.toBeInstanceOf(TypeError);
  });

  it.each(typos)('refuses the unknown key %s, suggesting %s', async (typo, option) => {
    const error = await thrownBy(() => make({ ...base, [typo]: base[option] ?? 1 }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(`"${typo}" (did you mean "${option}"?)`) as string });
  });

  it.each([['null', null], ['a string', 'x'], ['a number', 42], ['an array', []], ['no options', undefined]])('refuses %s as options', async (_label, options) => {
    expect(await thrownBy(() => make(options))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });
});
