import type { Collection } from 'mongodb';
import { checkOptions, optionKeys, type IdempotencyReservation, type IdempotencyStore } from '@crm-automation/core';
import { openConnection, type MongoConnectionOptions } from './connection.js';
import { ensureExpiryIndex, type ExpiryMode } from './indexes.js';
import { isDuplicateKey } from './write-errors.js';

/** A key reserved by a sender (`in-flight`, until `lockUntil`) or sent (`done`, with its result). */
interface KeyDocument {
  _id: string;
  state: 'in-flight' | 'done';
  lockUntil?: Date | undefined;
  result?: unknown;
  /** When the entry stops counting: `lockUntil` while in flight, the remembered period once done. */
  expiresAt: Date;
}

/** The right to replace one expired entry: unique, so only one sender takes an expired key over. */
interface TakeoverDocument {
  _id: { takeover: string; of: Date };
  expiresAt: Date;
}

export interface MongoIdempotencyStoreOptions extends MongoConnectionOptions {
  /** Collection name. Default `idempotency_keys`. */
  collection?: string | undefined;
  /** Time source in ms (tests); default `Date.now`. */
  now?: (() => number) | undefined;
  /** Create the expiry index before the first operation. Default true. */
  autoIndex?: boolean | undefined;
}

export interface MongoIdempotencyStore extends IdempotencyStore {
  readonly collection: Collection<KeyDocument>;
  /** Creates the expiry index: TTL where the server supports it, plain otherwise. */
  ensureIndexes(): Promise<{ expiry: ExpiryMode }>;
  /** Deletes expired entries (needed only without TTL support); returns how many. */
  purgeExpired(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Idempotency keys in MongoDB: the unique `_id` makes `acquire` atomic across processes (on
 * MongoDB and FerretDB alike, since both enforce unique indexes atomically on insert).
 *
 * @example
 * const idempotency = createMongoIdempotencyStore({ client });
 * const engine = createAutomationEngine({ store, channels, idempotency });
 */
export function createMongoIdempotencyStore(options: MongoIdempotencyStoreOptions): MongoIdempotencyStore {
  checkOptions('createMongoIdempotencyStore', options, optionKeys<MongoIdempotencyStoreOptions>()('client', 'uri', 'clientOptions', 'dbName', 'collection', 'now', 'autoIndex'), true);
  const connection = openConnection(options, 'createMongoIdempotencyStore');
  const keys = connection.db.collection<KeyDocument>(options.collection ?? 'idempotency_keys');
  const takeovers = keys as unknown as Collection<TakeoverDocument>;
  const clock = options.now ?? Date.now;
  const autoIndex = options.autoIndex ?? true;
  let indexed: Promise<{ expiry: ExpiryMode }> | undefined;

  const ensureIndexes = async () => ({ expiry: await ensureExpiryIndex(keys, 'expiresAt', 'idempotency_expiry', 0, 'auto') });
  const ready = async () => {
    if (!autoIndex) return;
    indexed ??= ensureIndexes().catch((error: unknown) => {
      indexed = undefined;
      throw error;
    });
    await indexed;
  };

  const inFlight = (key: string, now: number, lockMs: number): KeyDocument => ({
    _id: key,
    state: 'in-flight',
    lockUntil: new Date(now + lockMs),
    expiresAt: new Date(now + lockMs),
  });

  return {
    collection: keys,
    ensureIndexes,

    async acquire(key, lockMs): Promise<IdempotencyReservation> {
      await ready();
      for (let round = 0; round < 3; round++) {
        const now = clock();
        try {
          await keys.insertOne(inFlight(key, now, lockMs));
          return { state: 'acquired' };
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
        }
        const current = await keys.findOne({ _id: key });
        if (!current) continue;
        if (current.expiresAt.getTime() > now) return current.state === 'done' ? { state: 'done', result: current.result ?? null } : { state: 'in-flight' };
        // Expired: whoever inserts the takeover marker for this exact entry may replace it.
        try {
          await takeovers.insertOne({ _id: { takeover: key, of: current.expiresAt }, expiresAt: new Date(now + lockMs) });
        } catch (error) {
          if (isDuplicateKey(error)) return { state: 'in-flight' };
          throw error;
        }
        await keys.replaceOne({ _id: key }, inFlight(key, now, lockMs), { upsert: true });
        return { state: 'acquired' };
      }
      return { state: 'in-flight' };
    },

    async complete(key, result, ttlMs) {
      await ready();
      const expiresAt = new Date(clock() + ttlMs);
      await keys.updateOne({ _id: key }, { $set: { state: 'done', result: result ?? null, expiresAt }, $unset: { lockUntil: '' } }, { upsert: true });
    },

    async release(key) {
      await ready();
      const current = await keys.findOne({ _id: key });
      if (current?.state === 'in-flight') await keys.deleteOne({ _id: key });
    },

    async purgeExpired() {
      await ready();
      const result = await keys.deleteMany({ expiresAt: { $lte: new Date(clock()) } });
      return result.deletedCount;
    },

    close: () => connection.close(),
  };
}
