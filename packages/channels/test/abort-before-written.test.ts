import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import type { ChannelGateway } from '@crm-automation/core';
import { commandOf } from './support/commands.js';
import { failure, webhookCommand } from './support/webhook-command.js';

// A send the engine gives up on while the connection is still being set up (a TLS handshake that never
// completes): nothing left this process, so the gateway must stop at once and say so (not ambiguous).
// undici itself acts on an abort only once connected, which kept such a send waiting for its
// connect timeout (10 s) whatever the signal or the gateway's own timeoutMs said.

const servers: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  // The connections held open would keep close() waiting.
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

/** A TCP server that accepts connections and never says anything: a TLS handshake to it hangs. */
async function silentServer(): Promise<number> {
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const gateways: Array<[string, (baseUrl: string, timeoutMs: number) => ChannelGateway, () => ReturnType<typeof commandOf>]> = [
  ['twilio', (baseUrl, timeoutMs) => createTwilioSms({ accountSid: `AC${'0'.repeat(32)}`, authToken: 'token', from: '+15550001111', baseUrl, timeoutMs }), () => commandOf('sms', { recipient: '+15557654321', message: 'Done.' })],
  ['sendgrid', (baseUrl, timeoutMs) => createSendgridEmail({ apiKey: 'SG.key', from: 'crm@example.com', baseUrl, timeoutMs }), () => commandOf('email', { recipient: 'jane@crm.example', subject: 'Job', body: 'Done.' })],
  ['webhook', (_baseUrl, timeoutMs) => createWebhook({ unsigned: true, allowPrivateNetworks: true, timeoutMs }), () => commandOf('webhook', {})],
];

describe('a send aborted before its request was written', () => {
  for (const [name, make, command] of gateways) {
    const send = (gateway: ChannelGateway, port: number, context?: { signal: AbortSignal }) =>
      gateway.send(name === 'webhook' ? webhookCommand({ url: `https://127.0.0.1:${port}/hooks` }) : command(), context);

    it(`${name}: the engine's signal ends it at once, transient and not ambiguous`, async () => {
      const port = await silentServer();
      const controller = new AbortController();
      const started = Date.now();
      const sending = failure(send(make(`https://127.0.0.1:${port}`, 60_000), port, { signal: controller.signal }));
      setTimeout(() => controller.abort(new Error('the engine stopped waiting')), 100);
      const error = await sending;
      expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: true });
      expect(error['ambiguous']).not.toBe(true);
      // Far below undici's 10 s connect timeout: the abort itself ended the wait.
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it(`${name}: its own timeoutMs ends it too`, async () => {
      const port = await silentServer();
      const started = Date.now();
      const error = await failure(send(make(`https://127.0.0.1:${port}`, 200), port));
      expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: true });
      expect(error['ambiguous']).not.toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  }
});

describe('a webhook whose host name never resolves', () => {
  const hanging = () => createWebhook({ unsigned: true, timeoutMs: 60_000, lookup: () => new Promise(() => undefined) });

  it("ends at the engine's abort, transient and not ambiguous (nothing was sent)", async () => {
    const controller = new AbortController();
    const sending = failure(hanging().send(webhookCommand({ url: 'https://hooks.example.com/x' }), { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('the engine stopped waiting')), 50);
    const error = await sending;
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: true, providerCode: 'aborted' });
    expect(error['ambiguous']).not.toBe(true);
  });

  it('ends at its own timeoutMs without a signal', async () => {
    const gateway = createWebhook({ unsigned: true, timeoutMs: 100, lookup: () => new Promise(() => undefined) });
    const error = await failure(gateway.send(webhookCommand({ url: 'https://hooks.example.com/x' })));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: true });
    expect(error['ambiguous']).not.toBe(true);
  });

  it('an already aborted signal sends nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    let lookups = 0;
    const gateway = createWebhook({ unsigned: true, lookup: async () => { lookups += 1; return [{ address: '93.184.216.34', family: 4 }]; } });
    const error = await failure(gateway.send(webhookCommand({ url: 'https://hooks.example.com/x' }), { signal: controller.signal }));
    expect(error).toMatchObject({ retryable: true });
    expect(error['ambiguous']).not.toBe(true);
    expect(lookups).toBeLessThanOrEqual(1);
  });
});
