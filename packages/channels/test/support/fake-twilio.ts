import { createHmac, randomBytes } from 'node:crypto';
import type { ChannelDelivery, ChannelReceiver } from '@crm-automation/testing';
import { loseAnswer, messageTaking, sendJson, startLocalHttpServer, type AnswerLost, type LocalHttpServer, type TakesMessages } from './local-http-server.js';

export const TWILIO_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const TWILIO_AUTH_TOKEN = 'test-auth-token-0123456789abcdef';

type Failure =
  | { kind: 'rate-limited'; retryAfterSeconds?: number | undefined }
  | { kind: 'unavailable' }
  | { kind: 'invalid-number' }
  | AnswerLost;

export interface FakeTwilio extends ChannelReceiver, LocalHttpServer, TakesMessages {
  /** Messages accepted (201), as Twilio would have queued them. */
  messages: Array<{ sid: string; To: string; From?: string | undefined; MessagingServiceSid?: string | undefined; Body: string; StatusCallback?: string | undefined }>;
  /** Requests that broke Twilio's documented contract (path, auth, encoding, fields). */
  violations: string[];
  failNext(failure: Failure): void;
  /**
   * Posts a status callback for a message to its `StatusCallback` (or `url`), signed as Twilio signs
   * them (`X-Twilio-Signature` with the auth token, or `authToken` to forge one). `signedUrl` is the
   * URL Twilio believes it called when that is not where the request lands (a proxy in between);
   * `headers` are added (a proxy's `X-Forwarded-*`).
   */
  statusCallback(sid: string, status: string, options?: StatusCallbackOptions): Promise<{ status: number; body: string }>;
}

export interface StatusCallbackOptions {
  url?: string | undefined;
  signedUrl?: string | undefined;
  authToken?: string | undefined;
  errorCode?: string | undefined;
  headers?: Record<string, string> | undefined;
}

/** Twilio's signature, computed here independently of the code under test: HMAC-SHA1 over URL + sorted name/value pairs. */
function signTwilio(authToken: string, url: string, params: URLSearchParams): string {
  const data = [...params.keys()].sort().reduce((acc, key) => acc + key + (params.get(key) ?? ''), url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

const twilioError = (code: number, status: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

/**
 * A local stand-in for Twilio's Messages endpoint that checks each request as Twilio documents it
 * (form-encoded POST to /2010-04-01/Accounts/{AccountSid}/Messages.json, basic auth, To + Body +
 * exactly one of From/MessagingServiceSid) and answers with Twilio's success and error shapes.
 */
export async function startFakeTwilio(): Promise<FakeTwilio> {
  const failures: Failure[] = [];
  const messages: FakeTwilio['messages'] = [];
  const violations: string[] = [];
  const expectedAuth = `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`;

  const taking = messageTaking(() => messages.length);
  const server = await startLocalHttpServer(async (req, res) => {
    if (req.method !== 'POST' || req.path !== `/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}/Messages.json`) {
      violations.push(`unexpected ${req.method} ${req.path}`);
      return sendJson(res, 404, twilioError(20404, 404, 'The requested resource was not found'));
    }
    if (req.headers.authorization !== expectedAuth) {
      violations.push('bad basic auth');
      return sendJson(res, 401, twilioError(20003, 401, 'Authenticate'));
    }
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') violations.push(`content-type ${req.headers['content-type']}`);
    const form = new URLSearchParams(req.body);
    const to = form.get('To');
    const body = form.get('Body');
    const from = form.get('From');
    const service = form.get('MessagingServiceSid');
    if (!to || !body) {
      violations.push('missing To or Body');
      return sendJson(res, 400, twilioError(21604, 400, "A 'To' phone number is required."));
    }
    if (Boolean(from) === Boolean(service)) {
      violations.push('needs exactly one of From and MessagingServiceSid');
      return sendJson(res, 400, twilioError(21603, 400, "A 'From' phone number is required."));
    }
    const failure = failures.shift();
    if (failure?.kind === 'rate-limited') {
      return sendJson(res, 429, twilioError(20429, 429, 'Too Many Requests'), failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) });
    }
    if (failure?.kind === 'unavailable') return sendJson(res, 503, twilioError(20503, 503, 'Service Unavailable'));
    if (failure?.kind === 'invalid-number') return sendJson(res, 400, twilioError(21211, 400, `Invalid 'To' Phone Number: ${to}`));

    const sid = `SM${randomBytes(16).toString('hex')}`;
    const callback = form.get('StatusCallback');
    messages.push({ sid, To: to, Body: body, ...(from ? { From: from } : {}), ...(service ? { MessagingServiceSid: service } : {}), ...(callback ? { StatusCallback: callback } : {}) });
    taking.took();
    if (failure && (await loseAnswer(failure, res))) return;
    const now = new Date().toUTCString();
    return sendJson(res, 201, {
      account_sid: TWILIO_ACCOUNT_SID,
      api_version: '2010-04-01',
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: service,
      num_media: '0',
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid,
      status: 'queued',
      to,
      uri: `/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}/Messages/${sid}.json`,
    });
  });

  return Object.assign(server, {
    messages,
    waitForMessages: taking.waitFor,
    violations,
    failNext: (failure: Failure) => failures.push(failure),
    async statusCallback(sid: string, status: string, options: StatusCallbackOptions = {}) {
      const message = messages.find((m) => m.sid === sid);
      const url = options.url ?? message?.StatusCallback;
      if (!url) throw new Error(`message ${sid} has no StatusCallback`);
      const form = new URLSearchParams({
        AccountSid: TWILIO_ACCOUNT_SID,
        ApiVersion: '2010-04-01',
        From: message?.From ?? '+15550001111',
        MessageSid: sid,
        MessageStatus: status,
        SmsSid: sid,
        SmsStatus: status,
        To: message?.To ?? '+15557654321',
        ...(options.errorCode ? { ErrorCode: options.errorCode } : {}),
      });
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          'x-twilio-signature': signTwilio(options.authToken ?? TWILIO_AUTH_TOKEN, options.signedUrl ?? url, form),
          'i-twilio-idempotency-token': randomBytes(8).toString('hex'),
          ...options.headers,
        },
        body: form.toString(),
      });
      return { status: response.status, body: await response.text() };
    },
    deliveries: (): ChannelDelivery[] => messages.map((m) => ({ recipient: m.To, text: m.Body })),
    failNextTransient: (retryAfterSeconds?: number) => failures.push({ kind: 'rate-limited', retryAfterSeconds }),
    failNextPermanent: () => failures.push({ kind: 'invalid-number' }),
  });
}
