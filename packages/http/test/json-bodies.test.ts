import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, createRecordingChannel } from '@crm-automation/core';
import {
  apiKeyAuth,
  buildNotificationApp,
  frameworkErrorHandler,
  generateApiKey,
  notificationRoutes,
  rulesRoutes,
  TRIGGER_SERVICE_API_PREFIX,
  triggerServiceRoutes,
} from '@crm-automation/http';
import { expectErrorBody } from '@crm-automation/testing';
import { charsetOf, findDuplicateKey } from '../src/json-body.js';

/*
 * What Fastify's JSON parser lets through and every JSON route of this package refuses: a charset
 * other than UTF-8 (415), bytes that are not UTF-8 (400), and a key twice in one object (400, with the
 * key's path), each with the usual { error: { code, message, issues? } } body. Good bodies in every
 * accepted spelling of the media type still pass.
 */

const TOKEN = 'svc-token-0123456789abcdef';
const key = generateApiKey();
const engine = () => createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() } });

interface Target {
  name: string;
  build: () => Promise<FastifyInstance>;
  url: string;
  headers: Record<string, string>;
  /** A body the route accepts (2xx). */
  good: Record<string, unknown>;
}

const smsCommand = (triggerId: string) => ({ recipient: '+15557654321', message: 'hi', metadata: { triggerId, ruleId: 'r1', accountId: 'acc' } });

const TARGETS: Target[] = [
  {
    name: 'buildNotificationApp',
    build: () => buildNotificationApp({ channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } }),
    url: '/api/v1/sms',
    headers: { authorization: `Bearer ${TOKEN}` },
    good: smsCommand('t_good'),
  },
  {
    name: 'notificationRoutes in a bare app',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler });
      await app.register(notificationRoutes, { channels: { sms: createRecordingChannel() }, auth: { tokens: [TOKEN] } });
      return app;
    },
    url: '/api/v1/sms',
    headers: { authorization: `Bearer ${TOKEN}` },
    good: smsCommand('t_good'),
  },
  {
    name: 'rulesRoutes',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler });
      await app.register(rulesRoutes, { engine: engine(), authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc' }] }), rateLimit: false });
      return app;
    },
    url: '/events',
    headers: { authorization: `Bearer ${key.key}` },
    good: { name: 'job.created', payload: { job: { id: 1 } } },
  },
  {
    name: 'triggerServiceRoutes',
    build: async () => {
      const app = Fastify({ frameworkErrors: frameworkErrorHandler });
      await app.register(triggerServiceRoutes, { engine: engine(), auth: { tokens: [TOKEN] } });
      return app;
    },
    url: `${TRIGGER_SERVICE_API_PREFIX}/triggers/list`,
    headers: { authorization: `Bearer ${TOKEN}` },
    good: { accountId: 'acc', filter: {} },
  },
];

const REFUSED_CHARSETS = ['latin1', 'iso-8859-1', 'utf-16', 'UTF-16LE', 'utf-32', 'windows-1252', 'bogus', '"latin1"', 'ascii7', ''];
const ACCEPTED_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset="utf-8"', 'application/json; charset=utf8', 'application/json; charset=us-ascii', 'APPLICATION/JSON; Charset=Utf-8', 'application/json; foo=bar'];
// Bytes that are not UTF-8: a lone continuation byte, an overlong encoding, a surrogate, a truncated sequence, 0xFF.
const INVALID_UTF8: Array<[string, number[]]> = [
  ['a lone continuation byte', [0x80]],
  ['an overlong slash', [0xc0, 0xaf]],
  ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ['a truncated sequence', [0xe2, 0x82]],
  ['0xFF', [0xff]],
  ['latin1 é', [0xe9]],
];

function withBytes(good: Record<string, unknown>, bytes: number[]): Buffer {
  // The bytes go inside a string value, so the body is JSON but for its encoding.
  const text = JSON.stringify({ ...good, note: '@' });
  const at = text.indexOf('"@"') + 1;
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + 1))]);
}

// Bodies with one key twice, and the path each answer must name.
const DUPLICATES: Array<[name: string, body: (good: Record<string, unknown>) => string, path: string]> = [
  ['at the top', (good) => `{"dup":1,${JSON.stringify(good).slice(1, -1)},"dup":2}`, 'dup'],
  ['spelled with an escape', (good) => `{"dup":1,${JSON.stringify(good).slice(1, -1)},"d\\u0075p":2}`, 'dup'],
  ['in a nested object', (good) => `{${JSON.stringify(good).slice(1, -1)},"extra":{"a":{"b":1,"b":2}}}`, 'extra.a.b'],
  ['in an array element', (good) => `{${JSON.stringify(good).slice(1, -1)},"extra":[1,{"x":1},{"y":1,"y":1}]}`, 'extra[2].y'],
  ['after a string holding braces and quotes', (good) => `{${JSON.stringify(good).slice(1, -1)},"s":"{\\"q\\":[,}","s":"x"}`, 's'],
  ['an empty key twice', (good) => `{${JSON.stringify(good).slice(1, -1)},"":1,"":2}`, '[""]'],
];

describe.each(TARGETS)('strict JSON bodies: $name', ({ build, url, headers, good }) => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await build();
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (contentType: string, payload: string | Buffer) => app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': contentType }, payload });

  it.each(ACCEPTED_TYPES)('accepts a good body as %s', async (type) => {
    const response = await post(type, JSON.stringify(good));
    expect(response.statusCode, response.body).toBeLessThan(300);
  });

  it('accepts a body starting with a byte order mark', async () => {
    const response = await post('application/json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(good))]));
    expect(response.statusCode, response.body).toBeLessThan(300);
  });

  it.each(REFUSED_CHARSETS)('refuses charset=%s with 415', async (charset) => {
    expectErrorBody(await post(`application/json; charset=${charset}`, JSON.stringify(good)), { status: 415, code: 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' });
  });

  it.each(INVALID_UTF8)('refuses %s (not UTF-8) with 400', async (_name, bytes) => {
    const response = await post('application/json', withBytes(good, bytes));
    expectErrorBody(response, { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    expect(response.json()).toMatchObject({ error: { message: expect.stringContaining('UTF-8') as string } });
  });

  it.each(DUPLICATES)('refuses a duplicate key %s, naming its path', async (_name, body, path) => {
    const response = await post('application/json', body(good));
    expectErrorBody(response, { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    expect(response.json()).toMatchObject({ error: { issues: [{ path, code: 'duplicate_key' }] } });
  });
});

describe('findDuplicateKey', () => {
  it('finds nothing in JSON.stringify output (which never repeats a key), whatever the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(findDuplicateKey(JSON.stringify(value))).toBeUndefined();
      }),
    );
  });

  it('finds a key written twice into any object of any JSON value, with its path', () => {
    const objectWithPath = fc.letrec((tie) => ({
      // A value and the path of an object inside it where the duplicate goes.
      node: fc.oneof(
        { depthSize: 'small' },
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((object) => ({ object, path: [] as Array<string | number> })),
        fc.tuple(fc.string({ maxLength: 6 }), tie('node')).map(([k, inner]) => {
          const { object, path } = inner as { object: unknown; path: Array<string | number> };
          return { object: { [k]: object }, path: [k, ...path] };
        }),
        fc.tuple(fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }), tie('node')).map(([before, inner]) => {
          const { object, path } = inner as { object: unknown; path: Array<string | number> };
          return { object: [...before, object], path: [before.length, ...path] };
        }),
      ),
    })).node as fc.Arbitrary<{ object: unknown; path: Array<string | number> }>;
    fc.assert(
      fc.property(objectWithPath, fc.string({ maxLength: 6 }), ({ object, path }, duplicate) => {
        const marker = '"__h4_marker__":0';
        // Put the marker into the target object, then replace it with the key written twice.
        const target = path.reduce<unknown>((at, step) => (at as Record<string | number, unknown>)[step], object) as Record<string, unknown>;
        const existing = Object.keys(target);
        fc.pre(!existing.includes('__h4_marker__'));
        target['__h4_marker__'] = 0;
        const text = JSON.stringify(object);
        const twice = `${JSON.stringify(duplicate)}:1,${JSON.stringify(duplicate)}:2`;
        // A function, not a string: a key such as "$&" would be read as a replacement pattern.
        const found = findDuplicateKey(text.replace(marker, () => twice));
        // A key the object had already is found at its first repeat: same path either way.
        expect(found).toEqual([...path, duplicate]);
      }),
    );
  });

  it('reads the charset parameter as a header spells it', () => {
    expect(charsetOf('application/json')).toBeUndefined();
    expect(charsetOf('application/json; charset=UTF-8')).toBe('utf-8');
    expect(charsetOf('application/json;CHARSET="latin1"')).toBe('latin1');
    expect(charsetOf('application/json; foo=bar; charset = utf-16 ')).toBe('utf-16');
    expect(charsetOf(undefined)).toBeUndefined();
  });
});
