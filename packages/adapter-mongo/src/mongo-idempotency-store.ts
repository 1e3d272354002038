import type { Collection } from 'mongodb';
import { checkOptions, optionKeys, type IdempotencyReservation, type IdempotencyStore } from '@crm-automation/core';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import { ensureExpiryIndex, type ExpiryMode } from './indexes.js';
import { prepareOnce } from './prepare-once.js';
import { serverRunsTtlMonitor } from './ttl-monitor.js';
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
  /** Creates the expiry index: TTL where the server runs a TTL monitor, plain otherwise. */
  ensureIndexes(): Promise<{ expiry: ExpiryMode }>;
  /** Deletes expired entries (needed only where the server does not expire them); returns how many. */
  purgeExpired(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Idempotency keys in MongoDB. `acquire` is atomic across processes through two single-document
 * guarantees: the unique `_id` (one insert wins a fresh key) and a conditional update (one sender
 * takes over an expired entry: its filter `expiresAt <= now` stops matching once it has written).
 *
 * @example
 * const idempotency = createMongoIdempotencyStore({ client });
 * const engine = createAutomationEngine({ store, channels, idempotency });
 */
export function createMongoIdempotencyStore(options: MongoIdempotencyStoreOptions): MongoIdempotencyStore {
  checkOptions('createMongoIdempotencyStore', options, optionKeys<MongoIdempotencyStoreOptions>()(...CONNECTION_OPTION_KEYS, 'collection', 'now', 'autoIndex'), true);
  const connection = openConnection(options, 'createMongoIdempotencyStore');
  const keys = connection.db.collection<KeyDocument>(options.collection ?? 'idempotency_keys');
  const clock = options.now ?? Date.now;

  const ensureIndexes = async () => ({ expiry: await ensureExpiryIndex(keys, 'expiresAt', 'idempotency_expiry', 'auto', await serverRunsTtlMonitor(connection.db)) });
  const prepared = prepareOnce(ensureIndexes, options.autoIndex ?? true);

  const inFlight = (now: number, lockMs: number) => ({ state: 'in-flight' as const, lockUntil: new Date(now + lockMs), expiresAt: new Date(now + lockMs) });

  return {
    collection: keys,
    async ensureIndexes() {
      const report = await ensureIndexes();
      prepared.markReady();
      return report;
    },

    async acquire(key, lockMs): Promise<IdempotencyReservation> {
      await prepared.ready();
      for (let round = 0; round < 3; round++) {
        const now = clock();
        try {
          await keys.insertOne({ _id: key, ...inFlight(now, lockMs) });
          return { state: 'acquired' };
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
        }
        const takenOver = await keys.findOneAndUpdate({ _id: key, expiresAt: { $lte: new Date(now) } }, { $set: inFlight(now, lockMs), $unset: { result: '' } }, { projection: { _id: 1 } });
        if (takenOver) return { state: 'acquired' };
        const current = await keys.findOne({ _id: key });
        // Released or purged in between: try the insert again.
        if (!current) continue;
        if (current.expiresAt.getTime() > now) return current.state === 'done' ? { state: 'done', result: current.result ?? null } : { state: 'in-flight' };
      }
      return { state: 'in-flight' };
    },

    async complete(key, result, ttlMs) {
      await prepared.ready();
      const expiresAt = new Date(clock() + ttlMs);
      await keys.updateOne({ _id: key }, { $set: { state: 'done', result: result ?? null, expiresAt }, $unset: { lockUntil: '' } }, { upsert: true });
    },

    async release(key) {
      await prepared.ready();
      // Only a reservation is given up; a key already sent stays remembered.
      await keys.findOneAndDelete({ _id: key, state: 'in-flight' }, { projection: { _id: 1 } });
    },

    async purgeExpired() {
      await prepared.ready();
      const result = await keys.deleteMany({ expiresAt: { $lte: new Date(clock()) } });
      return result.deletedCount;
    },

    close: () => connection.close(),
  };
}
