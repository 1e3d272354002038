import { AutomationError, type ContactCounter } from '@crm-automation/core';
import { capKey, epochMs, keyPrefixOf, type RedisKeyOptions } from './keys.js';
import { luaScript, requireConnection, runScript, type RedisConnection } from './lua.js';

export type RedisContactCounterOptions = RedisKeyOptions;

/** The hash field of a bucket's expiry (epoch ms, by the engines' clock); holders are `h:<holder>`. */
const EXPIRY_FIELD = 'e';
const holderField = (holder: string) => `h:${holder}`;

/**
 * KEYS: one hash per bucket. ARGV[1]: the holder's field, ARGV[2]: now (epoch ms), then for bucket i
 * ARGV[1 + 2i]: its max, ARGV[2 + 2i]: its expiresAt (epoch ms).
 * Returns 0 when every bucket took the holder's unit, else the (1-based) index of the first full one.
 *
 * A bucket whose stored expiry is not after `now` is gone: it refuses nothing, and the write starts it
 * afresh with this request's expiry. The first loop only reads, so a refused reserve writes nothing;
 * Redis runs the whole script before any other command, which makes the two loops one atomic step.
 * The TTL is the time the bucket has left by the engine's clock (`PEXPIRE expiry - now`), not an
 * instant on the server's clock: an engine whose clock is not the server's (a manual clock in tests,
 * a skewed host) keeps its buckets as long as it counts them.
 */
const RESERVE = luaScript(`
local field = ARGV[1]
local now = tonumber(ARGV[2])
for i = 1, #KEYS do
  local expiry = tonumber(redis.call('HGET', KEYS[i], '${EXPIRY_FIELD}'))
  if expiry and expiry > now and redis.call('HEXISTS', KEYS[i], field) == 0 then
    if redis.call('HLEN', KEYS[i]) - 1 >= tonumber(ARGV[1 + 2 * i]) then return i end
  end
end
for i = 1, #KEYS do
  local key = KEYS[i]
  local expiry = tonumber(redis.call('HGET', key, '${EXPIRY_FIELD}'))
  if not expiry or expiry <= now then
    redis.call('DEL', key)
    expiry = tonumber(ARGV[2 + 2 * i])
    redis.call('HSET', key, '${EXPIRY_FIELD}', ARGV[2 + 2 * i])
  end
  redis.call('HSET', key, field, '1')
  redis.call('PEXPIRE', key, expiry - now)
end
return 0
`);

/** KEYS: the buckets' hashes; ARGV[1]: the holder's field. Returns how many units were given back. */
const RELEASE = luaScript(`
local released = 0
for i = 1, #KEYS do released = released + redis.call('HDEL', KEYS[i], ARGV[1]) end
return released
`);

/**
 * Cap counters in Redis: a hash per (account, bucket key) whose fields are the holders of a unit
 * (`HLEN - 1` is the count; the other field is the bucket's expiry). A reserve is one Lua script over
 * all of the send's buckets, so it takes a unit in every bucket or in none, across any number of
 * engines and connections; a holder already in a bucket takes nothing more there. A release is one
 * script that removes the holder's field from each bucket.
 *
 * The connection is the caller's (the counter never closes it). A Redis error is thrown as it is.
 */
export function createRedisContactCounter(redis: RedisConnection, options?: RedisContactCounterOptions): ContactCounter {
  requireConnection('createRedisContactCounter', redis);
  const prefix = keyPrefixOf('createRedisContactCounter', options);
  return {
    async reserve({ accountId, buckets, holder, now }) {
      const nowMs = epochMs(now, 'reserve: now');
      if (buckets.length === 0) return { ok: true };
      const keys: string[] = [];
      const args: (string | number)[] = [holderField(holder), nowMs];
      for (const bucket of buckets) {
        if (!Number.isInteger(bucket.max) || bucket.max < 1) throw new AutomationError('CRM_ERR_CONFIG', `bucket ${bucket.key}: max must be an integer >= 1, got ${bucket.max}`);
        keys.push(capKey(prefix, accountId, bucket.key));
        args.push(bucket.max, epochMs(bucket.expiresAt, `bucket ${bucket.key} expiresAt`));
      }
      const full = await runScript(redis, RESERVE, keys, args);
      if (full === 0) return { ok: true };
      const bucket = typeof full === 'number' ? buckets[full - 1] : undefined;
      if (!bucket) throw new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `contact counter: unexpected reply ${JSON.stringify(full)} from the reserve script`, { retryable: true });
      return { ok: false, full: bucket.key };
    },
    async release({ accountId, bucketKeys, holder }) {
      if (bucketKeys.length === 0) return;
      await runScript(
        redis,
        RELEASE,
        bucketKeys.map((key) => capKey(prefix, accountId, key)),
        [holderField(holder)],
      );
    },
  };
}
