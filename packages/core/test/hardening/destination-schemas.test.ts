import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createAutomationEngine,
  createMemoryStore,
  emailCommandSchema,
  isEmailAddress,
  isReservedWebhookHeader,
  paramsIssues,
  RESERVED_WEBHOOK_HEADERS,
  webhookCommandSchema,
} from '@crm-automation/core';

/**
 * One schema per action type: whatever a rule may say literally, the rendered command (send time, the
 * Notification Service) says the same of (issue 12). These hold the rule schema and the command schema
 * to one verdict and one code for headers and email recipients.
 */

const engine = createAutomationEngine({ store: createMemoryStore() });
const ruleWith = (action: { type: string; params: Record<string, unknown> }) => ({ name: 'r', trigger: { eventName: 'e' }, conditions: { all: [] }, actions: [action] });
const saveCodes = (action: { type: string; params: Record<string, unknown> }): string[] => {
  const result = engine.rules.validate(ruleWith(action));
  return result.ok ? [] : result.issues.map((i) => i.code);
};
const commandCodes = (schema: typeof webhookCommandSchema | typeof emailCommandSchema, params: unknown): string[] => paramsIssues(schema.safeParse(params)).map((i) => i.code);

const hook = (headers: Record<string, string>) => ({ url: 'https://hooks.example.com/x', headers });

describe('webhook header values', () => {
  it.each([
    ['a\u0001b', 'invalid_header_value'],
    ['a\u001fb', 'invalid_header_value'],
    ['a\u000bb', 'invalid_header_value'],
    ['a\u000cb', 'invalid_header_value'],
    ['a\u007fb', 'invalid_header_value'],
    ['€10', 'invalid_header_value'],
    ['日本', 'invalid_header_value'],
    ['😀', 'invalid_header_value'],
    ['a\u0100', 'invalid_header_value'],
    ['a\rb', 'header_injection'],
    ['a\nb', 'header_injection'],
    ['a\r\nX-Injected: 1', 'header_injection'],
    ['a\u0000b', 'header_injection'],
    ['a\u2028b', 'header_injection'],
    ['a\u2029b', 'header_injection'],
  ])('refuses %j with %s, in a rule and in a rendered command alike', (value, code) => {
    expect(saveCodes({ type: 'webhook', params: hook({ 'x-v': value }) })).toEqual([code]);
    expect(commandCodes(webhookCommandSchema, hook({ 'x-v': value }))).toEqual([code]);
  });

  it.each(['', 'v', ' lead', 'trail ', 'a\tb', 'café', 'ÿ', 'a\u0085b', 'Bearer abc.def', '"quoted", list; q=0.5', 'x'.repeat(4_096)])('accepts %j in both', (value) => {
    expect(saveCodes({ type: 'webhook', params: hook({ 'x-v': value }) })).toEqual([]);
    expect(commandCodes(webhookCommandSchema, hook({ 'x-v': value }))).toEqual([]);
  });

  it('checks only the literal text of a template: values are checked once rendered', () => {
    expect(saveCodes({ type: 'webhook', params: hook({ 'x-v': 'id {{job.id}}' }) })).toEqual([]);
    expect(saveCodes({ type: 'webhook', params: hook({ 'x-v': '€ {{job.id}}' }) })).toEqual(['invalid_header_value']);
    expect(commandCodes(webhookCommandSchema, hook({ 'x-v': 'id €' }))).toEqual(['invalid_header_value']);
  });

  it('gives one verdict for any string, rule and command (generated)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ maxLength: 12 })), (value) => {
        const literal = value.replaceAll('{{', '{').replaceAll('\\', '/');
        const save = saveCodes({ type: 'webhook', params: hook({ 'x-v': literal }) });
        const command = commandCodes(webhookCommandSchema, hook({ 'x-v': literal }));
        expect(save).toEqual(command);
        // The verdict is undici's: tab, printable ASCII and Latin-1 only.
        expect(command.length === 0).toBe(/^[\t\x20-\x7e\x80-\xff]*$/.test(literal) && !/[\u2028\u2029]/.test(literal));
      }),
      { numRuns: 1_500 },
    );
  });
});

describe('webhook header names', () => {
  const names = [...RESERVED_WEBHOOK_HEADERS, 'proxy-authenticate', 'Proxy-Foo', 'PROXY-X', 'proxy-'];
  it.each(names.flatMap((n) => [n, n.toUpperCase(), n.replace(/^./, (c) => c.toUpperCase())]))('refuses %s as reserved_header in a rule and a command', (name) => {
    expect(isReservedWebhookHeader(name)).toBe(true);
    expect(saveCodes({ type: 'webhook', params: hook({ [name]: 'v' }) })).toEqual(['reserved_header']);
    expect(commandCodes(webhookCommandSchema, hook({ [name]: 'v' }))).toEqual(['reserved_header']);
  });

  it.each(['{"__proto__":"x"}', '{"__proto__":{"a":1}}', '{"__proto__":"a\\r\\nb"}', '{"x-ok":"1","__proto__":1}'])('refuses the JSON header object %s (a key zod would skip) in a rule and a command', (json) => {
    const headers = JSON.parse(json) as Record<string, string>;
    expect(saveCodes({ type: 'webhook', params: hook(headers) })).toEqual(['invalid_format']);
    expect(paramsIssues(webhookCommandSchema.safeParse(hook(headers)))).toEqual([expect.objectContaining({ path: 'headers.__proto__', code: 'invalid_format' })]);
  });

  it.each([
    ['51 headers', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`x-h${i}`, 'v']))],
    ['3 values of 4,000 characters', { 'x-a': 'a'.repeat(4_000), 'x-b': 'b'.repeat(4_000), 'x-c': 'c'.repeat(4_000) }],
    ['2 values of 4,096 characters', { 'x-a': 'a'.repeat(4_096), 'x-b': 'b'.repeat(4_096) }],
  ])('refuses a header block receivers would refuse on every send (%s) in a rule and a command', (_, headers) => {
    expect(saveCodes({ type: 'webhook', params: hook(headers) })).toEqual(['too_many_headers']);
    expect(commandCodes(webhookCommandSchema, hook(headers))).toEqual(['too_many_headers']);
  });

  it('measures a rule\'s headers by their literal text and a command\'s whole, so a value the event fills is checked at send', () => {
    const headers = { 'x-a': `${'a'.repeat(4_000)}{{job.note}}`, 'x-b': 'b'.repeat(4_000) };
    expect(saveCodes({ type: 'webhook', params: hook(headers) })).toEqual([]);
    expect(commandCodes(webhookCommandSchema, hook({ 'x-a': 'a'.repeat(4_096), 'x-b': 'b'.repeat(4_096) }))).toEqual(['too_many_headers']);
    expect(commandCodes(webhookCommandSchema, hook(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)]))))).toEqual([]);
  });

  it.each(['x-proxy-id', 'proxied', 'authorization', 'content-type', 'x-webhook-id', 'webhook-idx'])('allows %s', (name) => {
    expect(saveCodes({ type: 'webhook', params: hook({ [name]: 'v' }) })).toEqual([]);
    expect(commandCodes(webhookCommandSchema, hook({ [name]: 'v' }))).toEqual([]);
  });
});

describe('email recipients', () => {
  const refused = [
    'a@crm.example.',
    'a@crm..example',
    'a@.crm.example',
    '.a@crm.example',
    'a.@crm.example',
    'a..b@crm.example',
    'a@-crm.example',
    'a@crm-.example',
    'a@crm.exa_mple',
    'a@1.2.3.4',
    'a@crm.123',
    'a@[127.0.0.1]',
    '"a b"@crm.example',
    '"a"@crm.example',
    'A <a@crm.example>',
    '<a@crm.example>',
    'a@crm.example (comment)',
    'a@crm.example,b@crm.example',
    'a@@crm.example',
    'a@b',
    '@crm.example',
    'a@',
    'a\u0001@crm.example',
    'a@c\u007frm.example',
    'a\u00a0b@crm.example',
    `${'x'.repeat(65)}@crm.example`,
    `a@${'b'.repeat(64)}.example`,
    `a@${'b.'.repeat(128)}example`,
  ];
  it.each(refused)('refuses %j as invalid_recipient, in a rule and a command', (recipient) => {
    expect(isEmailAddress(recipient)).toBe(false);
    expect(saveCodes({ type: 'email', params: { recipient, subject: 's', body: 'b' } })).toEqual(['invalid_recipient']);
    expect(commandCodes(emailCommandSchema, { recipient, subject: 's', body: 'b' })).toEqual(['invalid_recipient']);
  });

  const accepted = ['a@crm.example', 'A.B-c+tag@CRM.Example', "o'brien@crm.example", 'a!#$%&*/=?^_`{|}~@crm.example', 'user@bücher.de', 'user@xn--bcher-kva.de', 'ü@crm.example', 'a@b.c', 'a@sub-1.crm.example', `${'x'.repeat(64)}@crm.example`, `a@${'b'.repeat(63)}.example`];
  it.each(accepted)('accepts %j in both', (recipient) => {
    expect(isEmailAddress(recipient)).toBe(true);
    expect(saveCodes({ type: 'email', params: { recipient, subject: 's', body: 'b' } })).toEqual([]);
    expect(commandCodes(emailCommandSchema, { recipient, subject: 's', body: 'b' })).toEqual([]);
  });

  it('gives one verdict for generated addresses, rule and command', () => {
    const part = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '-', '_', '+', '@', ' ', '"', 'é', '\u0001'), maxLength: 8 });
    fc.assert(
      fc.property(part, part, (local, domain) => {
        const recipient = `${local}@${domain}`;
        const save = saveCodes({ type: 'email', params: { recipient, subject: 's', body: 'b' } });
        const command = commandCodes(emailCommandSchema, { recipient, subject: 's', body: 'b' });
        expect(save).toEqual(command.filter((c) => c !== 'invalid_recipient' || !command.includes('header_injection')));
        expect(command.length === 0).toBe(isEmailAddress(recipient));
        if (command.length === 0) {
          expect(recipient).not.toMatch(/\.\.|^\.|\.@|@\.|\.$|\s|"/);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
