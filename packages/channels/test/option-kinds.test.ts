import { describe, expect, it } from 'vitest';
import { createFailoverGateway, createHttpChannels, createRedisIdempotencyStore, createSendgridEmail, createSmtpEmail, createTwilioSms } from '@crm-automation/channels';
import { createRecordingChannel } from '@crm-automation/core';

/*
 * Each gateway factory refuses a known key holding the wrong kind of value (a number for a URL, a
 * string for a function, an object for a flag) with CRM_ERR_CONFIG naming the key, instead of a
 * TypeError from `.replace`/`.map` or a gateway that fails every send later. Options that are not an
 * object at all are refused too.
 */

type Make = (options: Record<string, unknown>) => unknown;

const FACTORIES: Array<[name: string, make: Make, base: Record<string, unknown>, wrong: Array<[key: string, values: unknown[]]>]> = [
  [
    'createTwilioSms',
    (o) => createTwilioSms(o as never),
    { accountSid: 'AC1', authToken: 't', from: '+15550001111' },
    [
      ['accountSid', [42, true, {}, [], ''] ],
      ['authToken', [42, {}, () => 't', ''] ],
      ['from', [15550001111, {}, []]],
      ['apiKeySid', [1, {}]],
      ['baseUrl', [42, true, {}, [], '']],
      ['statusCallback', [1, {}]],
      ['timeoutMs', ['10', 0, -5, 1.5]],
      ['name', [1, 'Twilio Main', '']],
    ],
  ],
  [
    'createSendgridEmail',
    (o) => createSendgridEmail(o as never),
    { apiKey: 'SG.k', from: 'a@crm.example' },
    [
      ['apiKey', [42, {}, '']],
      ['baseUrl', [42, {}, []]],
      ['replyTo', [1, {}]],
      ['now', [1, 'now', {}]],
    ],
  ],
  [
    'createSmtpEmail',
    (o) => createSmtpEmail(o as never),
    { host: '127.0.0.1', from: 'a@crm.example' },
    [
      ['host', [42, {}, '', []]],
      ['port', ['587', 0, 70_000, 1.5, true, {}]],
      ['secure', ['true', 1, {}]],
      ['requireTLS', ['yes', 0]],
      ['messageIdDomain', [1, {}]],
      ['renderTemplate', ['tpl', 1, {}]],
    ],
  ],
  [
    'createHttpChannels',
    (o) => createHttpChannels(o as never),
    { baseUrl: 'http://127.0.0.1:1', token: 't' },
    [
      ['token', [42, {}, []]],
      ['types', ['sms', 42, {}, [1], ['']]],
      ['capabilities', ['x', 42, [], { sms: 'dedupes' }]],
    ],
  ],
  [
    'createFailoverGateway',
    (o) => createFailoverGateway([createRecordingChannel({ name: 'a' }), createRecordingChannel({ name: 'b' })], o as never),
    {},
    [['name', [42, {}, 'Not A Token', '']]],
  ],
  [
    'createRedisIdempotencyStore',
    (o) => createRedisIdempotencyStore(o as never),
    { url: 'redis://127.0.0.1:1' },
    [
      ['client', ['redis://x', 42, {}]],
      ['url', [42, {}]],
      ['keyPrefix', [1, {}, '']],
    ],
  ],
];

function thrownBy(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(FACTORIES)('%s refuses wrong kinds of values', (name, make, base, wrong) => {
  it.each(wrong.flatMap(([key, values]) => values.map((value, index) => [key, index, value] as const)))('%s (value %d)', (key, _index, value) => {
    const error = thrownBy(() => make({ ...base, [key]: value }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    expect((error as Error).message).toContain(name);
    expect(error).not.toBeInstanceOf(TypeError);
  });

  it.each([['null', null], ['a string', 'x'], ['a number', 42], ['an array', []]])('refuses %s as options', (_label, options) => {
    expect(thrownBy(() => make(options as never))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });

  it('accepts its base options', () => {
    expect(() => make(base)).not.toThrow();
  });
});
