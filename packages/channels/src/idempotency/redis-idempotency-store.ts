import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AutomationError, checkOptions, optionKeys, positiveIntOption, type IdempotencyReservation, type IdempotencyStore } from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';

/**
 * The commands the store sends, which an ioredis `Redis` (or `Cluster`) client has. Declared here
 * rather than as ioredis's type so that the main entry's types do not name ioredis, an optional peer.
 */
export interface RedisIdempotencyClient {
  set(key: string, value: string, millisecondsToken: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: string, millisecondsToken: 'PX', milliseconds: number): Promise<'OK'>;
  get(key: string): Promise<string | null>;
  eval(script: string, numkeys: number, ...args: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
}

export interface RedisIdempotencyStoreOptions {
  /** A connected ioredis client; the store never closes a client it was handed. */
  client?: RedisIdempotencyClient | undefined;
  /** Or a `redis://` URL: the store opens its own client and closes it on `close()`. */
  url?: string | undefined;
  /** How long a sent key is remembered, overriding the `ttlMs` `withIdempotency` passes. */
  ttlMs?: number | undefined;
  /** Prefix of every key. Default `crm:idempotency:`. */
  keyPrefix?: string | undefined;
}

/**
 * ioredis's `Redis` class, handed in by the entry that loaded ioredis: `/redis` imports it, the
 * deprecated main-entry export loads it on first call, so ioredis stays an optional peer.
 */
export type RedisClientConstructor = typeof Redis;

const REDIS_IDEMPOTENCY_OPTION_KEYS = optionKeys<RedisIdempotencyStoreOptions>()('client', 'url', 'ttlMs', 'keyPrefix');

interface StoredEntry {
  /** `f` = in flight (with the holder's token), `d` = done (with the result). */
  s: 'f' | 'd';
  t?: string;
  r?: unknown;
}

// Delete the reservation only while it is still the one this holder took: after its lock expired
// another worker may hold the key, and a completed key must never be forgotten.
const RELEASE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError later.
const REDIS_IDEMPOTENCY_OPTION_SHAPES: Readonly<Partial<Record<keyof RedisIdempotencyStoreOptions, OptionShape>>> = {
  client: { kind: 'port', what: 'an ioredis client', methods: ['set', 'get', 'eval'] },
  url: { kind: 'string', what: 'a redis:// URL' },
  keyPrefix: { kind: 'string', what: 'a key prefix' },
};

/** The Redis idempotency store on the `Redis` class it is handed; `createRedisIdempotencyStore` (entries/redis.ts) documents it. */
export function redisIdempotencyStore(RedisClient: RedisClientConstructor, options: RedisIdempotencyStoreOptions): IdempotencyStore {
  checkOptions('createRedisIdempotencyStore', options, REDIS_IDEMPOTENCY_OPTION_KEYS, true);
  checkOptionShapes('createRedisIdempotencyStore', options, REDIS_IDEMPOTENCY_OPTION_SHAPES);
  if (!options.client && !options.url) throw new AutomationError('CRM_ERR_CONFIG', 'createRedisIdempotencyStore needs a client or a url');
  const ttlOverride = options.ttlMs === undefined ? undefined : positiveIntOption('createRedisIdempotencyStore: ttlMs', options.ttlMs, 1);
  const owned = !options.client;
  const client = options.client ?? new RedisClient(options.url as string, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const prefix = options.keyPrefix ?? 'crm:idempotency:';
  // Reservation values this process holds, by key, so release can compare.
  const held = new Map<string, string>();

  const read = (value: string | null): StoredEntry | null => {
    if (value === null) return null;
    try {
      return JSON.parse(value) as StoredEntry;
    } catch {
      return null;
    }
  };

  return {
    async acquire(key, lockMs): Promise<IdempotencyReservation> {
      const redisKey = prefix + key;
      const value = JSON.stringify({ s: 'f', t: randomUUID() } satisfies StoredEntry);
      // A key can expire between the failed SET and the GET; try again then.
      for (let round = 0; round < 3; round++) {
        const set = await client.set(redisKey, value, 'PX', Math.max(1, Math.ceil(lockMs)), 'NX');
        if (set === 'OK') {
          held.set(key, value);
          return { state: 'acquired' };
        }
        const existing = read(await client.get(redisKey));
        if (existing?.s === 'd') return { state: 'done', result: existing.r ?? null };
        if (existing) return { state: 'in-flight' };
      }
      return { state: 'in-flight' };
    },
    async complete(key, result, ttlMs) {
      held.delete(key);
      const ttl = Math.max(1, Math.ceil(ttlOverride ?? ttlMs));
      await client.set(prefix + key, JSON.stringify({ s: 'd', r: result ?? null } satisfies StoredEntry), 'PX', ttl);
    },
    async release(key) {
      const value = held.get(key);
      held.delete(key);
      if (value === undefined) return;
      await client.eval(RELEASE_SCRIPT, 1, prefix + key, value);
    },
    async close() {
      if (owned) await client.quit();
    },
  };
}
