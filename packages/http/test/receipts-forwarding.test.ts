import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { createHttpChannels, createSendgridEmail, createTwilioSms } from '@crm-automation/channels';
import { asUntrustedRule, createAutomationEngine, createMemoryIdempotencyStore, createMemoryStore, createRecordingChannel, type AutomationEngine, type Delivery } from '@crm-automation/core';
import { apiKeyAuth, buildNotificationApp, generateApiKey, rulesRoutes, triggerServiceClient, triggerServiceRoutes, type Suppression } from '@crm-automation/http';
import { SENDGRID_API_KEY, startFakeSendgrid, type FakeSendgrid } from '../../channels/test/support/fake-sendgrid.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from '../../channels/test/support/fake-twilio.js';
import { ACCOUNT, emailRule, jobDone, smsRule } from './support/delivery-stack.js';

const NOTIFY_TOKEN = 'notify-token-0123456789abcdef';
const TRIGGERS_TOKEN = 'triggers-token-0123456789abcdef';

/** A loopback server whose address is known before the app on it is built (its gateways name it as their status callback). */
async function listeningServer(): Promise<{ server: Server; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface ThreeServices {
  twilio: FakeTwilio;
  sendgrid: FakeSendgrid;
  /** The trigger service's engine: it keeps the ledger. */
  engine: AutomationEngine;
  notificationUrl: string;
  rulesApp: FastifyInstance;
  apiKey: string;
  suppressions: Suppression[];
  stopTriggerService(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The three-service deployment on loopback: a trigger service (engine + ledger, `triggerServiceRoutes`)
 * sending through a notification service (`buildNotificationApp` with `receipts`, Twilio and SendGrid
 * gateways to the vendor-shaped fakes) whose receipt routes forward to the trigger service
 * (`triggerServiceClient`); a rules service reads deliveries through the same client.
 */
async function startThreeServices(extraChannels: Record<string, ReturnType<typeof createRecordingChannel>> = {}): Promise<ThreeServices> {
  const [twilio, sendgrid] = await Promise.all([startFakeTwilio(), startFakeSendgrid()]);
  const notification = await listeningServer();
  const engine = createAutomationEngine({
    store: createMemoryStore(),
    channels: createHttpChannels({ baseUrl: notification.url, token: NOTIFY_TOKEN, types: ['sms', 'email', ...Object.keys(extraChannels)] }),
  });
  const triggerService = Fastify();
  await triggerService.register(triggerServiceRoutes, { engine, auth: { tokens: [TRIGGERS_TOKEN] } });
  const triggerUrl = await triggerService.listen({ host: '127.0.0.1', port: 0 });
  const client = triggerServiceClient({ baseUrl: triggerUrl, token: TRIGGERS_TOKEN, timeoutMs: 2_000 });

  const suppressions: Suppression[] = [];
  const notificationApp = await buildNotificationApp({
    fastify: { serverFactory: (handler) => notification.server.on('request', handler) },
    channels: {
      sms: createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url, statusCallback: `${notification.url}/receipts/twilio` }),
      email: createSendgridEmail({ apiKey: SENDGRID_API_KEY, from: 'crm@crm.example', baseUrl: sendgrid.url }),
      ...extraChannels,
    },
    idempotency: createMemoryIdempotencyStore(),
    auth: { tokens: [NOTIFY_TOKEN] },
    receipts: {
      deliveries: client,
      twilio: { authToken: TWILIO_AUTH_TOKEN, publicUrl: notification.url },
      sendgrid: { publicKey: sendgrid.verificationKey },
      onSuppression: (s) => void suppressions.push(s),
    },
  });
  await notificationApp.ready();

  const key = generateApiKey();
  const rulesApp = Fastify();
  await rulesApp.register(rulesRoutes, {
    engine: createAutomationEngine({ ruleStore: createMemoryStore() }),
    triggers: client,
    authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: ACCOUNT }] }),
  });

  let triggerServiceUp = true;
  const stopTriggerService = async () => {
    if (!triggerServiceUp) return;
    triggerServiceUp = false;
    await triggerService.close();
  };
  return {
    twilio,
    sendgrid,
    engine,
    notificationUrl: notification.url,
    rulesApp,
    apiKey: key.key,
    suppressions,
    stopTriggerService,
    async close() {
      await engine.stop();
      await rulesApp.close();
      await notificationApp.close();
      notification.server.closeAllConnections();
      await stopTriggerService();
      await Promise.all([twilio.close(), sendgrid.close()]);
    },
  };
}

describe('receipts in the three-service deployment: notification service → trigger service ledger', () => {
  let services: ThreeServices;
  afterEach(() => services?.close());

  const sendOnce = async (rule: Parameters<AutomationEngine['rules']['create']>[1]): Promise<Delivery> => {
    const saved = await services.engine.rules.create(ACCOUNT, rule);
    const trigger = (await services.engine.ingest(jobDone())).find((t) => t.ruleId === saved.id);
    await services.engine.runDue();
    const [delivery, ...others] = await services.engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    expect(others).toEqual([]);
    if (!delivery) throw new Error('the run recorded no send');
    return delivery;
  };
  const current = async (delivery: Delivery) => (await services.engine.deliveries.get(ACCOUNT, delivery.id)) as Delivery;
  const viaRulesApi = async (url: string) => {
    const response = await services.rulesApp.inject({ url, headers: { authorization: `Bearer ${services.apiKey}` } });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };

  it('Twilio status callbacks reach the trigger service without a service token, forward only, duplicates and unknown ids ignored', async () => {
    services = await startThreeServices();
    const sent = await sendOnce(smsRule);
    // The real provider, not the notification service, with the id Twilio gave.
    expect(sent).toMatchObject({ state: 'accepted', provider: 'twilio', providerId: services.twilio.messages[0]?.sid });
    expect(services.twilio.messages[0]?.StatusCallback).toBe(`${services.notificationUrl}/receipts/twilio?d=${encodeURIComponent(sent.id)}`);
    const sid = sent.providerId ?? '';

    expect(JSON.parse((await services.twilio.statusCallback(sid, 'undelivered', { errorCode: '30005' })).body)).toEqual({ applied: true });
    for (const late of ['sent', 'delivered', 'undelivered']) {
      const answer = await services.twilio.statusCallback(sid, late);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ applied: false, reason: 'stale' });
    }
    const unknown = await services.twilio.statusCallback('SM99999999999999999999999999999999', 'delivered', { url: `${services.notificationUrl}/receipts/twilio` });
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([200, { applied: false, reason: 'unknown-id' }]);

    const after = await current(sent);
    expect(after.state).toBe('undelivered');
    expect(after.events.filter((e) => e.source === 'receipt').map((e) => e.state)).toEqual(['undelivered']);
    expect(services.suppressions).toEqual([expect.objectContaining({ reason: 'undelivered', channel: 'sms', recipient: '+15557654321', accountId: ACCOUNT, deliveryId: sent.id })]);

    // The rules service reads the same ledger through the trigger service.
    const shown = await viaRulesApi(`/deliveries/${sent.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: sent.id, state: 'undelivered', provider: 'twilio' });
    const ofTrigger = await viaRulesApi(`/triggers/${sent.triggerId}/deliveries`);
    expect((ofTrigger.body['items'] as Delivery[]).map((d) => d.state)).toEqual(['undelivered']);
  });

  it('a bad signature is refused at the notification service with 401, and the ledger is unchanged', async () => {
    services = await startThreeServices();
    const sent = await sendOnce(smsRule);
    const forged = await services.twilio.statusCallback(sent.providerId ?? '', 'delivered', { authToken: 'forged-token-0123456789abcdef01' });
    expect(forged.status).toBe(401);
    const tampered = await services.sendgrid.postEvents(`${services.notificationUrl}/receipts/sendgrid`, [{ event: 'delivered', deliveryId: sent.id }], { tamper: 'body' });
    expect(tampered.status).toBe(401);
    expect((await current(sent)).events).toEqual(sent.events);
    expect(services.suppressions).toEqual([]);
  });

  it('SendGrid events in and out of order, retried as SendGrid retries a batch', async () => {
    services = await startThreeServices();
    const sent = await sendOnce(emailRule);
    expect(sent).toMatchObject({ provider: 'sendgrid', state: 'accepted' });
    const mail = services.sendgrid.mails.find((m) => m.custom_args?.['deliveryId'] === sent.id);
    if (!mail) throw new Error('the mail did not reach the fake');
    const batch = [services.sendgrid.eventFor(mail, 'delivered'), services.sendgrid.eventFor(mail, 'processed')];
    const url = `${services.notificationUrl}/receipts/sendgrid`;
    expect(JSON.parse((await services.sendgrid.postEvents(url, batch)).body)).toEqual({ events: 2, applied: 1, ignored: 1 });
    expect(JSON.parse((await services.sendgrid.postEvents(url, batch)).body)).toEqual({ events: 2, applied: 0, ignored: 2 });
    expect((await current(sent)).state).toBe('delivered');
  });

  it('answers 503 when the trigger service is down, so the provider retries the receipt', async () => {
    services = await startThreeServices();
    const sent = await sendOnce(smsRule);
    await services.stopTriggerService();
    const answer = await services.twilio.statusCallback(sent.providerId ?? '', 'delivered');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE' } });
    expect((await current(sent)).state).toBe('accepted');
  });

  it('a gateway of the notification service whose answers name no provider is still counted under its own name', async () => {
    const push = createRecordingChannel({ name: 'onesignal', respond: (_c, n) => ({ id: `push-${n}` }) });
    services = await startThreeServices({ push });
    const sent: string[] = [];
    services.engine.on('action:sent', ({ provider }) => void sent.push(provider));
    const delivery = await sendOnce(asUntrustedRule({ ...smsRule, name: 'Push', actions: [{ type: 'push', params: { recipient: '+15557654321', message: 'Done' } }] }));
    expect(delivery).toMatchObject({ provider: 'onesignal', providerId: 'push-1', state: 'accepted' });
    expect(sent).toEqual(['onesignal']);
  });
});
