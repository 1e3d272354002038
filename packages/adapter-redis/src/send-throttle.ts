import { AutomationError, type SendThrottle } from '@crm-automation/core';
import { epochMs, keyPrefixOf, throttleKey, type RedisKeyOptions } from './keys.js';
import { luaScript, requireConnection, runScript, type RedisConnection } from './lua.js';

export type RedisSendThrottleOptions = RedisKeyOptions;

/**
 * KEYS[1]: the bucket's hash, `t` its tokens and `a` its last update (epoch ms). ARGV: now (epoch ms),
 * tokens per second, burst. Returns `{1}` for a token taken, `{0, retryAtMs}` for a refusal.
 *
 * The arithmetic is the memory store's, operation for operation, in the same doubles (retryAtMs is
 * compared exactly across stores): refill from the last update to `max(last, now)` capped at the
 * burst, take one token when at least one is there (below 1e-9 short is rounding), else answer when
 * the next one is due. Tokens are written with `%.17g`, which reads back as the same double. A refusal
 * writes nothing (no debt, no place held). The TTL is how long the bucket takes to be full again from
 * `now`, by the engine's clock: a forgotten bucket is full, so nothing is lost when it goes.
 */
const TAKE = luaScript(`
local now = tonumber(ARGV[1])
local perSecond = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = burst
local at = now
local last = tonumber(stored[2])
if last then
  at = math.max(last, now)
  tokens = math.min(burst, tonumber(stored[1]) + ((at - last) * perSecond) / 1000)
end
if tokens + 1e-9 >= 1 then
  local left = math.max(0, tokens - 1)
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', left), 'a', string.format('%.17g', at))
  redis.call('PEXPIRE', KEYS[1], at + math.ceil(((burst - left) * 1000) / perSecond) - now)
  return {1}
end
return {0, at + math.max(1, math.ceil(((1 - tokens) * 1000) / perSecond))}
`);

/**
 * The send throttle in Redis: a token bucket per (account, channel) in one hash, read, refilled and
 * taken from in one Lua script, so N engines taking at once get at most the tokens there are. Time
 * is the `now` of each call (the engine's clock), never the server's.
 *
 * The connection is the caller's (the throttle never closes it). A Redis error is thrown as it is.
 */
export function createRedisSendThrottle(redis: RedisConnection, options?: RedisSendThrottleOptions): SendThrottle {
  requireConnection('createRedisSendThrottle', redis);
  const prefix = keyPrefixOf('createRedisSendThrottle', options);
  return {
    async take({ accountId, channel, now, perSecond, burst }) {
      const nowMs = epochMs(now, 'throttle: now');
      if (typeof perSecond !== 'number' || !(perSecond > 0) || !Number.isFinite(perSecond)) throw new AutomationError('CRM_ERR_CONFIG', `throttle perSecond must be a number above 0, got ${perSecond}`);
      const capacity = Math.max(1, burst ?? 1);
      if (!Number.isFinite(capacity)) throw new AutomationError('CRM_ERR_CONFIG', `throttle burst must be a whole number of at least 1, got ${burst}`);
      // String(n) is the shortest form that reads back as the same double, in Lua's tonumber too.
      const reply = await runScript(redis, TAKE, [throttleKey(prefix, accountId, channel)], [nowMs, String(perSecond), String(capacity)]);
      if (Array.isArray(reply) && reply[0] === 1) return { ok: true };
      if (Array.isArray(reply) && reply[0] === 0 && typeof reply[1] === 'number') return { ok: false, retryAtMs: reply[1] };
      throw new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `send throttle: unexpected reply ${JSON.stringify(reply)} from the take script`, { retryable: true });
    },
  };
}
