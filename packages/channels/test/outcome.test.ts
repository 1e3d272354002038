import { describe, expect, it } from 'vitest';
import { GatewayError } from '@crm-automation/core';
import { httpFailure, isTransientStatus, parseRetryAfter, smtpFailure, transportFailure, MAX_RETRY_AFTER_MS } from '@crm-automation/channels';
import { ERROR_STATUS_RETRYABILITY } from './support/error-statuses.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-06-01T12:00:00Z');
  it.each([
    ['0', 0],
    ['5', 5_000],
    [' 120 ', 120_000],
    ['Sat, 01 Jun 2030 12:00:30 GMT', 30_000],
    ['Sat, 01 Jun 2030 11:00:00 GMT', 0],
    ['99999999', MAX_RETRY_AFTER_MS],
  ])('%j is %i ms', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });
  it.each([undefined, '', 'soon', '-5', '1.5'])('%j is unknown', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });
  it('reads the first of repeated headers', () => {
    expect(parseRetryAfter(['3', '9'], now)).toBe(3_000);
  });
});

describe('shared outcome classification', () => {
  it.each<readonly [number, boolean]>([[200, false], [301, false], [401, false], [403, false], [409, false], ...ERROR_STATUS_RETRYABILITY, [504, true]])('status %i transient=%s', (status, transient) => {
    expect(isTransientStatus(status)).toBe(transient);
  });

  it('httpFailure keeps provider code, status, a 500-character excerpt and Retry-After only when transient', () => {
    const body = 'e'.repeat(2_000);
    const transient = httpFailure('twilio', { status: 503, headers: { 'retry-after': '4' }, body }, { providerCode: 20503 });
    expect(transient).toBeInstanceOf(GatewayError);
    expect(transient).toMatchObject({ retryable: true, status: 503, providerCode: 20503, retryAfterMs: 4_000, provider: 'twilio' });
    expect(transient.response).toHaveLength(501);
    const permanent = httpFailure('twilio', { status: 400, headers: { 'retry-after': '4' }, body: '' });
    expect(permanent).toMatchObject({ retryable: false, retryAfterMs: undefined, response: undefined });
  });

  it('httpFailure names the provider code once, also when relaying an answer that already names it', () => {
    const direct = httpFailure('twilio', { status: 400, headers: {}, body: '' }, { providerCode: 21610, detail: 'Attempt to send to unsubscribed recipient' });
    expect(direct.message).toBe('twilio answered 400: Attempt to send to unsubscribed recipient (code 21610)');
    const relayed = httpFailure('twilio', { status: 422, headers: {}, body: '' }, { providerCode: 21610, detail: direct.message });
    expect(relayed.message).toBe('twilio answered 422: twilio answered 400: Attempt to send to unsubscribed recipient (code 21610)');
    expect(relayed.message.match(/code 21610/g)).toHaveLength(1);
  });

  it('transportFailure is transient and keeps the system code', () => {
    expect(transportFailure('sendgrid', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({ retryable: true, providerCode: 'ECONNREFUSED' });
  });

  it.each([
    [{ responseCode: 421, message: 'busy' }, true],
    [{ responseCode: 451, message: 'greylisted' }, true],
    [{ responseCode: 452, message: 'insufficient storage' }, true],
    [{ responseCode: 550, message: 'no mailbox' }, false],
    [{ responseCode: 535, code: 'EAUTH', message: 'auth failed' }, false],
    [{ code: 'ECONNECTION', message: 'refused' }, true],
    [{ code: 'ETIMEDOUT', message: 'timeout' }, true],
    [{ code: 'EMESSAGE', message: 'bad message' }, false],
  ])('smtpFailure(%j) retryable=%s', (error, retryable) => {
    expect(smtpFailure('smtp', Object.assign(new Error(error.message), error))).toMatchObject({ retryable });
  });
});
