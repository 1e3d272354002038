import { describe, expect, it } from 'vitest';
import { createTwilioSms } from '@crm-automation/channels';
import { commandOf } from './support/commands.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from './support/fake-twilio.js';
import { closedPort } from './support/local-http-server.js';
import { failure } from './support/webhook-command.js';
import { fakeProviderPerTest } from './support/per-test.js';

const sms = (params: Record<string, unknown> = {}) => commandOf('sms', { recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.', ...params });

describe('createTwilioSms', () => {
  let twilio: FakeTwilio;
  fakeProviderPerTest(startFakeTwilio, (started) => (twilio = started));

  const gateway = (extra: Record<string, unknown> = {}) =>
    createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url, ...extra });

  it('POSTs To, From and Body form-encoded with basic auth and returns the message sid', async () => {
    const result = await gateway().send(sms());
    expect(twilio.messages).toHaveLength(1);
    expect(twilio.messages[0]).toMatchObject({ To: '+15557654321', From: '+15550001111', Body: 'Hi Jane Doe, job #J-5541 for John Smith has been completed.' });
    expect(result).toEqual({ provider: 'twilio', id: twilio.messages[0]?.sid, status: 201, providerStatus: 'queued' });
    expect(twilio.requests[0]?.headers['accept']).toBe('application/json');
  });

  it('sends through a Messaging Service instead of a From number', async () => {
    const g = createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', baseUrl: twilio.url });
    await g.send(sms());
    expect(twilio.messages[0]).toMatchObject({ MessagingServiceSid: 'MG0123456789abcdef0123456789abcdef' });
    expect(twilio.messages[0]?.From).toBeUndefined();
  });

  it('400 with code 21211 (invalid To) is permanent and keeps the Twilio code and response', async () => {
    twilio.failNext({ kind: 'invalid-number' });
    const error = await failure(gateway().send(sms()));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, status: 400, providerCode: 21211, provider: 'twilio' });
    expect(error['message']).toBe("twilio answered 400: Invalid 'To' Phone Number: +15557654321 (code 21211)");
    expect(JSON.parse(String(error['response']))).toMatchObject({ code: 21211, more_info: 'https://www.twilio.com/docs/errors/21211' });
  });

  it('429 with Retry-After is transient and asks to wait that long', async () => {
    twilio.failNext({ kind: 'rate-limited', retryAfterSeconds: 30 });
    expect(await failure(gateway().send(sms()))).toMatchObject({ retryable: true, status: 429, providerCode: 20429, retryAfterMs: 30_000 });
  });

  it('503 is transient', async () => {
    twilio.failNext({ kind: 'unavailable' });
    const error = await failure(gateway().send(sms()));
    expect(error).toMatchObject({ retryable: true, status: 503, providerCode: 20503 });
    expect(error['retryAfterMs']).toBeUndefined();
  });

  it('a wrong auth token is permanent (20003)', async () => {
    const error = await failure(createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: 'wrong', from: '+15550001111', baseUrl: twilio.url }).send(sms()));
    expect(error).toMatchObject({ retryable: false, status: 401, providerCode: 20003 });
    twilio.violations.length = 0;
  });

  it('an unreachable API is transient', async () => {
    const port = await closedPort();
    const g = createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: `http://127.0.0.1:${port}` });
    expect(await failure(g.send(sms()))).toMatchObject({ retryable: true, provider: 'twilio' });
  });

  it.each([
    [{ recipient: '5557654321' }, 'invalid_recipient', /E\.164/],
    [{ recipient: '+1555\r\nBcc: x' }, 'header_injection', /line break/],
    [{ recipient: '+15557654321\u2028' }, 'header_injection', /line break/],
    [{ recipient: '+0123456789' }, 'invalid_recipient', /E\.164/],
    [{ recipient: '+1234' }, 'invalid_recipient', /E\.164/],
    [{ recipient: '+1234567890123456' }, 'invalid_recipient', /E\.164/],
    [{ recipient: 15557654321 }, 'invalid_type', /expected string/],
    [{ recipient: undefined }, 'invalid_type', /recipient/],
    [{ message: '   ' }, 'custom', /empty/],
    [{ message: 'x'.repeat(1_601) }, 'too_big', /1600/],
    [{ message: 42 }, 'invalid_type', /message/],
    [{ mediaUrl: 'https://x.example/a.png' }, 'unrecognized_keys', /mediaUrl/],
  ])('refuses %j permanently without calling Twilio', async (params, providerCode, message) => {
    const error = await failure(gateway().send(sms(params)));
    expect(error).toMatchObject({ retryable: false, providerCode });
    expect(error['message']).toMatch(message);
    expect(twilio.requests).toHaveLength(0);
  });

  it('needs exactly one sender', () => {
    expect(() => createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN } as never)).toThrow(/exactly one of from or messagingServiceSid/);
    expect(() => createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+1555', messagingServiceSid: 'MG1' } as never)).toThrow(/exactly one/);
  });
});
