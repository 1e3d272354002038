import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isAutomationError } from '@crm-automation/core';
import { createRedisContactCounter, createRedisSendThrottle, DEFAULT_KEY_PREFIX } from '../src/index.js';
import { accountTag, capKey, throttleKey } from '../src/keys.js';

/** The part of a key Redis Cluster hashes: the content of the first `{...}` when it is not empty, else the key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

const ACCOUNTS = ['acc_1', '', '%', '%25', '{', '}', '{x}', 'a}:cap:b', 'a{b}c', 'é', ' ', 'x'.repeat(300)];

describe('key layout', () => {
  it('puts every key of an account, cap or throttle, in one hash slot: the tag is the encoded account', () => {
    for (const accountId of ACCOUNTS) {
      const tag = accountTag(accountId);
      expect(tag).not.toMatch(/[{}]/);
      expect(tag).not.toBe('');
      for (const bucketKey of ['sms|+15550001111|day|2030-01-01', '}{', '']) expect(hashedPart(capKey(DEFAULT_KEY_PREFIX, accountId, bucketKey))).toBe(tag);
      expect(hashedPart(throttleKey(DEFAULT_KEY_PREFIX, accountId, 'sms'))).toBe(tag);
    }
  });

  it('gives distinct accounts distinct tags, so one account never reaches another’s keys', () => {
    const tags = ACCOUNTS.map(accountTag);
    expect(new Set(tags).size).toBe(ACCOUNTS.length);
    // An account id that looks like the rest of another account's key stays inside its own tag.
    expect(capKey('crm:', 'a}:cap:b', 'c')).not.toBe(capKey('crm:', 'a', 'b}:cap:c'));
    expect(capKey('crm:', 'a', 'b}:cap:c')).toBe('crm:{a}:cap:b}:cap:c');
    expect(capKey('crm:', 'a}:cap:b', 'c')).toBe('crm:{a%7D:cap:b}:cap:c');
  });

  it('keeps caps and throttles apart, and the prefix in front', () => {
    expect(capKey('crm:', 'acc_1', 'sms|+1|day|2030-01-01')).toBe('crm:{acc_1}:cap:sms|+1|day|2030-01-01');
    expect(throttleKey('tenant-7:', 'acc_1', 'sms')).toBe('tenant-7:{acc_1}:throttle:sms');
  });
});

describe('options and arguments', () => {
  // Never connected: port 1 and no offline queue, so a command that reached it would fail with another error.
  const offline = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  afterAll(() => offline.disconnect());

  const codeOf = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return isAutomationError(error) ? error.code : String(error);
    }
    return 'no error';
  };
  const rejectionCode = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: unknown) => (isAutomationError(error) ? error.code : String(error)));

  it('refuses a missing connection, unknown options and a key prefix with braces', () => {
    expect(codeOf(() => createRedisContactCounter(offline, { keyPrefx: 'x' } as never))).toBe('CRM_ERR_CONFIG');
    expect(codeOf(() => createRedisSendThrottle(offline, { keyPrefix: 'a{b}' }))).toBe('CRM_ERR_CONFIG');
    expect(codeOf(() => createRedisSendThrottle(offline, { keyPrefix: 3 } as never))).toBe('CRM_ERR_CONFIG');
    expect(codeOf(() => createRedisContactCounter(offline, { keyPrefix: '' }))).toBe('no error');
    expect(codeOf(() => createRedisContactCounter(offline))).toBe('no error');
    expect(codeOf(() => createRedisContactCounter(undefined as never))).toBe('CRM_ERR_CONFIG');
    expect(codeOf(() => createRedisSendThrottle({ keyPrefix: 'x' } as never))).toBe('CRM_ERR_CONFIG');
  });

  it('refuses a bad max, an invalid date or a bad rate before any command', async () => {
    const counter = createRedisContactCounter(offline);
    const throttle = createRedisSendThrottle(offline);
    const now = new Date('2030-01-01T00:00:00Z');
    const reserve = (max: number, expiresAt: Date, at = now) => counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', holder: 'h', now: at, buckets: [{ key: 'k', max, expiresAt }] });
    expect(await rejectionCode(reserve(0, now))).toBe('CRM_ERR_CONFIG');
    expect(await rejectionCode(reserve(1.5, now))).toBe('CRM_ERR_CONFIG');
    expect(await rejectionCode(reserve(1, new Date(Number.NaN)))).toBe('CRM_ERR_CONFIG');
    expect(await rejectionCode(reserve(1, now, new Date(Number.NaN)))).toBe('CRM_ERR_CONFIG');
    for (const perSecond of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(await rejectionCode(throttle.take({ accountId: 'a', channel: 'sms', now, perSecond }))).toBe('CRM_ERR_CONFIG');
    expect(await rejectionCode(throttle.take({ accountId: 'a', channel: 'sms', now: new Date(Number.NaN), perSecond: 1 }))).toBe('CRM_ERR_CONFIG');
    expect(await rejectionCode(throttle.take({ accountId: 'a', channel: 'sms', now, perSecond: 1, burst: Number.NaN }))).toBe('CRM_ERR_CONFIG');
    // Nothing to count: no command at all.
    expect(await counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', holder: 'h', now, buckets: [] })).toEqual({ ok: true });
    await counter.release({ accountId: 'a', channel: 'sms', recipient: '+1', holder: 'h', bucketKeys: [] });
  });

  it('passes a Redis failure on as it is', async () => {
    const counter = createRedisContactCounter(offline);
    const now = new Date('2030-01-01T00:00:00Z');
    const code = await rejectionCode(counter.reserve({ accountId: 'a', channel: 'sms', recipient: '+1', holder: 'h', now, buckets: [{ key: 'k', max: 1, expiresAt: now }] }));
    expect(code).toMatch(/Stream isn't writeable|enableOfflineQueue/);
  });
});
