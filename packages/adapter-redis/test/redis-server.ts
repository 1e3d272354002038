import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * The server these tests use: REDIS_URL (scripts/test-services.sh exports the one scripts/services.sh
 * runs on 127.0.0.1:6379). In CI a missing URL fails the run; locally the files are skipped with a
 * message saying how to run them.
 */
export function redisUrl(): string | undefined {
  const url = process.env['REDIS_URL'];
  if (url) return url;
  if (process.env['CI'] === 'true') throw new Error('REDIS_URL is not set: in CI the Redis adapter tests must run (scripts/test-services.sh starts the server and exports it)');
  console.warn('[adapter-redis] REDIS_URL is not set: skipping the Redis tests. Run them with: bash scripts/test-services.sh packages/adapter-redis');
  return undefined;
}

/** A key prefix of this test's own, so tests and parallel runs sharing the server never see each other's keys. */
export const uniquePrefix = (what: string) => `crm-test:${what}:${randomBytes(5).toString('hex')}:`;

/** A connection of its own, as another engine process would have. */
export const connect = (url: string) => new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });

/** Deletes every key under `prefix` (SCAN, not KEYS: the server may be shared). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
