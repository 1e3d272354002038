import { describe, expect, it } from 'vitest';
import { createWebhook, type ConnectTarget, type HostResolver, type ResolvedAddress, type WebhookConnector } from '@crm-automation/channels';
import { failure, webhookCommand } from './support/webhook-command.js';

/**
 * Send time, with `allowPrivateNetworks`: a cloud metadata service is never reached, whether the URL
 * names it or the resolver answers with it. The resolver and connector are injected; nothing leaves
 * the process.
 */
function network(answer: (host: string) => ResolvedAddress[]) {
  const lookups: string[] = [];
  const connects: ConnectTarget[] = [];
  const lookup: HostResolver = async (host) => {
    lookups.push(host);
    return answer(host);
  };
  const connect: WebhookConnector = async (target) => {
    connects.push(target);
    throw Object.assign(new Error('test connector: no network'), { code: 'ECONNREFUSED' });
  };
  return { lookups, connects, lookup, connect };
}

const PRIVATE: ResolvedAddress = { address: '10.0.0.5', family: 4 };
const PUBLIC: ResolvedAddress = { address: '93.184.216.34', family: 4 };

// Every documented endpoint, as a resolver could answer it (canonical or not, mapped, NAT64, 6to4).
const METADATA_ANSWERS = [
  '169.254.169.254',
  '169.254.170.2',
  '100.100.100.200',
  '168.63.129.16',
  '192.0.0.192',
  'fd00:ec2::254',
  'fd00:ec2::253',
  'fd00:ec2::23',
  'FD00:0EC2:0000:0000:0000:0000:0000:0254',
  'fd20:ce::254',
  'fd00:c1::a9fe:a9fe',
  'fd00:a9fe:a9fe::1',
  'fd00:42::42',
  'fe80::a9fe:a9fe%eth0',
  '::ffff:100.100.100.200',
  '::ffff:a83f:8110',
  '64:ff9b::6464:64c8',
  '2002:6464:64c8::1',
  '::100.100.100.200',
];

describe('webhook metadata endpoints at send time, with allowPrivateNetworks', () => {
  it.each(METADATA_ANSWERS)('refuses a host the resolver answers %s for, next to a private and a public answer, without connecting', async (address) => {
    const net = network(() => [PRIVATE, PUBLIC, { address, family: address.includes(':') ? 6 : 4 }]);
    const webhook = createWebhook({ unsigned: true, allowPrivateNetworks: true, lookup: net.lookup, connect: net.connect });
    const error = await failure(webhook.send(webhookCommand({ url: 'https://hooks.internal.example/x', payload: {} })));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 'blocked_address' });
    expect(net.lookups).toEqual(['hooks.internal.example']);
    expect(net.connects).toEqual([]);
  });

  it.each([
    'metadata.google.internal',
    'METADATA.GOOGLE.INTERNAL.',
    'metadata',
    'metadata.goog',
    'instance-data',
    'instance-data.ec2.internal',
    'instance-data.us-east-2.compute.internal',
    'metadata.tencentyun.com',
    'api.metadata.cloud.ibm.com',
    'metadata.packet.net',
    'ｍｅｔａｄａｔａ.google.internal',
  ])('refuses the metadata name %s before resolving it, whatever the resolver would say', async (host) => {
    const net = network(() => [PRIVATE]);
    const webhook = createWebhook({ unsigned: true, allowPrivateNetworks: true, lookup: net.lookup, connect: net.connect });
    const error = await failure(webhook.send(webhookCommand({ url: `http://${host}/computeMetadata/v1/`, payload: {} })));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 'blocked_address' });
    expect(net.lookups).toEqual([]);
    expect(net.connects).toEqual([]);
  });

  it('refuses metadata names at save time with the same policy (the gateway owns it)', () => {
    const webhook = createWebhook({ unsigned: true, allowPrivateNetworks: true });
    for (const url of ['http://metadata.google.internal/x', 'http://[fd00:ec2::254]/x', 'http://100.100.100.200/x', 'http://[fd00:42::42]/x']) {
      const result = webhook.paramsSchema?.safeParse({ url });
      expect(result?.success, url).toBe(false);
    }
    expect(webhook.paramsSchema?.safeParse({ url: 'http://10.0.0.5/x' }).success).toBe(true);
  });

  it('reaches a metadata name only when allowHosts names it', async () => {
    const net = network(() => [PRIVATE]);
    const webhook = createWebhook({ unsigned: true, allowHosts: ['metadata.google.internal'], lookup: net.lookup, connect: net.connect });
    const error = await failure(webhook.send(webhookCommand({ url: 'http://metadata.google.internal/x', payload: {} })));
    expect(error).toMatchObject({ retryable: true, providerCode: 'ECONNREFUSED' });
    expect(net.connects.map((c) => c.address)).toEqual(['10.0.0.5']);
  });
});
