import { Redis } from 'ioredis';
import type { IdempotencyStore } from '@crm-automation/core';
import { redisIdempotencyStore, type RedisIdempotencyStoreOptions } from '../idempotency/redis-idempotency-store.js';

export type { RedisIdempotencyClient, RedisIdempotencyStoreOptions } from '../idempotency/redis-idempotency-store.js';

/**
 * Idempotency keys in Redis through ioredis (an optional peer: `npm install ioredis`), shared by
 * every worker: `acquire` is one atomic `SET key <in-flight> NX PX lockMs`, `complete` overwrites it
 * with the result and the TTL, and `release` deletes it only while it is still this holder's
 * reservation.
 *
 * @example
 * import { createRedisIdempotencyStore } from '@crm-automation/channels/redis';
 * const idempotency = createRedisIdempotencyStore({ url: process.env.REDIS_URL });
 * createAutomationEngine({ store, channels, idempotency });
 */
export function createRedisIdempotencyStore(options: RedisIdempotencyStoreOptions): IdempotencyStore {
  return redisIdempotencyStore(Redis, options);
}
