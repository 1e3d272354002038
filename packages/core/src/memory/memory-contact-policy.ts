import { checkOptions } from '../config/check-options.js';
import { VersionConflictError } from '../errors.js';
import type { ContactPolicy } from '../policy/contact-policy.js';
import type {
  ContactCounter,
  ContactPolicyStore,
  SendThrottle,
  StoredContactPolicy,
  Suppression,
  SuppressionChange,
  SuppressionStore,
} from '../ports/contact-policy.js';
import type { Page } from '../rules/rule.js';
import { cloneValue } from './clone-value.js';
import { clampLimit } from './memory-ids.js';

/**
 * The answer of a read that finds nothing, settled once for every such read: the fire path reads the
 * account policy and the recipient's suppression on every send, and most find none.
 */
const NOTHING: Promise<null> = Promise.resolve(null);

/** A copy of what a read found, as the promise the port returns (a clone that throws rejects). */
const copied = async <T>(value: T): Promise<T> => cloneValue(value);

/** Account policies in memory; a put replaces the whole policy and bumps its version. */
export function createMemoryContactPolicyStore(): ContactPolicyStore & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryContactPolicyStore', arguments[0], []);
  const policies = new Map<string, StoredContactPolicy>();
  return {
    get size() {
      return policies.size;
    },
    getContactPolicy(accountId) {
      const stored = policies.get(accountId);
      return stored ? copied(stored) : NOTHING;
    },
    async putContactPolicy(accountId, policy: ContactPolicy, { now, expectedVersion }) {
      const current = policies.get(accountId);
      const version = current?.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== version) {
        throw new VersionConflictError(accountId, expectedVersion, version, 'Contact policy of account');
      }
      const stored: StoredContactPolicy = { ...cloneValue(policy), accountId, version: version + 1, updatedAt: new Date(now.getTime()) };
      policies.set(accountId, stored);
      return cloneValue(stored);
    },
  };
}

const keyOf = (accountId: string, channel: string, recipient: string) => `${accountId}\u0000${channel}\u0000${recipient}`;

/** A page cursor of the memory stores' sequence numbers: anything that is not one reads from the start. */
const cursorOf = (cursor: string | undefined): number | undefined => {
  if (cursor === undefined || !/^\d{1,15}$/.test(cursor)) return undefined;
  return Number(cursor);
};

/** The suppression list in memory, with every change kept in order for the audit export. */
export function createMemorySuppressionStore(): SuppressionStore & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemorySuppressionStore', arguments[0], []);
  const entries = new Map<string, { seq: number; suppression: Suppression }>();
  const changes = new Map<string, SuppressionChange[]>();
  let seq = 0;
  const record = (change: SuppressionChange) => (changes.get(change.accountId) ?? changes.set(change.accountId, []).get(change.accountId))?.push(change);
  return {
    get size() {
      return entries.size;
    },
    findSuppression(accountId, channel, recipient) {
      let found;
      try {
        found = entries.get(keyOf(accountId, channel, recipient));
      } catch (error) {
        // As the async function it replaces: a key that cannot be built (a symbol) rejects, never throws.
        return Promise.reject(error);
      }
      return found ? copied(found.suppression) : NOTHING;
    },
    async addSuppression(entry) {
      const key = keyOf(entry.accountId, entry.channel, entry.recipient);
      const existing = entries.get(key);
      if (existing) return { created: false, suppression: cloneValue(existing.suppression) };
      const suppression = cloneValue(entry);
      entries.set(key, { seq: ++seq, suppression });
      const { createdAt, ...rest } = suppression;
      record({ ...cloneValue(rest), action: 'added', at: new Date(createdAt.getTime()) });
      return { created: true, suppression: cloneValue(suppression) };
    },
    async removeSuppression(accountId, channel, recipient, change) {
      const key = keyOf(accountId, channel, recipient);
      if (!entries.delete(key)) return false;
      record({ accountId, channel, recipient, action: 'removed', ...cloneValue(change) });
      return true;
    },
    async listSuppressions(accountId, filter): Promise<Page<Suppression>> {
      const limit = clampLimit(filter.limit);
      const before = cursorOf(filter.cursor);
      const matching: Array<{ seq: number; suppression: Suppression }> = [];
      for (const entry of entries.values()) {
        if (entry.suppression.accountId !== accountId) continue;
        if (filter.channel !== undefined && entry.suppression.channel !== filter.channel) continue;
        if (before !== undefined && entry.seq >= before) continue;
        matching.push(entry);
      }
      matching.sort((a, b) => b.seq - a.seq);
      const page = matching.slice(0, limit);
      const last = page[page.length - 1];
      const items = page.map((e) => cloneValue(e.suppression));
      return matching.length > limit && last ? { items, nextCursor: String(last.seq) } : { items };
    },
    async suppressionChanges(accountId, filter): Promise<Page<SuppressionChange>> {
      const limit = clampLimit(filter.limit);
      const all = changes.get(accountId) ?? [];
      const items: SuppressionChange[] = [];
      let index = cursorOf(filter.cursor) ?? 0;
      for (; index < all.length && items.length < limit; index++) {
        const change = all[index] as SuppressionChange;
        if (filter.channel !== undefined && change.channel !== filter.channel) continue;
        if (filter.recipient !== undefined && change.recipient !== filter.recipient) continue;
        items.push(cloneValue(change));
      }
      return index < all.length ? { items, nextCursor: String(index) } : { items };
    },
  };
}

interface Bucket {
  holders: Set<string>;
  expiresAt: number;
}

/**
 * Cap counters in memory: one process's reserves run one at a time, which is what makes a reserve
 * all-or-nothing here; engines sharing this object share the counts.
 */
export function createMemoryContactCounter(): ContactCounter & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryContactCounter', arguments[0], []);
  const buckets = new Map<string, Bucket>();
  let reserves = 0;
  const sweep = (now: number) => {
    for (const [key, bucket] of buckets) if (bucket.expiresAt <= now) buckets.delete(key);
  };
  return {
    get size() {
      return buckets.size;
    },
    async reserve({ accountId, buckets: wanted, holder, now }) {
      const at = now.getTime();
      // Expired buckets are swept now and then rather than on every reserve: a sweep walks them all.
      if (++reserves % 1_000 === 0) sweep(at);
      const scoped = wanted.map((want) => ({ want, key: `${accountId}\u0000${want.key}` }));
      for (const { want, key } of scoped) {
        const bucket = buckets.get(key);
        if (!bucket || bucket.expiresAt <= at || bucket.holders.has(holder)) continue;
        if (bucket.holders.size >= want.max) return { ok: false, full: want.key };
      }
      for (const { want, key } of scoped) {
        let bucket = buckets.get(key);
        if (!bucket || bucket.expiresAt <= at) {
          bucket = { holders: new Set(), expiresAt: want.expiresAt.getTime() };
          buckets.set(key, bucket);
        }
        bucket.holders.add(holder);
      }
      return { ok: true };
    },
    async release({ accountId, bucketKeys, holder }) {
      for (const key of bucketKeys) buckets.get(`${accountId}\u0000${key}`)?.holders.delete(holder);
    },
  };
}

/** Below this a bucket's fraction of a token is rounding, not a shortfall (tokens accrue as floats). */
const TOKEN_EPSILON = 1e-9;

/**
 * Send throttle buckets in memory: one token bucket per (account, channel), atomic inside one process
 * (JavaScript runs each take to the end before the next), so engines sharing this object share the
 * rate. Buckets that are full again are pruned as the map grows.
 */
export function createMemorySendThrottle(): SendThrottle & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemorySendThrottle', arguments[0], []);
  const buckets = new Map<string, { tokens: number; atMs: number; fullAtMs: number }>();
  let pruneAt = 1_024;
  return {
    get size() {
      return buckets.size;
    },
    async take({ accountId, channel, now, perSecond, burst }) {
      const capacity = Math.max(1, burst ?? 1);
      const nowMs = now.getTime();
      const key = `${accountId}\u0000${channel}`;
      const bucket = buckets.get(key);
      let tokens = capacity;
      let atMs = nowMs;
      if (bucket) {
        atMs = Math.max(bucket.atMs, nowMs);
        tokens = Math.min(capacity, bucket.tokens + ((atMs - bucket.atMs) * perSecond) / 1000);
      }
      if (tokens + TOKEN_EPSILON >= 1) {
        const left = Math.max(0, tokens - 1);
        buckets.set(key, { tokens: left, atMs, fullAtMs: atMs + Math.ceil(((capacity - left) * 1000) / perSecond) });
        if (buckets.size > pruneAt) {
          for (const [k, b] of buckets) if (b.fullAtMs <= nowMs) buckets.delete(k);
          pruneAt = Math.max(1_024, buckets.size * 2);
        }
        return { ok: true };
      }
      buckets.set(key, { tokens, atMs, fullAtMs: atMs + Math.ceil(((capacity - tokens) * 1000) / perSecond) });
      return { ok: false, retryAtMs: atMs + Math.max(1, Math.ceil(((1 - tokens) * 1000) / perSecond)) };
    },
  };
}
