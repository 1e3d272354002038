// The two ports that count (cap counters, send throttle), each one document per key written only
// under a condition on what was read or required (a filter, a version, a unique `_id`).
import type { Collection, Filter, UpdateFilter } from 'mongodb';
import { AutomationError, type ContactCounter, type CounterBucket, type SendThrottle } from '@crm-automation/core';
import { requireValidDate } from '@crm-automation/core/spi';
import { isDuplicateKey } from './write-errors.js';


/** One cap bucket inside a counter document: who holds a unit (its length is the count). */
export interface CounterBucketDocument {
  key: string;
  holders: string[];
  expiresAt: Date;
}

/**
 * A `contact_counters` document: every cap bucket of one (account, channel, recipient), so one reserve
 * is one single-document conditional update however many caps it counts against. `b` maps an
 * encoding of each bucket key ({@link bucketField}) to the bucket; `expireAt` is the latest bucket
 * expiry (the TTL index removes the document once every bucket has expired).
 */
export interface CounterDocument {
  _id: string;
  accountId: string;
  channel: string;
  recipient: string;
  b: Record<string, CounterBucketDocument>;
  expireAt: Date;
}

const keyOf = (accountId: string, channel: string, recipient: string) => JSON.stringify([accountId, channel, recipient]);

/**
 * The field name of a bucket key inside `b`: base64url (letters, digits, `-`, `_`) behind a letter, so
 * no key, whatever it holds (dots, `$`, a leading digit), is read as a path or an array index.
 */
export function bucketField(key: string): string {
  return `k${Buffer.from(key, 'utf8').toString('base64url')}`;
}

/** How many times one reserve re-reads and retries before it gives up (each retry follows another writer's success). */
const RESERVE_ATTEMPTS = 100;

/**
 * The filter clause that lets one bucket take `holder`'s unit: the bucket is absent, or live (not yet
 * expired) and either has room (its `max`-th holder slot is empty) or already counts this holder (a
 * retry of the same send). An expired bucket matches none, so its old holders are never counted.
 */
function roomIn(field: string, max: number, holder: string, now: Date): Filter<CounterDocument> {
  const live = { [`b.${field}.expiresAt`]: { $gt: now } };
  return {
    $or: [{ [`b.${field}`]: { $exists: false } }, { ...live, [`b.${field}.holders.${max - 1}`]: { $exists: false } }, { ...live, [`b.${field}.holders`]: holder }],
  } as Filter<CounterDocument>;
}

/**
 * Cap counters: one document per (account, channel, recipient) holding its buckets and their holders.
 * A reserve is one `findOneAndUpdate` whose filter requires room in every live bucket (or the holder
 * already in it), so it takes a unit in every bucket or in none, across any number of processes. When
 * the filter does not match, the document is read: absent, it is inserted (the `_id` admits one first
 * reserve; a duplicate starts over); present, it says which bucket is full, and an expired bucket found
 * there is removed (guarded by its expiry) before the reserve starts over. Never a read-then-write:
 * every write is conditional on what it needs to be true.
 */
export function contactCounterOperations(counters: Collection<CounterDocument>, ready: () => Promise<void>): ContactCounter {
  const prune = async (_id: string, fields: string[], now: Date) => {
    // Each bucket only if it is still expired: a reserve that recreated it meanwhile keeps it.
    await Promise.all(
      fields.map((f) =>
        counters.updateOne(
          {
            _id,
            [`b.${f}.expiresAt`]: { $lte: now },
          } as Filter<CounterDocument>,
          { $unset: { [`b.${f}`]: '' } },
        ),
      ),
    );
  };

  return {
    async reserve({ accountId, channel, recipient, buckets, holder, now }) {
      requireValidDate(now, 'now');
      if (buckets.length === 0) return { ok: true };
      for (const bucket of buckets) {
        if (!Number.isInteger(bucket.max) || bucket.max < 1) throw new AutomationError('CRM_ERR_CONFIG', `bucket ${bucket.key}: max must be an integer >= 1, got ${bucket.max}`);
        requireValidDate(bucket.expiresAt, `bucket ${bucket.key} expiresAt`);
      }
      await ready();
      const _id = keyOf(accountId, channel, recipient);
      const wanted = buckets.map((bucket: CounterBucket) => ({
        bucket,
        field: bucketField(bucket.key),
      }));
      const filter = {
        _id,
        $and: wanted.map(({ bucket, field }) => roomIn(field, bucket.max, holder, now)),
      } as Filter<CounterDocument>;
      const set: Record<string, string> = {};
      const addToSet: Record<string, string> = {};
      const max: Record<string, Date> = {};
      let latest = wanted[0]?.bucket.expiresAt ?? now;
      for (const { bucket, field } of wanted) {
        set[`b.${field}.key`] = bucket.key;
        addToSet[`b.${field}.holders`] = holder;
        max[`b.${field}.expiresAt`] = bucket.expiresAt;
        if (bucket.expiresAt > latest) latest = bucket.expiresAt;
      }
      max['expireAt'] = latest;
      const update = {
        $set: set,
        $addToSet: addToSet,
        $max: max,
      } as UpdateFilter<CounterDocument>;

      for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
        const after = await counters.findOneAndUpdate(filter, update, { returnDocument: 'after' });
        if (after) {
          const stale = Object.entries(after.b ?? {})
            .filter(([, b]) => b.expiresAt <= now && !wanted.some((w) => w.bucket.key === b.key))
            .map(([f]) => f);
          if (stale.length > 0) await prune(_id, stale, now);
          return { ok: true };
        }
        const doc = await counters.findOne({ _id });
        if (!doc) {
          // First use of this recipient: the `_id` lets one first reserve insert; the others start over on the duplicate.
          const b: Record<string, CounterBucketDocument> = {};
          for (const { bucket, field } of wanted) b[field] = { key: bucket.key, holders: [holder], expiresAt: bucket.expiresAt };
          try {
            await counters.insertOne({ _id, accountId, channel, recipient, b, expireAt: latest });
            return { ok: true };
          } catch (error) {
            if (!isDuplicateKey(error)) throw error;
            continue;
          }
        }
        const expired: string[] = [];
        for (const { bucket, field } of wanted) {
          const stored = doc.b?.[field];
          if (!stored) continue;
          if (stored.expiresAt <= now) expired.push(field);
          else if (stored.holders.includes(holder)) continue;
          else if (stored.holders.length >= bucket.max) return { ok: false, full: bucket.key };
        }
        // An expired bucket refuses the filter: it goes (its old holders with it), then the reserve starts over.
        if (expired.length > 0) await prune(_id, expired, now);
        // Otherwise another reserve or release changed the document between the two requests: try again.
      }
      throw Object.assign(new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `contact counter of ${_id}: no consistent reserve after ${RESERVE_ATTEMPTS} attempts (contention)`), {
        retryable: true,
      });
    },

    async release({ accountId, channel, recipient, bucketKeys, holder }) {
      if (bucketKeys.length === 0) return;
      await ready();
      const _id = keyOf(accountId, channel, recipient);
      // One guarded `$pull` per bucket: a bucket the holder is not in (or that is gone) is left as it is.
      await counters.bulkWrite(
        bucketKeys.map((key) => {
          const field = bucketField(key);
          return {
            updateOne: {
              filter: {
                _id,
                [`b.${field}.holders`]: holder,
              } as Filter<CounterDocument>,
              update: {
                $pull: { [`b.${field}.holders`]: holder },
              } as UpdateFilter<CounterDocument>,
            },
          };
        }),
        { ordered: false },
      );
    },
  };
}

/** A `send_throttles` document: one token bucket per (account, channel); `v` is its compare-and-set version. */
export interface ThrottleDocument {
  _id: string;
  accountId: string;
  channel: string;
  tokens: number;
  /** Epoch ms of the last update: `now` never moves it back. */
  atMs: number;
  v: number;
  /** When the bucket is full again and may be forgotten (a forgotten bucket is full). */
  expireAt: Date;
}

/** Below this a bucket's fraction of a token is rounding, not a shortfall (tokens accrue as floats), as in the memory store. */
const TOKEN_EPSILON = 1e-9;

/**
 * Send throttle buckets: read the bucket, compute the refill and the take, then write it only if the
 * bucket is still at the version read (`{ _id, v }`; an absent bucket by an insert the `_id` admits
 * once), else start over. The update pipeline that would do it in one request is refused by the test
 * server; this compare-and-set keeps the take atomic on any server. A refused take writes nothing.
 */
export function sendThrottleOperations(collection: Collection<ThrottleDocument>, ready: () => Promise<void>): SendThrottle {
  return {
    async take({ accountId, channel, now, perSecond, burst }) {
      requireValidDate(now, 'now');
      if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new AutomationError('CRM_ERR_CONFIG', `throttle perSecond must be a number above 0, got ${perSecond}`);
      await ready();
      const _id = keyOf(accountId, channel, '');
      const capacity = Math.max(1, burst ?? 1);
      const nowMs = now.getTime();
      for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
        const doc = await collection.findOne({ _id });
        const atMs = doc ? Math.max(doc.atMs, nowMs) : nowMs;
        const tokens = doc ? Math.min(capacity, doc.tokens + ((atMs - doc.atMs) * perSecond) / 1000) : capacity;
        if (tokens + TOKEN_EPSILON < 1) return { ok: false, retryAtMs: atMs + Math.max(1, Math.ceil(((1 - tokens) * 1000) / perSecond)) };
        const left = Math.max(0, tokens - 1);
        const expireAt = new Date(atMs + Math.ceil(((capacity - left) * 1000) / perSecond));
        if (doc) {
          const written = await collection.updateOne({ _id, v: doc.v }, { $set: { tokens: left, atMs, expireAt }, $inc: { v: 1 } });
          if (written.matchedCount === 1) return { ok: true };
          continue;
        }
        try {
          await collection.insertOne({ _id, accountId, channel, tokens: left, atMs, v: 1, expireAt });
          return { ok: true };
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
        }
      }
      throw Object.assign(new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `send throttle of ${_id}: no consistent take after ${RESERVE_ATTEMPTS} attempts (contention)`), {
        retryable: true,
      });
    },
  };
}
