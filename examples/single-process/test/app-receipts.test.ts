import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENDGRID_API_KEY, startFakeSendgrid, type FakeSendgrid } from '../../../packages/channels/test/support/fake-sendgrid.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from '../../../packages/channels/test/support/fake-twilio.js';
import { technicianSmsRule } from '../src/rules.js';
import { startApp, type AppProcess } from './support/app-process.js';

const KEY = 'crm_dev_single_process_receipts_test';

interface DeliveryJson {
  id: string;
  triggerId: string;
  state: string;
  provider: string;
  providerId?: string;
  events: Array<{ state: string; source: string; detail?: string }>;
}

// The app as a process with Twilio and SendGrid pointed at the vendor-shaped fakes: sends go out,
// the fakes post signed receipts back to the app, and the Rules API shows where each send is.
describe('npm run app with Twilio and SendGrid: delivery receipts and the deliveries routes', () => {
  let app: AppProcess;
  let twilio: FakeTwilio;
  let sendgrid: FakeSendgrid;

  beforeAll(async () => {
    [twilio, sendgrid] = await Promise.all([startFakeTwilio(), startFakeSendgrid()]);
    app = await startApp(KEY, (base) => ({
      TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN,
      TWILIO_FROM: '+15550001111',
      TWILIO_BASE_URL: twilio.url,
      SENDGRID_API_KEY,
      SENDGRID_FROM: 'crm@crm.example',
      SENDGRID_BASE_URL: sendgrid.url,
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.verificationKey,
      PUBLIC_URL: base,
    }));
  }, 60_000);

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited();
    }
    await Promise.all([twilio?.close(), sendgrid?.close()]);
  });

  /** The sends of a trigger once the engine has recorded an outcome for each. */
  const settledSends = async (triggerId: string): Promise<DeliveryJson[]> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { status, body } = await app.api('GET', `/triggers/${triggerId}/deliveries`);
      const items = body['items'] as DeliveryJson[] | undefined;
      if (status === 200 && items && items.length > 0 && items.every((d) => d.state !== 'intent')) return items;
      if (Date.now() > deadline) throw new Error(`the sends of ${triggerId} did not settle: ${status} ${JSON.stringify(body)}\n${app.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const delivery = async (id: string) => (await app.api('GET', `/deliveries/${id}`)).body as unknown as DeliveryJson;

  it('Twilio status callbacks, signed against PUBLIC_URL, move an SMS forward only; forged ones are refused', async () => {
    const saved = await app.api('POST', '/rules', { ...technicianSmsRule, name: 'SMS at once', trigger: { eventName: 'receipt.sms' }, delay: { value: 0, unit: 'minutes' } });
    expect(saved.status).toBe(201);
    const event = await app.api('POST', '/events', {
      name: 'receipt.sms',
      payload: { job: { id: 'job_r1', number: 'J-7001', status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
    });
    const triggerId = (event.body['triggers'] as Array<{ id: string }>)[0]?.id ?? '';
    const [sent] = await settledSends(triggerId);
    expect(sent, JSON.stringify(sent)).toMatchObject({ state: 'accepted', provider: 'twilio' });
    const message = twilio.messages.find((m) => m.sid === sent?.providerId);
    expect(message?.StatusCallback).toBe(`${app.base}/receipts/twilio?d=${encodeURIComponent(sent?.id ?? '')}`);
    const sid = sent?.providerId ?? '';

    const forged = await twilio.statusCallback(sid, 'undelivered', { authToken: 'not-the-auth-token-0123456789abc' });
    expect(forged.status).toBe(401);
    expect((await delivery(sent?.id ?? '')).state).toBe('accepted');

    expect(JSON.parse((await twilio.statusCallback(sid, 'delivered')).body)).toEqual({ applied: true });
    expect(JSON.parse((await twilio.statusCallback(sid, 'sent')).body)).toEqual({ applied: false, reason: 'stale' });
    expect(JSON.parse((await twilio.statusCallback(sid, 'delivered')).body)).toEqual({ applied: false, reason: 'stale' });
    const unknown = await twilio.statusCallback('SM00000000000000000000000000000000', 'delivered', { url: `${app.base}/receipts/twilio` });
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([200, { applied: false, reason: 'unknown-id' }]);

    const after = await delivery(sent?.id ?? '');
    expect(after.state).toBe('delivered');
    expect(after.events.filter((e) => e.source === 'receipt').map((e) => e.state)).toEqual(['delivered']);
    const listed = await app.api('GET', `/deliveries?state=delivered&provider=twilio&triggerId=${triggerId}`);
    expect((listed.body['items'] as DeliveryJson[]).map((d) => d.id)).toEqual([sent?.id]);
  });

  it("SendGrid's signed Event Webhook bounces an email; the bounce is logged as a suppression; a tampered batch is refused", async () => {
    const event = await app.api('POST', '/events', { name: 'job.created', payload: { job: { id: 'job_r2', number: 'J-7002', total: 2500, client: { name: 'Acme Corp', type: 'Commercial' } } } });
    const triggerId = (event.body['triggers'] as Array<{ id: string }>)[0]?.id ?? '';
    const sends = await settledSends(triggerId);
    const email = sends.find((d) => d.provider === 'sendgrid');
    expect(email?.state).toBe('accepted');
    const mail = sendgrid.mails.find((m) => m.custom_args?.['deliveryId'] === email?.id);
    if (!mail) throw new Error('the email did not reach the fake');
    const url = `${app.base}/receipts/sendgrid`;

    const tampered = await sendgrid.postEvents(url, [sendgrid.eventFor(mail, 'delivered')], { tamper: 'body' });
    expect(tampered.status).toBe(401);
    expect((await delivery(email?.id ?? '')).state).toBe('accepted');

    const bounce = sendgrid.eventFor(mail, 'bounce', { type: 'bounce', reason: '550 5.1.1 unknown user' });
    const answer = await sendgrid.postEvents(url, [sendgrid.eventFor(mail, 'processed'), bounce, sendgrid.eventFor(mail, 'delivered')]);
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ events: 3, applied: 1, ignored: 2 });
    expect((await delivery(email?.id ?? '')).state).toBe('bounced');
    await app.waitForOutput('recipient to suppress');
    expect(app.output()).toMatch(/"reason":"bounce".*recipient to suppress|recipient to suppress.*"reason":"bounce"/);
  });
});
