import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWebhook } from '@crm-automation/channels';

/*
 * `createWebhook` without a signing secret needs an explicit `unsigned: true`, whatever "without"
 * looks like to a JavaScript caller: no key, undefined, null, an empty or blank string (an unset
 * environment variable), an empty list or a list of blanks. Each is refused alone and accepted with
 * `unsigned: true`; a wrong kind of value for any option is a CRM_ERR_CONFIG naming it, never a TypeError.
 */

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
type Options = Parameters<typeof createWebhook>[0];

function thrownBy(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
}

const NO_SECRET: Array<[string, Record<string, unknown>]> = [
  ['no key', {}],
  ['undefined', { signingSecret: undefined }],
  ['null', { signingSecret: null }],
  ['an empty string', { signingSecret: '' }],
  ['spaces', { signingSecret: '   ' }],
  ['a tab and a newline', { signingSecret: '\t\n' }],
  ['an empty list', { signingSecret: [] }],
  ['a list of blanks', { signingSecret: ['', ' '] }],
  ['a list holding null', { signingSecret: [null] }],
];

describe('createWebhook without a signing secret', () => {
  it.each(NO_SECRET)('%s: refused alone, naming unsigned: true', (_name, options) => {
    expect(thrownBy(() => createWebhook(options as Options))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('unsigned: true') as string });
  });

  it.each(NO_SECRET)('%s: refused with unsigned: false', (_name, options) => {
    expect(thrownBy(() => createWebhook({ ...options, unsigned: false } as Options))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });

  it.each(NO_SECRET)('%s: accepted with unsigned: true', (_name, options) => {
    expect(() => createWebhook({ ...options, unsigned: true } as Options)).not.toThrow();
  });

  it.each([['"true"', 'true'], ['1', 1], ['null', null], ['{}', {}]])('unsigned: %s is not true: a CRM_ERR_CONFIG naming unsigned', (_name, unsigned) => {
    expect(thrownBy(() => createWebhook({ unsigned } as unknown as Options))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('unsigned') as string });
  });

  it('accepts a real secret, trimmed of surrounding whitespace, alone or in a list', () => {
    for (const signingSecret of [SECRET, ` ${SECRET}\n`, [SECRET], [SECRET, '']]) expect(() => createWebhook({ signingSecret })).not.toThrow();
    expect(thrownBy(() => createWebhook({ signingSecret: SECRET, unsigned: true }))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringMatching(/contradicts/) as string });
  });

  it('refuses a secret that is not one, naming signingSecret', () => {
    for (const signingSecret of ['x', 'whsec_', 'whsec_!!!', 42, {}, [SECRET, 42], [[SECRET]]]) {
      expect(thrownBy(() => createWebhook({ signingSecret } as unknown as Options))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('signingSecret') as string });
    }
  });

  it('any blank string counts as no secret (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2003'), { maxLength: 8 }).map((chars) => chars.join('')), (blank) => {
        expect(thrownBy(() => createWebhook({ signingSecret: blank }))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('unsigned: true') as string });
        expect(() => createWebhook({ signingSecret: blank, unsigned: true })).not.toThrow();
      }),
    );
  });
});

describe('createWebhook refuses a wrong kind of value for a known option', () => {
  const wrong: Array<[key: string, values: unknown[]]> = [
    ['allowHosts', ['hooks.example.com', 42, {}, [1], [''], [null]]],
    ['allowPrivateNetworks', ['yes', 1, {}, null]],
    ['lookup', ['dns', 42, {}]],
    ['connect', ['tcp', 1, {}]],
    ['now', [1, 'now', {}]],
    ['userAgent', [1, '', {}]],
    ['timeoutMs', ['5', 0, -1, 1.5, Number.NaN]],
    ['name', ['', 'Has Spaces', 1]],
  ];
  it.each(wrong.flatMap(([key, values]) => values.map((value, index) => [key, index, value] as const)))('%s (value %d)', (key, _index, value) => {
    const error = thrownBy(() => createWebhook({ unsigned: true, [key]: value } as unknown as Options));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    expect(error).not.toBeInstanceOf(TypeError);
  });
});
