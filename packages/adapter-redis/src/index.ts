export { createRedisContactCounter, type RedisContactCounterOptions } from './contact-counter.js';
export { createRedisSendThrottle, type RedisSendThrottleOptions } from './send-throttle.js';
export { DEFAULT_KEY_PREFIX, type RedisKeyOptions } from './keys.js';
export type { RedisConnection } from './lua.js';
