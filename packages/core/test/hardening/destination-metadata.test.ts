import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, createWebhookUrlCheck, type WebhookAddressPolicy } from '@crm-automation/core';

/**
 * Cloud metadata endpoints stay blocked whatever the webhook address policy allows (issue 12): every
 * provider's documented address in every spelling the WHATWG URL parser accepts, and their host names.
 */

const POLICIES: Array<[string, WebhookAddressPolicy]> = [
  ['the default policy', {}],
  ['allowPrivateNetworks', { allowPrivateNetworks: true }],
  ['allowPrivateNetworks and other allowHosts', { allowPrivateNetworks: true, allowHosts: ['hooks.internal', '10.0.0.7'] }],
];

const IPV4_ENDPOINTS = ['169.254.169.254', '169.254.170.2', '169.254.170.23', '169.254.0.23', '169.254.42.42', '100.100.100.200', '168.63.129.16', '192.0.0.192'];
const IPV6_ENDPOINTS = ['fd00:ec2::254', 'fd00:ec2::253', 'fd00:ec2::123', 'fd00:ec2::23', 'fd20:ce::254', 'fd00:c1::a9fe:a9fe', 'fd00:a9fe:a9fe::1', 'fd00:42::42', 'fe80::a9fe:a9fe'];
const HOST_NAMES = [
  'metadata.google.internal',
  'metadata',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'instance-data.eu-west-1.compute.internal',
  'metadata.tencentyun.com',
  'api.metadata.cloud.ibm.com',
  'metadata.platformequinix.com',
  'metadata.packet.net',
  'metadata.c.my-project.internal',
];

const octets = (ip: string): number[] => ip.split('.').map(Number);
const hex = (n: number, width = 1) => n.toString(16).padStart(width, '0');

/** One part in a radix the URL parser reads: decimal, octal (leading 0) or hex (0x). */
const inRadix = (n: number, radix: 'dec' | 'oct' | 'hex', upper: boolean) =>
  radix === 'dec' ? String(n) : radix === 'oct' ? `0${n.toString(8)}` : `${upper ? '0X' : '0x'}${upper ? n.toString(16).toUpperCase() : n.toString(16)}`;

/** IPv4 with 1 to 4 parts (the last filling the remaining bytes), each in its own radix. */
function ipv4Spelling(ip: string, parts: 1 | 2 | 3 | 4, radixes: Array<'dec' | 'oct' | 'hex'>, upper: boolean, trailingDot: boolean): string {
  const b = octets(ip);
  const lead = b.slice(0, parts - 1);
  const rest = b.slice(parts - 1).reduce((acc, byte) => acc * 256 + byte, 0);
  const numbers = [...lead, rest];
  return numbers.map((n, i) => inRadix(n, radixes[i] ?? 'dec', upper)).join('.') + (trailingDot ? '.' : '');
}

/** The IPv6 forms that embed an IPv4 address, in bracketed URL spelling. */
function embeddedSpellings(ip: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = octets(ip);
  const high = hex(a * 256 + b);
  const low = hex(c * 256 + d);
  return [
    `[::ffff:${ip}]`,
    `[::ffff:${high}:${low}]`,
    `[0:0:0:0:0:ffff:${high}:${low}]`,
    `[::${ip}]`,
    `[64:ff9b::${ip}]`,
    `[64:ff9b::${high}:${low}]`,
    `[2002:${high}:${low}::]`,
    `[2002:${high}:${low}:1::5]`,
  ];
}

/** Compressed, expanded, upper-case and zero-padded spellings of an IPv6 address. */
function ipv6Spellings(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const full = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return [`[${ip}]`, `[${ip.toUpperCase()}]`, `[${full.join(':')}]`, `[${full.map((g) => g.padStart(4, '0')).join(':')}]`];
}

function ruleTo(url: string) {
  return { name: 'r', trigger: { eventName: 'job.created' }, conditions: { all: [] }, actions: [{ type: 'webhook', params: { url, payload: { id: '{{job.id}}' } } }] };
}

describe.each(POLICIES)('metadata endpoints under %s', (_label, policy) => {
  const check = createWebhookUrlCheck(policy);
  const engine = createAutomationEngine({ store: createMemoryStore(), webhookAddressPolicy: policy });
  const refusedAtSave = (url: string) => {
    const result = engine.rules.validate(ruleTo(url));
    expect(result.ok, url).toBe(false);
    if (!result.ok) expect(result.issues, url).toEqual([expect.objectContaining({ path: 'actions[0].params.url', code: 'blocked_address' })]);
  };

  it('refuses every IPv4 endpoint in every WHATWG spelling (parts, radixes, trailing dot)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...IPV4_ENDPOINTS),
        fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
        fc.array(fc.constantFrom('dec' as const, 'oct' as const, 'hex' as const), { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('http://', 'https://', 'http:/', 'https:\\\\', 'HTTP://'),
        (ip, parts, radixes, upper, dot, scheme) => {
          const url = `${scheme}${ipv4Spelling(ip, parts, radixes, upper, dot)}/latest/{{job.id}}`;
          expect(new URL(url.replace('{{job.id}}', 'x')).hostname).toBe(ip);
          expect(check(new URL(url.replace('{{job.id}}', 'x'))), url).not.toBeNull();
          refusedAtSave(url);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each(IPV4_ENDPOINTS.flatMap(embeddedSpellings))('refuses the IPv6 form %s of an IPv4 endpoint', (host) => {
    refusedAtSave(`http://${host}/computeMetadata/v1/`);
  });

  // Teredo (2001::/32) carries a server and an obfuscated client IPv4 address; the prefix is never a
  // webhook receiver, whatever it embeds.
  it.each(['[2001:0:a9fe:a9fe::5601:5601]', '[2001::6464:64c8:0:9b9b:9b37]', '[2001:0000:a83f:8110:0000:0000:5601:5601]'])('refuses the Teredo address %s', (host) => {
    refusedAtSave(`http://${host}/x`);
  });

  it.each(IPV6_ENDPOINTS.flatMap(ipv6Spellings))('refuses the IPv6 endpoint spelled %s', (host) => {
    refusedAtSave(`http://${host}/latest/meta-data/`);
    refusedAtSave(`https://${host}:8080/{{job.id}}`);
  });

  it.each(HOST_NAMES.flatMap((name) => [name, name.toUpperCase(), `${name}.`, `${name}:80`]))('refuses the metadata host name %s', (host) => {
    refusedAtSave(`http://${host}/computeMetadata/v1/{{job.id}}`);
    refusedAtSave(`http:\\\\${host}\\x`);
  });

  it('refuses a metadata name the URL parser reaches through Unicode (fullwidth letters, soft hyphens)', () => {
    for (const host of ['ｍｅｔａｄａｔａ.google.internal', 'meta\u00addata.google.internal', 'METADATA．GOOGLE．INTERNAL', 'instance\u00ad-data']) refusedAtSave(`http://${host}/x`);
  });

  it('still accepts public names that merely contain the words', () => {
    for (const url of ['https://metadata.example.com/x', 'https://my-metadata.internal.example.com/x', 'https://instance-data.example.org/x', 'https://hooks.example.com/metadata/{{job.id}}']) {
      expect(engine.rules.validate(ruleTo(url)).ok, url).toBe(true);
    }
  });
});

describe('allowHosts opens a metadata destination only when it names it', () => {
  it('names and addresses', () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), webhookAddressPolicy: { allowHosts: ['metadata.google.internal', 'fd00:ec2::254'] } });
    expect(engine.rules.validate(ruleTo('http://metadata.google.internal/x')).ok).toBe(true);
    expect(engine.rules.validate(ruleTo('http://[fd00:ec2:0::254]/x')).ok).toBe(true);
    expect(engine.rules.validate(ruleTo('http://metadata/x')).ok).toBe(false);
    expect(engine.rules.validate(ruleTo('http://[fd00:ec2::253]/x')).ok).toBe(false);
  });
});
