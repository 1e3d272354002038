import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhook, type ConnectTarget, type HostResolver, type ResolvedAddress, type WebhookConnector } from '@crm-automation/channels';
import { failure, webhookCommand } from './support/webhook-command.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** A resolver and a connector that record every call; the connector never reaches the network. */
function recordingNetwork(answers: (host: string, call: number) => ResolvedAddress[]) {
  const lookups: string[] = [];
  const connects: ConnectTarget[] = [];
  const lookup: HostResolver = async (host) => {
    lookups.push(host);
    return answers(host, lookups.length);
  };
  const connector: WebhookConnector = async (target) => {
    connects.push(target);
    throw Object.assign(new Error('test connector: no network'), { code: 'ECONNREFUSED' });
  };
  return { lookups, connects, lookup, connector };
}

const PUBLIC: ResolvedAddress = { address: '93.184.216.34', family: 4 };

describe('webhook SSRF defences', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://127.1/hook',
    'http://127.0.1/hook',
    'http://2130706433/hook',
    'http://0x7f.1/hook',
    'http://0x7f000001/hook',
    'http://0177.0.0.1/hook',
    'http://0177.1/hook',
    'http://127.0.0.1.:8080/hook',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://169.254.43518/',
    'http://0xa9fea9fe/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:127.0.0.1]:9000/',
    'http://[::127.0.0.1]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[64:ff9b::10.0.0.1]/',
    'http://[2002:a9fe:a9fe::1]/',
    'http://[2002:7f00:1::]/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[::]/',
    'http://0.0.0.0/',
    'http://0/',
    'http://10.0.0.1/',
    'http://10.255.255.255/',
    'http://172.16.0.1/',
    'http://172.31.255.254/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://100.127.255.254/',
    'http://224.0.0.1/',
    'http://239.255.255.250:1900/',
    'http://255.255.255.255/',
    'http://240.0.0.1/',
    'http://192.0.0.170/',
    'http://192.0.2.10/',
    'http://198.51.100.10/',
    'http://203.0.113.10/',
    'http://198.18.0.1/',
    'http://[fc00::1]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://[fec0::1]/',
    'http://[ff02::1]/',
    'http://[2001:db8::1]/',
    'http://[100::1]/',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://admin.localhost:8080/',
  ])('refuses %s without resolving or connecting', async (url) => {
    const net = recordingNetwork(() => [PUBLIC]);
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url, payload: {} })));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 'blocked_address' });
    expect(net.lookups).toEqual([]);
    expect(net.connects).toEqual([]);
  });

  it.each([
    ['ftp://hooks.example.com/x', /scheme "ftp"/],
    ['file:///etc/passwd', /scheme "file"/],
    ['gopher://hooks.example.com:70/_x', /scheme "gopher"/],
    ['javascript:alert(1)', /scheme "javascript"/],
    ['https://user:secret@hooks.example.com/x', /credentials/],
    ['https://:secret@hooks.example.com/x', /credentials/],
    ['not a url', /not an absolute URL/],
    ['http://hooks.example.com/x\r\nX-Injected: 1', /line break/],
  ])('refuses %s before any network access', async (url, message) => {
    const net = recordingNetwork(() => [PUBLIC]);
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url, payload: {} })));
    expect(error).toMatchObject({ retryable: false });
    expect(error['message']).toMatch(message);
    expect(net.lookups).toEqual([]);
    expect(net.connects).toEqual([]);
  });

  it.each([
    ['10.0.0.5', 4],
    ['127.0.0.1', 4],
    ['169.254.169.254', 4],
    ['100.100.100.200', 4],
    ['::1', 6],
    ['::ffff:169.254.169.254', 6],
    ['::ffff:a9fe:a9fe', 6],
    ['64:ff9b::7f00:1', 6],
    ['fd00::1', 6],
    ['fe80::1', 6],
  ] as const)('refuses a hostname that resolves to %s, without connecting', async (address, family) => {
    const net = recordingNetwork(() => [{ address, family }]);
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url: 'https://hooks.attacker.example/x', payload: {} })));
    expect(error).toMatchObject({ retryable: false, providerCode: 'blocked_address' });
    expect(error['message']).toMatch(/hooks\.attacker\.example resolves to a blocked address/);
    expect(net.lookups).toEqual(['hooks.attacker.example']);
    expect(net.connects).toEqual([]);
  });

  it('refuses when ANY resolved address is blocked, even if the first is public', async () => {
    const net = recordingNetwork(() => [PUBLIC, { address: '127.0.0.1', family: 4 }]);
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url: 'https://mixed.example/x', payload: {} })));
    expect(error).toMatchObject({ retryable: false, providerCode: 'blocked_address' });
    expect(net.connects).toEqual([]);
  });

  it('refuses a rebinding resolver that answers private first', async () => {
    const net = recordingNetwork((_host, call) => (call === 1 ? [{ address: '10.0.0.1', family: 4 }] : [PUBLIC]));
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url: 'https://rebind.example/x', payload: {} })));
    expect(error).toMatchObject({ providerCode: 'blocked_address' });
    expect(net.connects).toEqual([]);
  });

  it('connects to the checked address only, with the URL host for TLS', async () => {
    const net = recordingNetwork(() => [PUBLIC]);
    const error = await failure(createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector }).send(webhookCommand({ url: 'https://hooks.example.com/x', payload: {} })));
    // The recording connector refuses, which is a transient connection failure.
    expect(error).toMatchObject({ retryable: true });
    expect(net.connects.length).toBeGreaterThan(0);
    for (const target of net.connects) {
      expect(target).toEqual({ address: '93.184.216.34', family: 4, port: 443, protocol: 'https:', servername: 'hooks.example.com' });
    }
  });

  it('refuses non-http(s) even with allowHosts and allowPrivateNetworks', async () => {
    const net = recordingNetwork(() => [PUBLIC]);
    const gateway = createWebhook({ unsigned: true, lookup: net.lookup, connect: net.connector, allowHosts: ['hooks.example.com'], allowPrivateNetworks: true });
    expect(await failure(gateway.send(webhookCommand({ url: 'ftp://hooks.example.com/', payload: {} })))).toMatchObject({ retryable: false });
    expect(net.connects).toEqual([]);
  });

  describe('DNS rebinding after the check', () => {
    let receiver: WebhookReceiver;
    beforeEach(async () => {
      receiver = await startWebhookReceiver(undefined);
    });
    afterEach(() => receiver.close());

    it('a resolver that answers public then private: the request goes to the public answer only', async () => {
      // Public on the first answer, the metadata service on every later one.
      const lookups: string[] = [];
      const lookup: HostResolver = async (host) => {
        lookups.push(host);
        return lookups.length === 1 ? [PUBLIC] : [{ address: '169.254.169.254', family: 4 }];
      };
      // The connector records where it is asked to connect; as this test must not leave loopback,
      // it then carries the bytes to the local receiver (standing in for 93.184.216.34).
      const targets: ConnectTarget[] = [];
      const connector: WebhookConnector = (target) =>
        new Promise<Socket>((resolve, reject) => {
          targets.push(target);
          const socket = connect({ host: '127.0.0.1', port: receiver.port }, () => resolve(socket));
          socket.once('error', reject);
        });
      const gateway = createWebhook({ unsigned: true, lookup, connect: connector });
      await gateway.send(webhookCommand({ url: `http://rebind.example:${receiver.port}/hook`, payload: { n: 1 } }));

      expect(lookups).toEqual(['rebind.example']);
      expect(targets.map((t) => t.address)).toEqual(['93.184.216.34']);
      expect(receiver.accepted).toHaveLength(1);
      expect(receiver.accepted[0]?.headers['host']).toBe(`rebind.example:${receiver.port}`);

      // The next delivery resolves again, gets the private answer and is refused before connecting.
      const error = await failure(gateway.send(webhookCommand({ url: `http://rebind.example:${receiver.port}/hook`, payload: { n: 2 } })));
      expect(error).toMatchObject({ providerCode: 'blocked_address' });
      expect(targets).toHaveLength(1);
    });

    it('the default connector uses the pinned address, never resolving the name itself', async () => {
      // Only this resolver knows pinned.test, and only once: if undici resolved the name itself the
      // request could not reach the receiver.
      let calls = 0;
      const lookup: HostResolver = async () => {
        calls += 1;
        if (calls > 1) throw new Error('resolved twice');
        return [{ address: '127.0.0.1', family: 4 }];
      };
      await createWebhook({ unsigned: true, lookup, allowHosts: ['pinned.test'] }).send(webhookCommand({ url: `http://pinned.test:${receiver.port}/p`, payload: {} }));
      expect(calls).toBe(1);
      expect(receiver.accepted).toHaveLength(1);
      expect(receiver.accepted[0]?.headers['host']).toBe(`pinned.test:${receiver.port}`);
    });
  });
});
