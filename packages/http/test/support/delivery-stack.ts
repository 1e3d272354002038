import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import { createAutomationEngine, createMemoryStore, type AutomationEngine, type AutomationEngineOptions, type ChannelGateway, type RuleInput } from '@crm-automation/core';
import { clientErrorHandler, frameworkErrorHandler, receiptRoutes, useJsonErrors, type ReceiptRoutesOptions, type TwilioInboundOptions } from '@crm-automation/http';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { SENDGRID_API_KEY, startFakeSendgrid, type FakeSendgrid } from '../../../channels/test/support/fake-sendgrid.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from '../../../channels/test/support/fake-twilio.js';

export const ACCOUNT = 'acc_12345';

/** The design doc's SMS rule, due at once. */
export const smsRule: RuleInput = { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } };
/** The same trigger, as an email. */
export const emailRule: RuleInput = {
  ...smsRule,
  name: 'Email the manager when a job is done',
  actions: [{ type: 'email', params: { recipient: 'manager@crm.example', subject: 'Job #{{job.number}} is done', body: 'Job #{{job.number}} for {{job.client.name}} is done.' } }],
};
/** The same trigger, as a webhook to `url`. */
export const webhookRule = (url: string): RuleInput => ({
  ...smsRule,
  name: 'Tell the CRM when a job is done',
  actions: [{ type: 'webhook', params: { url, payload: { jobId: '{{job.id}}', status: '{{job.status}}' } } }],
});

let events = 0;
/** A fresh `job.status.changed` event for the rules above. */
export const jobDone = () => ({ id: `evt-${++events}`, name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });

export interface LoopbackApp {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

/**
 * A Fastify app on a loopback port known before it is built, since receipt routes sign against their
 * public URL: the server listens first and Fastify is handed it (`serverFactory`).
 */
export async function startLoopbackApp(build: (app: FastifyInstance, url: string) => Promise<void>, fastify: { trustProxy?: boolean | undefined } = {}): Promise<LoopbackApp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = Fastify({
    logger: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    serverFactory: (handler) => server.on('request', handler),
    ...(fastify.trustProxy === undefined ? {} : { trustProxy: fastify.trustProxy }),
  });
  useJsonErrors(app);
  await build(app, url);
  await app.ready();
  return {
    app,
    url,
    async close() {
      await app.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface DeliveryStack {
  twilio: FakeTwilio;
  sendgrid: FakeSendgrid;
  /** Receipt routes on loopback (also the public URL Twilio signs), feeding `engine.deliveries`. */
  receiptsUrl: string;
  engine: AutomationEngine;
  close(): Promise<void>;
}

/**
 * A real engine (memory store, so a ledger) whose Twilio and SendGrid gateways talk to the
 * vendor-shaped fakes, with Twilio's status callbacks pointed at receipt routes that feed the
 * engine's ledger: the loop a deployment has, on loopback.
 */
export async function startDeliveryStack(options: {
  engine?: Partial<AutomationEngineOptions> | undefined;
  receipts?: Partial<ReceiptRoutesOptions> | undefined;
  /** The gateways; by default Twilio, SendGrid and an unsigned loopback webhook. */
  channels?: ((defaults: { sms: ChannelGateway; email: ChannelGateway; webhook: ChannelGateway }, fakes: { twilio: FakeTwilio; sendgrid: FakeSendgrid; receiptsUrl: string }) => Record<string, ChannelGateway>) | undefined;
  twilioTimeoutMs?: number | undefined;
  /** Fastify's `trustProxy` for the receipts app (whether `X-Forwarded-*` say where Twilio called). */
  trustProxy?: boolean | undefined;
  /**
   * Serves the inbound SMS webhook with these options; `engine()` is the stack's engine (made after
   * the routes, since its Twilio gateway needs their URL), to be called when a request arrives.
   */
  twilioInbound?: ((engine: () => AutomationEngine) => TwilioInboundOptions) | undefined;
} = {}): Promise<DeliveryStack> {
  const [twilio, sendgrid] = await Promise.all([startFakeTwilio(), startFakeSendgrid()]);
  let engine: AutomationEngine | undefined;
  const receipts = await startLoopbackApp(async (app, url) => {
    await app.register(receiptRoutes, {
      deliveries: { applyReceipt: (receipt) => (engine as AutomationEngine).deliveries.applyReceipt(receipt) },
      twilio: { authToken: TWILIO_AUTH_TOKEN, publicUrl: url, ...(options.twilioInbound ? { inbound: options.twilioInbound(() => engine as AutomationEngine) } : {}) },
      sendgrid: { publicKey: sendgrid.verificationKey },
      ...options.receipts,
    });
  }, { trustProxy: options.trustProxy });
  const defaults = {
    sms: createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url, statusCallback: `${receipts.url}/receipts/twilio`, timeoutMs: options.twilioTimeoutMs ?? 5_000 }),
    email: createSendgridEmail({ apiKey: SENDGRID_API_KEY, from: 'crm@crm.example', baseUrl: sendgrid.url }),
    webhook: createWebhook({ unsigned: true, allowHosts: ['127.0.0.1'] }),
  };
  const channels = options.channels ? options.channels(defaults, { twilio, sendgrid, receiptsUrl: receipts.url }) : defaults;
  engine = createAutomationEngine({ store: createMemoryStore(), channels, sendTimeoutMs: 5_000, leaseMs: 30_000, ...options.engine });
  const running = engine;
  let closed: Promise<void> | undefined;
  return {
    twilio,
    sendgrid,
    receiptsUrl: receipts.url,
    engine: running,
    close() {
      closed ??= (async () => {
        await running.stop();
        await receipts.close();
        await Promise.all([twilio.close(), sendgrid.close()]);
      })();
      return closed;
    },
  };
}
