import { describe, expect, it } from 'vitest';
import { classifyAddress, createWebhookAddressCheck, createWebhookUrlCheck, formatIpAddress, parseIpLiteral } from '@crm-automation/core';

describe('parseIpLiteral', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7F000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0x', '0.0.0.0'],
    ['0', '0.0.0.0'],
    ['169.254.43518', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['[::ffff:a9fe:a9fe]', '::ffff:a9fe:a9fe'],
    ['::ffff:169.254.169.254', '::ffff:a9fe:a9fe'],
    ['fe80::1%eth0', 'fe80::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
  ])('%s is %s', (input, expected) => {
    const parsed = parseIpLiteral(input);
    expect(parsed).not.toBeNull();
    if (parsed) expect(formatIpAddress(parsed)).toBe(expected);
  });

  it.each(['example.com', '256.0.0.0', '1.2.3.4.5', '1.256.0.0', '4294967296', '08.0.0.1', '0x1g', '1..2', '', ':::1', '1::2::3', '12345::', '::ffff:1.2.3', '::ffff:01.2.3.4', '1:2:3:4:5:6:7:8:9', 'localhost'])(
    '%s is not an IP literal',
    (input) => {
      expect(parseIpLiteral(input)).toBeNull();
    },
  );

  it('agrees with the WHATWG URL parser on every IPv4 spelling it accepts', () => {
    for (const host of ['127.1', '2130706433', '0x7f.1', '0177.0.0.1', '0x7f.0.0.0x1', '10.1', '192.168.257', '0300.0250.1.1', '1.2.3.4.']) {
      const fromUrl = new URL(`http://${host}/`).hostname;
      const parsed = parseIpLiteral(host);
      expect(parsed && formatIpAddress(parsed), host).toBe(fromUrl);
    }
  });
});

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['::8.8.8.8', 'reserved'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b:1::1', 'reserved'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['127.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
  ])('%s is %s', (input, kind) => {
    expect(classifyAddress(input)?.kind).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '198.20.0.1', '2606:4700:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    '%s is public',
    (input) => {
      expect(classifyAddress(input)?.kind).toBe('public');
    },
  );

  it('names the embedded address of IPv6 forms', () => {
    expect(classifyAddress('[::ffff:a9fe:a9fe]')).toMatchObject({ kind: 'link-local', embedded: { form: 'ipv4-mapped', address: '169.254.169.254' } });
    expect(classifyAddress('64:ff9b::7f00:1')).toMatchObject({ embedded: { form: 'nat64', address: '127.0.0.1' } });
    expect(classifyAddress('2002:a00:1::')).toMatchObject({ kind: 'private', embedded: { form: '6to4', address: '10.0.0.1' } });
  });

  it('returns null for hostnames', () => {
    expect(classifyAddress('hooks.example.com')).toBeNull();
  });
});

describe('webhook address policy', () => {
  const check = createWebhookUrlCheck();
  const refused = (url: string) => check(new URL(url));

  it.each([
    'http://127.0.0.1/hook',
    'http://127.1/hook',
    'http://2130706433/hook',
    'http://0x7f.1/hook',
    'http://0177.0.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[::1]:8080/',
    'http://[fd00::1]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[2002:7f00:1::]/',
    'http://10.0.0.5/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://localhost:3000/',
    'http://api.localhost/',
    'ftp://hooks.example.com/',
    'file:///etc/passwd',
    'https://user:pass@hooks.example.com/',
  ])('refuses %s at save time', (url) => {
    expect(refused(url)).toEqual(expect.any(String));
  });

  it.each(['https://hooks.example.com/new-lead', 'http://8.8.8.8/x', 'https://[2606:4700:4700::1111]/'])('accepts %s', (url) => {
    expect(refused(url)).toBeNull();
  });

  it('allowPrivateNetworks opens private ranges but not metadata, multicast or unspecified', () => {
    const policy = createWebhookAddressCheck({ allowPrivateNetworks: true });
    expect(policy.checkAddress('10.1.2.3')).toBeNull();
    expect(policy.checkAddress('127.0.0.1')).toBeNull();
    expect(policy.checkAddress('fd00::1')).toBeNull();
    expect(policy.checkUrl(new URL('http://localhost/'))).toBeNull();
    expect(policy.checkAddress('169.254.169.254')).toMatch(/link-local/);
    expect(policy.checkAddress('224.0.0.1')).toMatch(/multicast/);
    expect(policy.checkAddress('0.0.0.0')).toMatch(/unspecified/);
  });

  it('allowHosts opens named hosts and literal addresses in any spelling', () => {
    const policy = createWebhookAddressCheck({ allowHosts: ['Receiver.Test.', '127.0.0.1', '[::1]'] });
    expect(policy.checkAddress('10.0.0.1', 'receiver.test')).toBeNull();
    expect(policy.checkAddress('10.0.0.1', 'other.test')).toMatch(/private/);
    expect(policy.checkUrl(new URL('http://127.1:9000/'))).toBeNull();
    expect(policy.checkUrl(new URL('http://[0:0:0:0:0:0:0:1]/'))).toBeNull();
    expect(policy.checkAddress('127.0.0.1')).toBeNull();
    expect(policy.checkAddress('127.0.0.2')).toMatch(/loopback/);
  });

  it('explains the refusal with the matched range', () => {
    expect(refused('http://[::ffff:a9fe:a9fe]/')).toBe(
      '::ffff:a9fe:a9fe (ipv4-mapped form of 169.254.169.254) is a link-local address in 169.254.0.0/16; webhooks may reach public addresses only (allow it with allowHosts)',
    );
  });
});
