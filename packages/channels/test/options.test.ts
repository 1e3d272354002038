import { describe, expect, it } from 'vitest';
import { createHttpChannels, createRedisIdempotencyStore, createSendgridEmail, createSmtpEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import { typosOf } from '@crm-automation/testing';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

type Factory = (options: Record<string, unknown>) => unknown;

// Each factory with options it accepts and every key of its options type, written out here so a key
// dropped from a factory's list fails this test.
const FACTORIES: Array<[name: string, make: Factory, base: Record<string, unknown>, keys: string[]]> = [
  [
    'createTwilioSms',
    (o) => createTwilioSms(o as never),
    { accountSid: 'AC1', authToken: 't', from: '+15550001111' },
    ['accountSid', 'authToken', 'from', 'messagingServiceSid', 'apiKeySid', 'baseUrl', 'timeoutMs', 'statusCallback'],
  ],
  ['createSendgridEmail', (o) => createSendgridEmail(o as never), { apiKey: 'SG.k', from: 'a@crm.example' }, ['apiKey', 'from', 'replyTo', 'baseUrl', 'timeoutMs', 'now']],
  [
    'createSendgridEmail: from',
    (o) => createSendgridEmail({ apiKey: 'SG.k', from: o as never }),
    { email: 'a@crm.example' },
    ['email', 'name'],
  ],
  [
    'createSmtpEmail',
    (o) => createSmtpEmail(o as never),
    { host: '127.0.0.1', from: 'a@crm.example' },
    ['host', 'port', 'secure', 'requireTLS', 'auth', 'from', 'messageIdDomain', 'timeoutMs', 'tls', 'renderTemplate'],
  ],
  ['createSmtpEmail: auth', (o) => createSmtpEmail({ host: '127.0.0.1', from: 'a@crm.example', auth: o as never }), { user: 'u', pass: 'p' }, ['user', 'pass']],
  [
    'createSmtpEmail: tls',
    (o) => createSmtpEmail({ host: '127.0.0.1', from: 'a@crm.example', tls: o as never }),
    { rejectUnauthorized: true },
    ['ca', 'rejectUnauthorized', 'servername'],
  ],
  [
    'createWebhook',
    (o) => createWebhook(o as never),
    { signingSecret: SECRET },
    ['timeoutMs', 'signingSecret', 'unsigned', 'allowPrivateNetworks', 'allowHosts', 'lookup', 'connect', 'userAgent', 'now'],
  ],
  ['createHttpChannels', (o) => createHttpChannels(o as never), { baseUrl: 'http://127.0.0.1:1', token: 't' }, ['baseUrl', 'token', 'timeoutMs', 'types']],
  // Refused before any connection is opened; the url points nowhere.
  ['createRedisIdempotencyStore', (o) => createRedisIdempotencyStore(o as never), { url: 'redis://127.0.0.1:1' }, ['client', 'url', 'ttlMs', 'keyPrefix']],
];

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, base, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
    let thrown: unknown;
    try {
      make({ ...base, [typo]: base[key] ?? 1 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    const message = (thrown as Error).message;
    expect(message).toContain(name);
    expect(message).toContain(`"${typo}" (did you mean "${key}"?)`);
  });

  it('names every unknown key at once, and lists the valid ones', () => {
    expect(() => make({ ...base, zzzUnknown: 1, otherThing: 2 })).toThrow(/"zzzUnknown", "otherThing"; valid options: /);
  });

  it('refuses options that are not an object', () => {
    for (const bad of ['x', 42, [base]]) expect(() => make(bad as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});

describe('factories accept their documented options', () => {
  it.each(FACTORIES.filter(([name]) => name !== 'createRedisIdempotencyStore'))('%s', (_name, make, base) => {
    const made = make(base) as { close?: () => Promise<void> };
    expect(made).toBeDefined();
    void made.close?.();
  });

  it.each([
    ['createTwilioSms', () => createTwilioSms({ accountSid: 'AC1', authToken: 't', from: '+15550001111', timeoutMs: 0 })],
    ['createSendgridEmail', () => createSendgridEmail({ apiKey: 'k', from: 'a@crm.example', timeoutMs: 1.5 })],
    ['createSmtpEmail', () => createSmtpEmail({ host: 'h', from: 'a@crm.example', timeoutMs: -1 })],
    ['createHttpChannels', () => createHttpChannels({ baseUrl: 'http://127.0.0.1:1', token: 't', timeoutMs: Number.NaN })],
    ['createWebhook', () => createWebhook({ unsigned: true, timeoutMs: 0 })],
    ['createRedisIdempotencyStore', () => createRedisIdempotencyStore({ url: 'redis://127.0.0.1:1', ttlMs: 0 })],
  ])('%s refuses a timeout that is not a positive integer', (_name, make) => {
    expect(make).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});
