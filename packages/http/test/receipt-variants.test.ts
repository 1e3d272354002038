import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createAutomationEngine, type AutomationEngine, type ChannelGateway, type Delivery, type RuleInput } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { receiptRoutes, sendgridPublicKey, verifySendgridSignature, type Suppression } from '@crm-automation/http';

// The SendGrid Event Webhook as providers and their tools send it, in the variants a real account
// sees: every event type, `sg_message_id` forms (older X-Message-Ids hold dots), and the signature
// and key encodings tools produce.

const ACCOUNT = 'acc_1';
const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const verificationKey = keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const emailRule = {
  name: 'Mail the manager',
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [] },
  actions: [{ type: 'email', params: { recipient: 'Manager@CRM.example', subject: 'New job', body: 'A job.' } }],
} satisfies RuleInput;

let app: FastifyInstance | undefined;
let engine: AutomationEngine | undefined;
afterEach(async () => {
  await app?.close();
  await engine?.stop();
});

/** One mail sent through a SendGrid stand-in that answers `messageId` as its X-Message-Id, and the receipt routes. */
async function sentMail(messageId: string, publicKey = verificationKey) {
  const sendgrid: ChannelGateway = { name: 'sendgrid', send: async () => ({ provider: 'sendgrid', id: messageId, status: 202 }) };
  engine = createAutomationEngine({ store: createMemoryStore(), channels: { email: sendgrid } });
  await engine.rules.create(ACCOUNT, emailRule);
  await engine.ingest({ name: 'job.created', accountId: ACCOUNT, payload: {} });
  await engine.runDue();
  const [delivery] = (await engine.deliveries.list(ACCOUNT)).items;
  expect(delivery).toMatchObject({ state: 'accepted', providerId: messageId });
  const suppressions: Suppression[] = [];
  app = Fastify();
  await app.register(receiptRoutes, { deliveries: engine.deliveries, sendgrid: { publicKey }, onSuppression: (s) => void suppressions.push(s) });
  await app.ready();
  const ledger = engine;
  return { delivery: delivery as Delivery, suppressions, now: async () => (await ledger.deliveries.get(ACCOUNT, (delivery as Delivery).id)) as Delivery };
}

function post(events: unknown[], options: { encoding?: 'der' | 'ieee-p1363'; timestamp?: string } = {}) {
  const body = JSON.stringify(events);
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const signature = sign('sha256', Buffer.from(timestamp + body), { key: keys.privateKey, dsaEncoding: options.encoding ?? 'der' }).toString('base64');
  if (!app) throw new Error('no app');
  return app.inject({
    method: 'POST',
    url: '/receipts/sendgrid',
    headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp },
    payload: body,
  });
}

describe('SendGrid events, each type', () => {
  it.each([
    ['processed', 'accepted', undefined],
    ['deferred', 'accepted', undefined],
    ['delivered', 'delivered', undefined],
    // The recipient opened or clicked it: it was delivered, whether or not `delivered` came first.
    ['open', 'delivered', undefined],
    ['click', 'delivered', undefined],
    ['bounce', 'bounced', 'bounce'],
    ['dropped', 'failed', undefined],
    ['spamreport', 'accepted', 'spamreport'],
    ['unsubscribe', 'accepted', 'unsubscribe'],
    ['group_unsubscribe', 'accepted', 'group_unsubscribe'],
    ['group_resubscribe', 'accepted', undefined],
    ['an_event_from_the_future', 'accepted', undefined],
  ])('%s: the send is %s, suppression %s', async (event, state, suppression) => {
    const { now, suppressions } = await sentMail('W-G3zRXVRxWQnRmQjL3E8w');
    const answer = await post([{ email: 'manager@crm.example', event, sg_message_id: 'W-G3zRXVRxWQnRmQjL3E8w.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0', timestamp: Math.floor(Date.now() / 1000), ...(event === 'bounce' ? { type: 'bounce', reason: '550 5.1.1 no such user' } : {}) }]);
    expect(answer.statusCode, answer.body).toBe(200);
    expect((await now()).state).toBe(state);
    expect(suppressions.map((s) => s.reason)).toEqual(suppression === undefined ? [] : [suppression]);
  });

  it.each([1e20, 1e300, -5, 0, 'soon', null])('a delivered event with the timestamp %j is read at the time it arrives, never an invalid date', async (timestamp) => {
    const { now } = await sentMail('time-1');
    const answer = await post([{ email: 'manager@crm.example', event: 'delivered', sg_message_id: 'time-1.filter0001', timestamp }]);
    expect(answer.statusCode, answer.body).toBe(200);
    const delivery = await now();
    expect(delivery.state).toBe('delivered');
    const dates = Object.values(delivery).filter((v): v is Date => v instanceof Date);
    expect(dates.length).toBeGreaterThan(0);
    for (const date of dates) expect(Number.isFinite(date.getTime())).toBe(true);
  });

  it('an open after a bounce changes nothing: the ledger moves forward only', async () => {
    const { now } = await sentMail('mid-1');
    await post([{ event: 'bounce', type: 'bounce', sg_message_id: 'mid-1.filter0001' }, { event: 'open', sg_message_id: 'mid-1.filter0001' }, { event: 'click', sg_message_id: 'mid-1.filter0001' }]);
    expect((await now()).state).toBe('bounced');
  });
});

describe('SendGrid sg_message_id forms', () => {
  it.each([
    ['a current id with the filterdrecv suffix', 'W-G3zRXVRxWQnRmQjL3E8w', 'W-G3zRXVRxWQnRmQjL3E8w.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0'],
    ['a recvd suffix', 'Zx_9-AbCdEfGhIjKlMnOpQ', 'Zx_9-AbCdEfGhIjKlMnOpQ.recvd-5f5b8d8d8-abcde-1-64B7A8B4-1.0'],
    ["an older X-Message-Id with dots (SendGrid's documented example)", '14c5d75ce93.dfd.64b469', '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0'],
    ['the X-Message-Id alone, no suffix', 'plain-id_123', 'plain-id_123'],
    ['an unseen suffix after the first dot', 'abc123', 'abc123.mta-7.0'],
  ])('%s finds its send', async (_name, messageId, sgMessageId) => {
    const { now } = await sentMail(messageId);
    const answer = await post([{ email: 'manager@crm.example', event: 'delivered', sg_message_id: sgMessageId }]);
    expect(JSON.parse(answer.body)).toEqual({ events: 1, applied: 1, ignored: 0 });
    expect((await now()).state).toBe('delivered');
  });

  it('an id that is not the send, even sharing its first part, is ignored (200)', async () => {
    const { now } = await sentMail('14c5d75ce93.dfd.64b469');
    const answer = await post([{ event: 'delivered', sg_message_id: '14c5d75ce93.dfd.000000.filter0001.1.2.0' }, { event: 'delivered', sg_message_id: 'other.filter' }]);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ events: 2, applied: 0, ignored: 2 });
    expect((await now()).state).toBe('accepted');
  });
});

describe('SendGrid signature and key encodings', () => {
  it('takes the signature as DER (what SendGrid sends) or as raw r || s', async () => {
    for (const encoding of ['der', 'ieee-p1363'] as const) {
      const { now } = await sentMail(`mid-${encoding}`);
      const answer = await post([{ event: 'delivered', sg_message_id: `mid-${encoding}.filter0001` }], { encoding });
      expect(answer.statusCode, `${encoding}: ${answer.body}`).toBe(200);
      expect((await now()).state).toBe('delivered');
      await app?.close();
      app = undefined;
    }
  });

  it('takes the key as base64 DER, PEM or the bare point, and refuses a raw signature of another body', () => {
    const jwk = keys.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(String(jwk.x), 'base64url'), Buffer.from(String(jwk.y), 'base64url')]).toString('base64');
    const pem = keys.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const body = Buffer.from('[{"event":"delivered"}]');
    for (const encoding of ['der', 'ieee-p1363'] as const) {
      const signature = sign('sha256', Buffer.concat([Buffer.from('1700000000'), body]), { key: keys.privateKey, dsaEncoding: encoding }).toString('base64');
      for (const key of [verificationKey, pem, point]) {
        expect(verifySendgridSignature(sendgridPublicKey(key), signature, '1700000000', body)).toBe(true);
        expect(verifySendgridSignature(sendgridPublicKey(key), signature, '1700000001', body)).toBe(false);
        expect(verifySendgridSignature(sendgridPublicKey(key), signature, '1700000000', Buffer.from('[]'))).toBe(false);
      }
    }
    expect(() => sendgridPublicKey(Buffer.alloc(65, 7).toString('base64'))).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });

  it('a raw signature by another key is 401 and changes nothing', async () => {
    const { now } = await sentMail('mid-other');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const body = JSON.stringify([{ event: 'delivered', sg_message_id: 'mid-other.filter0001' }]);
    const signature = sign('sha256', Buffer.from(`1700000000${body}`), { key: other.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const answer = await app?.inject({ method: 'POST', url: '/receipts/sendgrid', headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': '1700000000' }, payload: body });
    expect(answer?.statusCode).toBe(401);
    expect(JSON.parse(answer?.body ?? '{}')).toMatchObject({ error: { code: 'CRM_ERR_HTTP_UNAUTHENTICATED' } });
    expect((await now()).state).toBe('accepted');
  });
});
