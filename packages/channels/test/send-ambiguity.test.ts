import { createServer as createTcpServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSendgridEmail, createTwilioSms, createWebhook, type HostResolver } from '@crm-automation/channels';
import type { ActionCommand, ChannelGateway } from '@crm-automation/core';
import { commandOf } from './support/commands.js';
import { SENDGRID_API_KEY, startFakeSendgrid, type FakeSendgrid } from './support/fake-sendgrid.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from './support/fake-twilio.js';
import { closedPort } from './support/local-http-server.js';
import type { LocalSmtpServer } from './support/local-smtp-server.js';
import { failure, webhookCommand } from './support/webhook-command.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';
import { fakeProviderPerTest, smtpServerPerTest } from './support/per-test.js';

// Which failures may have reached the provider. Ambiguous ones are held by the engine (unknown) unless
// the gateway dedupes; the others are ordinary transient or permanent failures.

const sms = (extra: Partial<ActionCommand['metadata']> = {}) => {
  const command = commandOf('sms', { recipient: '+15557654321', message: 'Job J-5541 is done.' });
  return { ...command, metadata: { ...command.metadata, ...extra } };
};
const email = (extra: Partial<ActionCommand['metadata']> = {}) => {
  const command = commandOf('email', { recipient: 'jane@crm.example', subject: 'Job J-5541', body: 'Done.' });
  return { ...command, metadata: { ...command.metadata, ...extra } };
};
const signal = (controller = new AbortController()) => ({ controller, context: { signal: controller.signal } });

describe('Twilio sends: ambiguity, aborts, status callbacks', () => {
  let twilio: FakeTwilio;
  fakeProviderPerTest(startFakeTwilio, (started) => (twilio = started));
  const gateway = (extra: Partial<Parameters<typeof createTwilioSms>[0]> = {}) =>
    createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url, ...extra } as Parameters<typeof createTwilioSms>[0]);

  it('does not declare dedupes: Twilio takes no idempotency key', () => {
    expect(gateway().dedupes).not.toBe(true);
  });

  it('a refused connection is transient and not ambiguous: nothing was sent', async () => {
    const error = await failure(gateway({ baseUrl: `http://127.0.0.1:${await closedPort()}` }).send(sms()));
    expect(error).toMatchObject({ retryable: true, provider: 'twilio' });
    expect(error['ambiguous']).not.toBe(true);
  });

  it('no answer after the request was written is ambiguous: Twilio has the message', async () => {
    twilio.failNext({ kind: 'hang' });
    const error = await failure(gateway({ timeoutMs: 300 }).send(sms()));
    expect(error).toMatchObject({ retryable: true, ambiguous: true, provider: 'twilio' });
    expect(twilio.messages).toHaveLength(1);
  });

  it('a connection closed after Twilio took the message is ambiguous', async () => {
    twilio.failNext({ kind: 'reset' });
    expect(await failure(gateway().send(sms()))).toMatchObject({ retryable: true, ambiguous: true });
    expect(twilio.messages).toHaveLength(1);
  });

  it("the engine's signal aborts the request once written, and the failure says it may have been sent", async () => {
    twilio.failNext({ kind: 'hang' });
    const { controller, context } = signal();
    const sending = failure(gateway({ timeoutMs: 60_000 }).send(sms(), context));
    await twilio.waitForMessages(1);
    controller.abort(new Error('engine gave up'));
    const error = await sending;
    expect(error).toMatchObject({ ambiguous: true, retryable: true });
    expect(String(error['message'])).toMatch(/aborted/);
  });

  it('a signal aborted before the send starts sends nothing and is not ambiguous', async () => {
    const { controller, context } = signal();
    controller.abort(new Error('engine gave up'));
    const error = await failure(gateway().send(sms(), context));
    expect(error['ambiguous']).not.toBe(true);
    expect(twilio.requests).toHaveLength(0);
  });

  it('passes the status callback with the delivery id, so a receipt finds its send without the answer', async () => {
    const g = gateway({ statusCallback: 'https://hooks.crm.example/receipts/twilio?tenant=a' });
    await g.send(sms({ deliveryId: 'dlv_123' }));
    await g.send(sms());
    expect(twilio.messages.map((m) => m.StatusCallback)).toEqual(['https://hooks.crm.example/receipts/twilio?tenant=a&d=dlv_123', 'https://hooks.crm.example/receipts/twilio?tenant=a']);
    expect(() => gateway({ statusCallback: 'not a url' })).toThrow(/statusCallback/);
  });

  it('names itself as configured, in results and errors (a second account)', async () => {
    const backup = gateway({ name: 'twilio-backup' });
    expect(backup.name).toBe('twilio-backup');
    expect(await backup.send(sms())).toMatchObject({ provider: 'twilio-backup', id: twilio.messages[0]?.sid });
    twilio.failNext({ kind: 'invalid-number' });
    expect(await failure(backup.send(sms()))).toMatchObject({ provider: 'twilio-backup', retryable: false });
    expect(() => gateway({ name: 'Twilio Backup' })).toThrow(/lower-case token/);
  });
});

describe('SendGrid sends: ambiguity and the delivery id in custom_args', () => {
  let sendgrid: FakeSendgrid;
  fakeProviderPerTest(startFakeSendgrid, (started) => (sendgrid = started));
  const gateway = (extra: Partial<Parameters<typeof createSendgridEmail>[0]> = {}) => createSendgridEmail({ apiKey: SENDGRID_API_KEY, from: 'crm@crm.example', baseUrl: sendgrid.url, ...extra });

  it('sends the delivery id and the idempotency key as custom args', async () => {
    const command = email({ deliveryId: 'dlv_9' });
    await gateway().send(command);
    expect(sendgrid.mails[0]?.custom_args).toMatchObject({ deliveryId: 'dlv_9', idempotencyKey: command.metadata.idempotencyKey, accountId: 'acc_12345' });
    expect(gateway().dedupes).not.toBe(true);
  });

  it('no answer after the request was written is ambiguous; a refused connection is not', async () => {
    sendgrid.failNext({ kind: 'hang' });
    expect(await failure(gateway({ timeoutMs: 300 }).send(email()))).toMatchObject({ ambiguous: true, retryable: true, provider: 'sendgrid' });
    expect(sendgrid.mails).toHaveLength(1);
    const refused = await failure(gateway({ baseUrl: `http://127.0.0.1:${await closedPort()}` }).send(email()));
    expect(refused['ambiguous']).not.toBe(true);
  });

  it('an answer, even a 5xx, is not ambiguous', async () => {
    sendgrid.failNext({ kind: 'server-error' });
    const error = await failure(gateway().send(email()));
    expect(error).toMatchObject({ retryable: true, status: 500 });
    expect(error['ambiguous']).not.toBe(true);
  });
});

describe('webhook sends: dedupes by webhook-id; refusals before the network are not ambiguous', () => {
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const lookup: HostResolver = async (host) => {
    if (host === 'receiver.test') return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  let receiver: WebhookReceiver;
  let servers: Server[];
  beforeEach(async () => {
    receiver = await startWebhookReceiver(SECRET);
    servers = [];
  });
  afterEach(async () => {
    await receiver.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });
  const gateway = (extra: Parameters<typeof createWebhook>[0] = {}): ChannelGateway => createWebhook({ signingSecret: SECRET, allowHosts: ['receiver.test', '127.0.0.1'], lookup, ...extra });
  const url = () => `http://receiver.test:${receiver.port}/hooks`;

  it('declares dedupes and sends the idempotency key as webhook-id on every try', async () => {
    const g = gateway();
    expect(g.dedupes).toBe(true);
    const command = webhookCommand({ url: url(), payload: { a: 1 } });
    receiver.loseNextAnswer({ kind: 'reset' });
    expect(await failure(g.send(command))).toMatchObject({ ambiguous: true, retryable: true, provider: 'webhook' });
    await g.send(command);
    expect(receiver.accepted).toHaveLength(2);
    expect(receiver.distinctIds()).toEqual([command.metadata.idempotencyKey]);
  });

  it('no answer within the timeout is ambiguous', async () => {
    receiver.loseNextAnswer({ kind: 'hang' });
    expect(await failure(gateway({ timeoutMs: 300 }).send(webhookCommand({ url: url() })))).toMatchObject({ ambiguous: true });
  });

  it('an SSRF refusal, an unknown host and a refused connection are not ambiguous', async () => {
    const blocked = await failure(createWebhook({ signingSecret: SECRET }).send(webhookCommand({ url: 'http://10.1.2.3/hooks' })));
    expect(blocked).toMatchObject({ retryable: false, providerCode: 'blocked_address' });
    const unknownHost = await failure(gateway().send(webhookCommand({ url: 'http://nowhere.test/hooks' })));
    expect(unknownHost).toMatchObject({ retryable: false, providerCode: 'ENOTFOUND' });
    const refused = await failure(gateway().send(webhookCommand({ url: `http://127.0.0.1:${await closedPort()}/hooks` })));
    expect(refused).toMatchObject({ retryable: true });
    for (const error of [blocked, unknownHost, refused]) expect(error['ambiguous']).not.toBe(true);
    expect(receiver.requests).toHaveLength(0);
  });

  it('a failed TLS handshake is not ambiguous: the request was never written', async () => {
    // Answers the TLS ClientHello with plain text, as a server that does not speak TLS would.
    const plain = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n', () => socket.destroy());
    });
    servers.push(plain);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const { port } = plain.address() as AddressInfo;
    const error = await failure(gateway().send(webhookCommand({ url: `https://receiver.test:${port}/hooks` })));
    expect(error).toMatchObject({ retryable: true, provider: 'webhook' });
    expect(error['ambiguous']).not.toBe(true);
  });
});

describe('SMTP sends: dedupes by Message-ID; a session lost mid-message is ambiguous', () => {
  let server: LocalSmtpServer;
  const gateway = smtpServerPerTest((started) => (server = started));

  it('declares dedupes: a resend carries the same Message-ID', async () => {
    const g = gateway();
    expect(g.dedupes).toBe(true);
    const command = email();
    await g.send(command);
    await g.send(command);
    expect(new Set(server.mails.map((m) => m.headers['message-id'])).size).toBe(1);
  });

  it("the engine's signal closes the session once the message is at the server, and the failure is ambiguous", async () => {
    server.failNext({ at: 'data', holdMs: 2_000 });
    const { controller, context } = signal();
    const sending = failure(gateway().send(email(), context));
    await server.waitForMessages(1);
    controller.abort(new Error('engine gave up'));
    expect(await sending).toMatchObject({ ambiguous: true, retryable: true, provider: 'smtp' });
  });

  it('no reply to the message within the timeout is ambiguous', async () => {
    server.failNext({ at: 'data', holdMs: 2_000 });
    expect(await failure(gateway({ timeoutMs: 500 }).send(email()))).toMatchObject({ ambiguous: true, retryable: true });
  });

  it('replies and a refused connection are not ambiguous', async () => {
    server.failNext({ at: 'rcpt', code: 550, message: '5.1.1 Mailbox does not exist' });
    server.failNext({ at: 'rcpt', code: 451, message: '4.7.1 Greylisted' });
    const permanent = await failure(gateway().send(email()));
    const transient = await failure(gateway().send(email()));
    const refused = await failure(gateway({ port: await closedPort() }).send(email()));
    expect(permanent).toMatchObject({ retryable: false, status: 550 });
    expect(transient).toMatchObject({ retryable: true, status: 451 });
    expect(refused).toMatchObject({ retryable: true });
    for (const error of [permanent, transient, refused]) expect(error['ambiguous']).not.toBe(true);
  });
});
