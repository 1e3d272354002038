import { createPublicKey } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { Delivery } from '@crm-automation/core';
import { DEFAULT_RECEIPT_BODY_LIMIT, receiptRoutes, sendgridPublicKey, twilioSignature, verifySendgridSignature, verifyTwilioSignature, type Suppression } from '@crm-automation/http';
import { TWILIO_AUTH_TOKEN } from '../../channels/test/support/fake-twilio.js';
import { ACCOUNT, emailRule, jobDone, smsRule, startDeliveryStack, type DeliveryStack } from './support/delivery-stack.js';

describe("Twilio's request signature", () => {
  // Published vectors (Twilio's request-validation docs and twilio-node's fixture), not computed here.
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = (caller: string): Array<[string, string]> => [
    ['To', '+18005551212'],
    ['From', caller],
    ['Digits', '1234'],
    ['CallSid', 'CA1234567890ABCDE'],
    ['Caller', caller],
  ];

  it('matches the published vectors', () => {
    expect(twilioSignature('12345', url, params('+14158675310'))).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
    expect(twilioSignature('12345', url, params('+14158675309'))).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });

  it('refuses another token, URL, parameter or an empty signature; accepts any token of a rotation and the URL with its default port', () => {
    const signature = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    expect(verifyTwilioSignature(['12345'], signature, url, params('+14158675309'))).toBe(true);
    expect(verifyTwilioSignature(['old-token', '12345'], signature, url, params('+14158675309'))).toBe(true);
    expect(verifyTwilioSignature(['12345'], signature, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', params('+14158675309'))).toBe(true);
    expect(verifyTwilioSignature(['54321'], signature, url, params('+14158675309'))).toBe(false);
    expect(verifyTwilioSignature(['12345'], signature, 'https://mycompany.com/myapp.php?foo=1&bar=3', params('+14158675309'))).toBe(false);
    expect(verifyTwilioSignature(['12345'], signature, 'http://mycompany.com/myapp.php?foo=1&bar=2', params('+14158675309'))).toBe(false);
    expect(verifyTwilioSignature(['12345'], signature, url, [...params('+14158675309'), ['Extra', '1']])).toBe(false);
    expect(verifyTwilioSignature(['12345'], '', url, params('+14158675309'))).toBe(false);
  });
});

describe("SendGrid's Event Webhook signature", () => {
  // SendGrid's published test vector (its helper libraries' fixtures), not computed here.
  const publicKey = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==';
  const otherKey = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==';
  const signature = 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=';
  const payload = Buffer.from('{"category":"example_payload","event":"test_event","message_id":"message_id"}');

  it('verifies the published vector and refuses another key, timestamp, body or signature', () => {
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), signature, '1588788367', payload)).toBe(true);
    expect(verifySendgridSignature(sendgridPublicKey(otherKey), signature, '1588788367', payload)).toBe(false);
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), signature, '1388788367', payload)).toBe(false);
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), signature, '1588788367', Buffer.from('payload'))).toBe(false);
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), signature.replace('H2j', 'H3j'), '1588788367', payload)).toBe(false);
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), '', '1588788367', payload)).toBe(false);
    expect(verifySendgridSignature(sendgridPublicKey(publicKey), 'not base64 DER', '1588788367', payload)).toBe(false);
  });

  it('takes the key as SendGrid shows it or as PEM, and refuses anything but a P-256 public key', () => {
    const pem = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
    expect(verifySendgridSignature(sendgridPublicKey(pem), signature, '1588788367', payload)).toBe(true);
    expect(() => sendgridPublicKey('not a key')).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});

describe('receiptRoutes options', () => {
  const deliveries = { applyReceipt: async () => ({ applied: false as const, reason: 'unknown-id' as const }) };
  const register = async (options: Record<string, unknown>) => {
    const app = Fastify();
    try {
      await app.register(receiptRoutes, options as never);
      await app.ready();
    } finally {
      await app.close();
    }
  };

  it.each([
    ['no provider', { deliveries }],
    ['no deliveries', { twilio: { authToken: 't' } }],
    ['an unknown key, named', { deliveries, twilio: { authToken: 't' }, sendgird: {} }],
    ['an empty auth token', { deliveries, twilio: { authToken: '' } }],
    ['a relative publicUrl', { deliveries, twilio: { authToken: 't', publicUrl: '/hooks' } }],
    ['a publicUrl with a query', { deliveries, twilio: { authToken: 't', publicUrl: 'https://hooks.example.com/?x=1' } }],
    ['a key that is not P-256', { deliveries, sendgrid: { publicKey: 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=' } }],
    ['a zero body limit', { deliveries, twilio: { authToken: 't' }, bodyLimit: 0 }],
  ])('refuses %s with CRM_ERR_CONFIG', async (_name, options) => {
    await expect(register(options)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });

  it('serves only the providers it is given', async () => {
    for (const [options, served, missing] of [
      [{ deliveries, twilio: { authToken: 't' } }, '/receipts/twilio', '/receipts/sendgrid'],
      [{ deliveries, sendgrid: { publicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==' }, twilio: undefined }, '/receipts/sendgrid', '/receipts/twilio'],
    ] as const) {
      const app = Fastify();
      await app.register(receiptRoutes, options);
      const unsigned = await app.inject({ method: 'POST', url: served, headers: { 'content-type': served.endsWith('twilio') ? 'application/x-www-form-urlencoded' : 'application/json' }, payload: served.endsWith('twilio') ? 'MessageSid=SM1' : '[]' });
      expect(unsigned.statusCode, served).toBe(401);
      const absent = await app.inject({ method: 'POST', url: missing, headers: { 'content-type': 'application/json' }, payload: '[]' });
      expect(absent.statusCode, missing).toBe(404);
      expect(absent.json()).toMatchObject({ error: { code: 'CRM_ERR_HTTP_NOT_FOUND' } });
      await app.close();
    }
  });

  it('defaults the body limit to 1 MiB', () => {
    expect(DEFAULT_RECEIPT_BODY_LIMIT).toBe(1024 * 1024);
  });
});

describe('receipts through the real stack (engine, Twilio and SendGrid gateways, vendor-shaped fakes, receipt routes on loopback)', () => {
  let stack: DeliveryStack;
  let suppressions: Suppression[];
  afterEach(() => stack?.close());

  const start = async (options: Parameters<typeof startDeliveryStack>[0] = {}) => {
    suppressions = [];
    stack = await startDeliveryStack({ ...options, receipts: { onSuppression: (s) => void suppressions.push(s), ...options.receipts } });
    return stack;
  };

  /** Saves `rule`, takes one event and runs it; answers the one send of that run. */
  const sendOnce = async (rule: typeof smsRule): Promise<Delivery> => {
    const { engine } = stack;
    const saved = await engine.rules.create(ACCOUNT, rule);
    const trigger = (await engine.ingest(jobDone())).find((t) => t.ruleId === saved.id);
    await engine.runDue();
    const sends = await engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    expect(sends, `the run of ${saved.name}`).toHaveLength(1);
    return sends[0] as Delivery;
  };
  const current = async (delivery: Delivery) => (await stack.engine.deliveries.get(ACCOUNT, delivery.id)) as Delivery;
  const receiptStates = (delivery: Delivery) => delivery.events.filter((e) => e.source === 'receipt').map((e) => `${e.state}:${e.detail ?? ''}`);

  describe('Twilio status callbacks', () => {
    it('carry the delivery id in the signed StatusCallback URL and move the send forward only, whatever their order', async () => {
      await start();
      const sent = await sendOnce(smsRule);
      expect(sent).toMatchObject({ state: 'accepted', provider: 'twilio' });
      const [message] = stack.twilio.messages;
      expect(message?.StatusCallback).toBe(`${stack.receiptsUrl}/receipts/twilio?d=${encodeURIComponent(sent.id)}`);
      const sid = sent.providerId ?? '';

      // Out of order: delivered arrives before queued and sent.
      const delivered = await stack.twilio.statusCallback(sid, 'delivered');
      expect(delivered.status).toBe(200);
      expect(JSON.parse(delivered.body)).toEqual({ applied: true });
      for (const late of ['sent', 'queued', 'undelivered', 'delivered']) {
        const answer = await stack.twilio.statusCallback(sid, late);
        expect(answer.status, late).toBe(200);
        expect(JSON.parse(answer.body)).toEqual({ applied: false, reason: 'stale' });
      }
      const after = await current(sent);
      expect(after.state).toBe('delivered');
      expect(receiptStates(after)).toEqual(['delivered:delivered']);
      // A stale undelivered after delivered says nothing new about the recipient.
      expect(suppressions).toEqual([]);
    });

    it('undelivered: the send settles there, the suppression hook hears it once, duplicates change nothing', async () => {
      await start();
      const sent = await sendOnce(smsRule);
      const sid = sent.providerId ?? '';
      expect(JSON.parse((await stack.twilio.statusCallback(sid, 'sent')).body)).toEqual({ applied: false, reason: 'stale' });
      expect(JSON.parse((await stack.twilio.statusCallback(sid, 'undelivered', { errorCode: '30003' })).body)).toEqual({ applied: true });
      expect(JSON.parse((await stack.twilio.statusCallback(sid, 'undelivered', { errorCode: '30003' })).body)).toEqual({ applied: false, reason: 'stale' });
      expect(JSON.parse((await stack.twilio.statusCallback(sid, 'delivered')).body)).toEqual({ applied: false, reason: 'stale' });
      const after = await current(sent);
      expect(after.state).toBe('undelivered');
      expect(receiptStates(after)).toEqual(['undelivered:undelivered 30003']);
      expect(suppressions).toEqual([
        expect.objectContaining({ reason: 'undelivered', provider: 'twilio', channel: 'sms', recipient: '+15557654321', accountId: ACCOUNT, deliveryId: sent.id, providerId: sid, detail: '30003' }),
      ]);
    });

    it('failed is an outcome, not a reason to stop writing to the recipient', async () => {
      await start();
      const sent = await sendOnce(smsRule);
      expect(JSON.parse((await stack.twilio.statusCallback(sent.providerId ?? '', 'failed', { errorCode: '30001' })).body)).toEqual({ applied: true });
      expect((await current(sent)).state).toBe('failed');
      expect(suppressions).toEqual([]);
    });

    it('refuses a forged, missing or misdirected signature with 401 and changes nothing', async () => {
      await start();
      const sent = await sendOnce(smsRule);
      const sid = sent.providerId ?? '';
      const url = `${stack.receiptsUrl}/receipts/twilio?d=${encodeURIComponent(sent.id)}`;
      const refusals = [
        await stack.twilio.statusCallback(sid, 'undelivered', { authToken: 'not-the-auth-token-0123456789abcd' }),
        // Signed for another send's URL, replayed against this one.
        await stack.twilio.statusCallback(sid, 'undelivered', { url, signedUrl: `${stack.receiptsUrl}/receipts/twilio?d=another` }),
        await stack.twilio.statusCallback(sid, 'undelivered', { url: `${stack.receiptsUrl}/receipts/twilio`, signedUrl: url }),
        await stack.twilio.statusCallback(sid, 'undelivered', { headers: { 'x-twilio-signature': '' } }),
      ];
      const unsigned = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `MessageSid=${sid}&MessageStatus=undelivered` });
      for (const answer of [...refusals, { status: unsigned.status, body: await unsigned.text() }]) {
        expect(answer.status).toBe(401);
        expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_UNAUTHENTICATED' } });
      }
      const after = await current(sent);
      expect(after.state).toBe('accepted');
      expect(after.events).toEqual(sent.events);
      expect(suppressions).toEqual([]);
    });

    it('answers 200 for an id the ledger does not know, and ignores statuses that are not about delivery', async () => {
      await start();
      const sent = await sendOnce(smsRule);
      const unknownSid = await stack.twilio.statusCallback('SM00000000000000000000000000000000', 'delivered', { url: `${stack.receiptsUrl}/receipts/twilio` });
      expect(unknownSid.status).toBe(200);
      expect(JSON.parse(unknownSid.body)).toEqual({ applied: false, reason: 'unknown-id' });
      const unknownDelivery = await stack.twilio.statusCallback(sent.providerId ?? '', 'delivered', { url: `${stack.receiptsUrl}/receipts/twilio?d=0123456789abcdef01234567` });
      expect(unknownDelivery.status).toBe(200);
      expect(JSON.parse(unknownDelivery.body)).toEqual({ applied: false, reason: 'unknown-id' });
      const inbound = await stack.twilio.statusCallback(sent.providerId ?? '', 'received');
      expect(JSON.parse(inbound.body)).toEqual({ applied: false, reason: 'ignored' });
      expect((await current(sent)).events).toEqual(sent.events);
    });

    it('checks the URL Twilio called, behind a proxy: the configured public URL with the prefix the proxy strips', async () => {
      await start({ receipts: { twilio: { authToken: TWILIO_AUTH_TOKEN, publicUrl: 'https://hooks.crm.example/crm/' } } });
      const sent = await sendOnce(smsRule);
      const path = `/receipts/twilio?d=${encodeURIComponent(sent.id)}`;
      const arrived = `${stack.receiptsUrl}${path}`;
      const asLoopback = await stack.twilio.statusCallback(sent.providerId ?? '', 'delivered', { url: arrived, signedUrl: arrived });
      expect(asLoopback.status).toBe(401);
      const asPublic = await stack.twilio.statusCallback(sent.providerId ?? '', 'delivered', { url: arrived, signedUrl: `https://hooks.crm.example/crm${path}` });
      expect(asPublic.status, asPublic.body).toBe(200);
      expect((await current(sent)).state).toBe('delivered');
    });

    it('without a public URL, rebuilds it from X-Forwarded-Proto and -Host when the app trusts its proxy, and only then', async () => {
      const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hooks.crm.example' };
      for (const trustProxy of [true, false]) {
        await start({ trustProxy, receipts: { twilio: { authToken: TWILIO_AUTH_TOKEN } } });
        const sent = await sendOnce(smsRule);
        const path = `/receipts/twilio?d=${encodeURIComponent(sent.id)}`;
        const answer = await stack.twilio.statusCallback(sent.providerId ?? '', 'delivered', { url: `${stack.receiptsUrl}${path}`, signedUrl: `https://hooks.crm.example${path}`, headers: forwarded });
        expect(answer.status, `trustProxy ${trustProxy}`).toBe(trustProxy ? 200 : 401);
        expect((await current(sent)).state).toBe(trustProxy ? 'delivered' : 'accepted');
        await stack.close();
      }
      // Reached directly, the request's own URL is the one Twilio signed.
      await start({ receipts: { twilio: { authToken: TWILIO_AUTH_TOKEN } } });
      const sent = await sendOnce(smsRule);
      expect((await stack.twilio.statusCallback(sent.providerId ?? '', 'delivered')).status).toBe(200);
    });

    it('bounds the body (413) and takes only form bodies (415), changing nothing', async () => {
      await start({ receipts: { bodyLimit: 2048 } });
      const sent = await sendOnce(smsRule);
      const url = `${stack.receiptsUrl}/receipts/twilio?d=${encodeURIComponent(sent.id)}`;
      const big = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' }, body: `MessageStatus=delivered&Pad=${'x'.repeat(4096)}` });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ error: { code: 'CRM_ERR_HTTP_BODY_TOO_LARGE' } });
      const json = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-twilio-signature': 'x' }, body: '{"MessageStatus":"delivered"}' });
      expect(json.status).toBe(415);
      expect(await json.json()).toMatchObject({ error: { code: 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' } });
      const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'delivered' });
      expect(text.status).toBe(415);
      expect((await current(sent)).events).toEqual(sent.events);
    });
  });

  describe('SendGrid Event Webhook', () => {
    const webhook = () => `${stack.receiptsUrl}/receipts/sendgrid`;
    /** The mail of one send, as the fake received it. */
    const mailOf = (delivery: Delivery) => {
      const mail = stack.sendgrid.mails.find((m) => m.custom_args?.['deliveryId'] === delivery.id);
      if (!mail) throw new Error(`no mail of ${delivery.id} reached the fake`);
      return mail;
    };

    it('finds the send by its deliveryId custom arg and moves it forward only, in and across batches', async () => {
      await start();
      const sent = await sendOnce(emailRule);
      expect(sent).toMatchObject({ state: 'accepted', provider: 'sendgrid', recipient: 'manager@crm.example' });
      const mail = mailOf(sent);
      expect(mail.custom_args).toMatchObject({ deliveryId: sent.id, accountId: ACCOUNT });

      // One batch, out of order: delivered, then a late processed, then an open (not a delivery event).
      const first = await stack.sendgrid.postEvents(webhook(), [stack.sendgrid.eventFor(mail, 'delivered'), stack.sendgrid.eventFor(mail, 'processed'), stack.sendgrid.eventFor(mail, 'open')]);
      expect(first.status, first.body).toBe(200);
      expect(JSON.parse(first.body)).toEqual({ events: 3, applied: 1, ignored: 2 });
      // SendGrid retried the batch: nothing new.
      const retried = await stack.sendgrid.postEvents(webhook(), [stack.sendgrid.eventFor(mail, 'delivered'), stack.sendgrid.eventFor(mail, 'bounce', { type: 'bounce' })]);
      expect(JSON.parse(retried.body)).toEqual({ events: 2, applied: 0, ignored: 2 });
      const after = await current(sent);
      expect(after.state).toBe('delivered');
      expect(receiptStates(after)).toEqual(['delivered:delivered']);
      expect(suppressions).toEqual([]);
    });

    it('finds the send by sg_message_id when the event has no deliveryId', async () => {
      await start();
      const sent = await sendOnce(emailRule);
      const { deliveryId: _deliveryId, ...otherArgs } = mailOf(sent).custom_args ?? {};
      const answer = await stack.sendgrid.postEvents(webhook(), [stack.sendgrid.eventFor({ ...mailOf(sent), custom_args: otherArgs }, 'delivered')]);
      expect(JSON.parse(answer.body)).toEqual({ events: 1, applied: 1, ignored: 0 });
      expect((await current(sent)).state).toBe('delivered');
    });

    it('a hard bounce settles the send and reaches the suppression hook once; a blocked bounce does not suppress', async () => {
      await start();
      const sent = await sendOnce(emailRule);
      // SendGrid reports the address as written; the hook gets it as the ledger keeps it.
      const bounce = stack.sendgrid.eventFor(mailOf(sent), 'bounce', { type: 'bounce', email: 'Manager@CRM.example', reason: '550 5.1.1 The email account that you tried to reach does not exist' });
      expect(JSON.parse((await stack.sendgrid.postEvents(webhook(), [bounce, bounce])).body)).toEqual({ events: 2, applied: 1, ignored: 1 });
      expect((await current(sent)).state).toBe('bounced');
      expect(suppressions).toEqual([expect.objectContaining({ reason: 'bounce', provider: 'sendgrid', channel: 'email', recipient: 'manager@crm.example', accountId: ACCOUNT, deliveryId: sent.id })]);

      const blockedSend = await sendOnce({ ...emailRule, name: 'Another email' });
      const blocked = stack.sendgrid.eventFor(mailOf(blockedSend), 'bounce', { type: 'blocked', reason: 'policy' });
      expect(JSON.parse((await stack.sendgrid.postEvents(webhook(), [blocked])).body)).toMatchObject({ applied: 1 });
      expect((await current(blockedSend)).state).toBe('bounced');
      expect(suppressions).toHaveLength(1);
    });

    it('spam reports and unsubscribes reach the suppression hook without changing the send', async () => {
      await start();
      const sent = await sendOnce(emailRule);
      expect(JSON.parse((await stack.sendgrid.postEvents(webhook(), [stack.sendgrid.eventFor(mailOf(sent), 'delivered'), stack.sendgrid.eventFor(mailOf(sent), 'spamreport')])).body)).toEqual({ events: 2, applied: 1, ignored: 1 });
      expect((await current(sent)).state).toBe('delivered');
      expect(suppressions).toEqual([expect.objectContaining({ reason: 'spamreport', channel: 'email', recipient: 'manager@crm.example', accountId: ACCOUNT, deliveryId: sent.id })]);
    });

    it('a failing suppression hook is logged; the receipt is still applied and answered', async () => {
      await start({ receipts: { onSuppression: () => Promise.reject(new Error('policy store down')) } });
      const sent = await sendOnce(emailRule);
      const answer = await stack.sendgrid.postEvents(webhook(), [stack.sendgrid.eventFor(mailOf(sent), 'bounce', { type: 'bounce' })]);
      expect(answer.status).toBe(200);
      expect((await current(sent)).state).toBe('bounced');
    });

    it('refuses a tampered body, a forged or missing signature with 401 and changes nothing', async () => {
      await start();
      const sent = await sendOnce(emailRule);
      const events = [stack.sendgrid.eventFor(mailOf(sent), 'delivered')];
      for (const tamper of ['body', 'signature', 'unsigned'] as const) {
        const answer = await stack.sendgrid.postEvents(webhook(), events, { tamper });
        expect(answer.status, tamper).toBe(401);
        expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_UNAUTHENTICATED' } });
      }
      expect((await current(sent)).events).toEqual(sent.events);
      expect(suppressions).toEqual([]);
    });

    it('answers 200 for ids the ledger does not know, and 400 for a signed body that is not a batch of events', async () => {
      await start();
      const answer = await stack.sendgrid.postEvents(webhook(), [
        { event: 'delivered', deliveryId: '0123456789abcdef01234567', sg_message_id: 'nobody.filter0001', email: 'x@crm.example', timestamp: 1 },
        { event: 'delivered', email: 'no-ids@crm.example' },
        'not an event',
      ]);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ events: 3, applied: 0, ignored: 3 });
      for (const rawBody of ['{"event":"delivered"}', 'not json']) {
        const bad = await stack.sendgrid.postEvents(webhook(), [], { rawBody });
        expect(bad.status, rawBody).toBe(400);
        expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST' } });
      }
    });

    it('bounds the body: 413 before any work', async () => {
      await start({ receipts: { bodyLimit: 1024 } });
      const answer = await stack.sendgrid.postEvents(webhook(), Array.from({ length: 50 }, (_, i) => ({ event: 'delivered', sg_message_id: `m${i}.filter` })));
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_BODY_TOO_LARGE' } });
    });
  });
});
