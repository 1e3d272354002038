import { AutomationError } from '@crm-automation/core';
import { checkOptions, optionKeys } from '@crm-automation/core/spi';

export interface RedisKeyOptions {
  /**
   * Put before every key, so several deployments (or tests) can share one server. Default `crm:`.
   * No `{` or `}`: the account's hash tag is the first pair of braces in the key.
   */
  keyPrefix?: string | undefined;
}

export const DEFAULT_KEY_PREFIX = 'crm:';

const KEY_OPTION_KEYS = optionKeys<RedisKeyOptions>()('keyPrefix');

/** Checks the options of one factory and returns the key prefix to use. */
export function keyPrefixOf(factory: string, options: RedisKeyOptions | undefined): string {
  checkOptions(factory, options, KEY_OPTION_KEYS);
  const prefix = options?.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof prefix !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `${factory}: keyPrefix must be a string, got ${typeof prefix}`);
  if (/[{}]/.test(prefix)) throw new AutomationError('CRM_ERR_CONFIG', `${factory}: keyPrefix must not contain { or } (the account's hash tag is the key's first braces), got ${JSON.stringify(prefix)}`);
  return prefix;
}

/**
 * The account id as a Redis Cluster hash tag's content: `%`, `{` and `}` percent-encoded, so the tag
 * ends at the id's end (Redis takes the first `}` after the first `{`) and two ids never give one tag;
 * the empty id is `%`, which no other id encodes to (an empty tag would hash the whole key).
 */
export function accountTag(accountId: string): string {
  if (accountId === '') return '%';
  return accountId.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * `<prefix>{<account>}:cap:<bucket key>`: one hash per cap bucket. Every key of one account shares the
 * tag, so a reserve over a send's buckets runs on one cluster slot.
 */
export const capKey = (prefix: string, accountId: string, bucketKey: string) => `${prefix}{${accountTag(accountId)}}:cap:${bucketKey}`;

/** `<prefix>{<account>}:throttle:<channel>`: one hash per (account, channel) token bucket. */
export const throttleKey = (prefix: string, accountId: string, channel: string) => `${prefix}{${accountTag(accountId)}}:throttle:${channel}`;

/** Epoch ms of a date handed to a port, refused when it is not a valid date. */
export function epochMs(value: unknown, what: string): number {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new AutomationError('CRM_ERR_CONFIG', `${what} must be a valid Date, got ${value instanceof Date ? 'an invalid Date' : typeof value}`);
  return ms;
}
