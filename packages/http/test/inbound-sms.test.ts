import { afterEach, describe, expect, it } from 'vitest';
import { receiptRoutes, smsKeywordIntent, twilioInboundIntent, type SuppressionEntryInput, type SuppressionRemovalInput, type SuppressionWriter, type TwilioInboundOptions } from '@crm-automation/http';
import { startLoopbackApp, type LoopbackApp } from './support/delivery-stack.js';
import { signAsTwilio } from './support/twilio-signing.js';

const AUTH_TOKEN = 'inbound-auth-token-0123456789abcdef';
const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const OUR_NUMBER = '+15550001111';
const CLIENT = '+15557654321';

interface Change {
  op: 'add' | 'remove';
  accountId: string;
  channel: string;
  recipient: string;
  entry: SuppressionEntryInput | SuppressionRemovalInput;
}

/** A suppression list kept in a map, recording every call it gets. */
function recordingList(): SuppressionWriter & { changes: Change[]; suppressed: Map<string, SuppressionEntryInput> } {
  const suppressed = new Map<string, SuppressionEntryInput>();
  const changes: Change[] = [];
  return {
    changes,
    suppressed,
    async add(accountId, entry) {
      changes.push({ op: 'add', accountId, channel: entry.channel, recipient: entry.recipient, entry });
      suppressed.set(`${accountId}|${entry.channel}|${entry.recipient}`, entry);
      return { created: true };
    },
    async remove(accountId, channel, recipient, change) {
      changes.push({ op: 'remove', accountId, channel, recipient, entry: change });
      return suppressed.delete(`${accountId}|${channel}|${recipient}`);
    },
  };
}

/** The calls a STOP and a START from CLIENT to acc_1 make on the list, the detail naming the Twilio message. */
const optedOut = (messageSid: string): Change => ({
  op: 'add',
  accountId: 'acc_1',
  channel: 'sms',
  recipient: CLIENT,
  entry: { channel: 'sms', recipient: CLIENT, reason: 'stop', source: 'inbound-sms', by: 'twilio', detail: `twilio ${messageSid}` },
});
const optedIn = (messageSid: string): Change => ({ op: 'remove', accountId: 'acc_1', channel: 'sms', recipient: CLIENT, entry: { reason: 'stop', source: 'inbound-sms', by: 'twilio', detail: `twilio ${messageSid}` } });

describe('the signature the tests compute', () => {
  it("is Twilio's: it reproduces the published vectors", () => {
    const form = (caller: string) => ({ To: '+18005551212', From: caller, Digits: '1234', CallSid: 'CA1234567890ABCDE', Caller: caller });
    expect(signAsTwilio('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', form('+14158675310'))).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
    expect(signAsTwilio('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', form('+14158675309'))).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });
});

describe('smsKeywordIntent', () => {
  it.each([
    ['STOP', 'opt-out'],
    ['  stop \n', 'opt-out'],
    ['StopAll', 'opt-out'],
    ['unsubscribe', 'opt-out'],
    ['Cancel', 'opt-out'],
    ['END', 'opt-out'],
    ['quit', 'opt-out'],
    ['Revoke', 'opt-out'],
    ['OPTOUT', 'opt-out'],
    ['START', 'opt-in'],
    ['yes', 'opt-in'],
    [' Unstop', 'opt-in'],
  ] as const)('%j is %s', (body, intent) => {
    expect(smsKeywordIntent(body)).toBe(intent);
  });

  it.each(['', 'please stop', 'STOP!', 'stop stop', 'STOPP', 'ſtop', 'no', 'STOP\u200b', 'start now', 'OPT OUT', 'HELP', 'info'])('%j asks for nothing', (body) => {
    expect(smsKeywordIntent(body)).toBeUndefined();
  });
});

describe('twilioInboundIntent (Advanced Opt-Out)', () => {
  it.each([
    [{ body: 'ARRET', optOutType: 'STOP' }, 'opt-out'],
    [{ body: 'START', optOutType: 'STOP' }, 'opt-out'],
    [{ body: 'COMMENCER', optOutType: 'START' }, 'opt-in'],
    [{ body: 'STOP', optOutType: 'start' }, 'opt-in'],
    [{ body: 'STOP', optOutType: 'HELP' }, undefined],
    [{ body: 'STOP', optOutType: 'SOMETHING-NEW' }, undefined],
    // No OptOutType (or an empty one): the built-in keywords, as without Advanced Opt-Out.
    [{ body: 'STOP' }, 'opt-out'],
    [{ body: ' stop ', optOutType: '  ' }, 'opt-out'],
    [{ body: 'ARRET' }, undefined],
    [{ optOutType: undefined }, undefined],
  ] as const)('%j is %s', (params, intent) => {
    expect(twilioInboundIntent(params)).toBe(intent);
  });
});

describe('POST /receipts/twilio/inbound (over loopback)', () => {
  let served: LoopbackApp | undefined;
  let list: ReturnType<typeof recordingList>;
  let lookups: Array<[string, string]>;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  const start = async (options: { publicUrl?: string; accountFor?: TwilioInboundOptions['accountFor'] } = {}) => {
    list = recordingList();
    lookups = [];
    served = await startLoopbackApp(async (app, url) => {
      await app.register(receiptRoutes, {
        deliveries: { applyReceipt: async () => ({ applied: false as const, reason: 'unknown-id' as const }) },
        twilio: {
          authToken: ['an-older-token', AUTH_TOKEN],
          publicUrl: options.publicUrl ?? url,
          inbound: {
            suppressions: list,
            accountFor:
              options.accountFor ??
              ((to, accountSid) => {
                lookups.push([to, accountSid]);
                return to === OUR_NUMBER && accountSid === ACCOUNT_SID ? 'acc_1' : undefined;
              }),
          },
        },
      });
    });
    return served.url;
  };

  const inboundForm = (body: string, overrides: Record<string, string> = {}) => ({
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    Body: body,
    From: CLIENT,
    MessageSid: 'SM0123456789abcdef0123456789abcdef',
    NumMedia: '0',
    SmsSid: 'SM0123456789abcdef0123456789abcdef',
    To: OUR_NUMBER,
    ...overrides,
  });

  /** Posts `form` to `url`, signed for `signedUrl` with `authToken` (or with `signature` as given). */
  const post = async (url: string, form: Record<string, string>, sign: { authToken?: string; signedUrl?: string; signature?: string | null; rawBody?: string } = {}) => {
    const signature = sign.signature === undefined ? signAsTwilio(sign.authToken ?? AUTH_TOKEN, sign.signedUrl ?? url, form) : sign.signature;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
      body: sign.rawBody ?? new URLSearchParams(form).toString(),
    });
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
  };

  const expectEmptyTwiml = (answer: { status: number; type: string; body: string }) => {
    expect(answer.status, answer.body).toBe(200);
    expect(answer.type).toMatch(/^text\/xml/);
    expect(answer.body).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><Response\/>$/);
  };

  it('STOP suppresses the sender on sms; START removes it; each answered with empty TwiML', async () => {
    const base = await start();
    const url = `${base}/receipts/twilio/inbound`;
    expectEmptyTwiml(await post(url, inboundForm(' Stop ')));
    expect(list.changes).toEqual([optedOut('SM0123456789abcdef0123456789abcdef')]);
    expect(lookups).toEqual([[OUR_NUMBER, ACCOUNT_SID]]);
    expect([...list.suppressed.keys()]).toEqual([`acc_1|sms|${CLIENT}`]);

    expectEmptyTwiml(await post(url, inboundForm('START', { MessageSid: 'SM2' })));
    expect(list.changes[1]).toEqual(optedIn('SM2'));
    expect(list.suppressed.size).toBe(0);
  });

  it("with Advanced Opt-Out, follows Twilio's OptOutType whatever the body says: STOP suppresses, START lifts, HELP does nothing", async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    // A custom opt-out keyword in French, which our list does not know.
    expectEmptyTwiml(await post(url, inboundForm('ARRET', { OptOutType: 'STOP', MessageSid: 'SM1' })));
    expect(list.changes).toEqual([optedOut('SM1')]);
    expect([...list.suppressed.keys()]).toEqual([`acc_1|sms|${CLIENT}`]);
    // HELP with a body that is our STOP keyword: Twilio did not opt the sender out, so neither do we.
    expectEmptyTwiml(await post(url, inboundForm('STOP', { OptOutType: 'HELP', MessageSid: 'SM2' })));
    // A type Twilio may add one day is not guessed at either.
    expectEmptyTwiml(await post(url, inboundForm('STOP', { OptOutType: 'PAUSE', MessageSid: 'SM3' })));
    expect(list.changes).toHaveLength(1);
    expect(lookups).toEqual([[OUR_NUMBER, ACCOUNT_SID]]);
    // A custom opt-in keyword.
    expectEmptyTwiml(await post(url, inboundForm('Oui', { OptOutType: 'START', MessageSid: 'SM4' })));
    expect(list.changes[1]).toEqual(optedIn('SM4'));
    expect(list.suppressed.size).toBe(0);
    // START as the body, STOP as Twilio's verdict: the verdict wins.
    expectEmptyTwiml(await post(url, inboundForm('START', { OptOutType: 'STOP', MessageSid: 'SM5' })));
    expect(list.changes).toEqual([optedOut('SM1'), optedIn('SM4'), optedOut('SM5')]);
  });

  it('refuses an OptOutType added or changed after signing (the signature covers it like every parameter)', async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    const help = inboundForm('STOP', { OptOutType: 'HELP' });
    const stop = inboundForm('STOP', { OptOutType: 'STOP' });
    const plain = inboundForm('hello');
    const refusals = {
      'HELP signed, STOP delivered': await post(url, stop, { signature: signAsTwilio(AUTH_TOKEN, url, help) }),
      'signed without it, added after': await post(url, plain, { signature: signAsTwilio(AUTH_TOKEN, url, plain), rawBody: `${new URLSearchParams(plain).toString()}&OptOutType=STOP` }),
    };
    for (const [name, answer] of Object.entries(refusals)) expect(answer.status, name).toBe(403);
    expect(list.changes).toEqual([]);
    expect(lookups).toEqual([]);
  });

  it('accepts the signature of any configured token (a rotation)', async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    expectEmptyTwiml(await post(url, inboundForm('QUIT'), { authToken: 'an-older-token' }));
    expect(list.changes.map((c) => c.op)).toEqual(['add']);
  });

  it('refuses an unsigned, badly signed, misdirected or altered request with 403 and changes nothing', async () => {
    const base = await start();
    const url = `${base}/receipts/twilio/inbound`;
    const form = inboundForm('STOP');
    const refusals = {
      unsigned: await post(url, form, { signature: null }),
      'empty signature': await post(url, form, { signature: '' }),
      'another token': await post(url, form, { authToken: 'not-the-auth-token-0123456789abcd' }),
      'garbage signature': await post(url, form, { signature: 'not base64 at all' }),
      // Signed for the status callback URL, replayed here.
      'another URL': await post(url, form, { signedUrl: `${base}/receipts/twilio` }),
      'another query': await post(`${url}?x=1`, form, { signedUrl: url }),
      // Signed with START, delivered with STOP.
      'a body changed after signing': await post(url, form, { signature: signAsTwilio(AUTH_TOKEN, url, inboundForm('START')) }),
      'a parameter added after signing': await post(url, form, { signature: signAsTwilio(AUTH_TOKEN, url, form), rawBody: `${new URLSearchParams(form).toString()}&Extra=1` }),
      'another sender after signing': await post(url, inboundForm('STOP', { From: '+15559990000' }), { signature: signAsTwilio(AUTH_TOKEN, url, form) }),
    };
    for (const [name, answer] of Object.entries(refusals)) {
      expect(answer.status, name).toBe(403);
      expect(JSON.parse(answer.body), name).toMatchObject({ error: { code: 'CRM_ERR_HTTP_FORBIDDEN' } });
    }
    expect(list.changes).toEqual([]);
    // Nothing was looked up either: a refused request reaches no account.
    expect(lookups).toEqual([]);
  });

  it('behind a proxy, checks the public URL Twilio called, not the one the request arrived at', async () => {
    const base = await start({ publicUrl: 'https://hooks.crm.example/crm/' });
    const url = `${base}/receipts/twilio/inbound`;
    expect((await post(url, inboundForm('STOP'))).status).toBe(403);
    expect(list.changes).toEqual([]);
    expectEmptyTwiml(await post(url, inboundForm('STOP'), { signedUrl: 'https://hooks.crm.example/crm/receipts/twilio/inbound' }));
    expect(list.changes.map((c) => c.op)).toEqual(['add']);
  });

  it('answers 200 and changes nothing for a text that is not a keyword', async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    for (const body of ['Please stop texting me at night', 'stop.', 'Hello', '']) expectEmptyTwiml(await post(url, inboundForm(body)));
    expect(list.changes).toEqual([]);
    expect(lookups).toEqual([]);
  });

  it('answers 200 and changes nothing for a number no account has, or a sender that is not a phone number', async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    expectEmptyTwiml(await post(url, inboundForm('STOP', { To: '+15550002222' })));
    expectEmptyTwiml(await post(url, inboundForm('STOP', { AccountSid: 'AC-another-twilio-account' })));
    expect(lookups).toEqual([
      ['+15550002222', ACCOUNT_SID],
      [OUR_NUMBER, 'AC-another-twilio-account'],
    ]);
    expectEmptyTwiml(await post(url, inboundForm('STOP', { From: '12345' })));
    expect(list.changes).toEqual([]);
  });

  it('waits for an asynchronous account lookup', async () => {
    const url = `${await start({ accountFor: async (to) => (to === OUR_NUMBER ? 'acc_async' : undefined) })}/receipts/twilio/inbound`;
    expectEmptyTwiml(await post(url, inboundForm('unsubscribe')));
    expect(list.changes.map((c) => [c.op, c.accountId])).toEqual([['add', 'acc_async']]);
  });

  it('answers 5xx when the list cannot be written, so the failure is seen', async () => {
    const url = `${await start()}/receipts/twilio/inbound`;
    list.add = () => Promise.reject(new Error('store down'));
    const answer = await post(url, inboundForm('STOP'));
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'CRM_ERR_HTTP_INTERNAL' } });
  });

  it('is served only with twilio.inbound, and its options are checked', async () => {
    const Fastify = (await import('fastify')).default;
    const deliveries = { applyReceipt: async () => ({ applied: false as const, reason: 'unknown-id' as const }) };
    const without = Fastify();
    await without.register(receiptRoutes, { deliveries, twilio: { authToken: AUTH_TOKEN } });
    expect((await without.inject({ method: 'POST', url: '/receipts/twilio/inbound', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'Body=STOP' })).statusCode).toBe(404);
    await without.close();
    for (const inbound of [{ suppressions: {}, accountFor: () => 'a' }, { suppressions: recordingList() }, { suppressions: recordingList(), accountFor: () => 'a', extra: 1 }]) {
      const app = Fastify();
      await expect(
        (async () => {
          await app.register(receiptRoutes, { deliveries, twilio: { authToken: AUTH_TOKEN, inbound: inbound as never } });
          await app.ready();
        })(),
      ).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
      await app.close();
    }
  });
});
