import type { ContactPolicyStore, StoredContactPolicy, Suppression, SuppressionKey, SuppressionStore } from '../ports/contact-policy.js';

/** Most keys one batched read asks for; more wait for the next. */
export const MAX_COALESCED_KEYS = 500;

interface Waiter<V> {
  resolve(value: V | null): void;
  reject(error: unknown): void;
}

/**
 * Gathers the reads that concurrent sends make in one turn of the event loop into one batched read:
 * a claim batch of 64 triggers running at once asks the store once for their accounts' policies (or
 * their recipients' suppressions) instead of 64 times. A read waits at most for the rest of the turn.
 * The answers are the store's at the batch's read, as they would be at the 64 single reads; a failed
 * batch fails each read in it (the engine retries those sends as it would a failed single read).
 */
class Coalescer<K, V> {
  private pending = new Map<string, { key: K; waiters: Array<Waiter<V>> }>();
  private scheduled = false;

  constructor(
    private readonly fetch: (keys: K[]) => Promise<Map<string, V>>,
    private readonly idOf: (key: K) => string,
  ) {}

  read(key: K): Promise<V | null> {
    return new Promise<V | null>((resolve, reject) => {
      const id = this.idOf(key);
      const entry = this.pending.get(id);
      if (entry) entry.waiters.push({ resolve, reject });
      else this.pending.set(id, { key, waiters: [{ resolve, reject }] });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = [...this.pending.values()];
    this.pending = new Map();
    for (let start = 0; start < all.length; start += MAX_COALESCED_KEYS) {
      const batch = all.slice(start, start + MAX_COALESCED_KEYS);
      this.fetch(batch.map((entry) => entry.key)).then(
        (found) => {
          for (const entry of batch) {
            const value = found.get(this.idOf(entry.key)) ?? null;
            for (const waiter of entry.waiters) waiter.resolve(value);
          }
        },
        (error: unknown) => {
          for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
        },
      );
    }
  }
}

const suppressionId = (key: SuppressionKey) => `${key.accountId}\u0000${key.channel}\u0000${key.recipient}`;

/**
 * The fire path's reads of the account policy, in batches when the store can (`getContactPolicies`);
 * the store itself otherwise. Writes go to the store as they are.
 */
export function coalescedPolicyReads(store: ContactPolicyStore): ContactPolicyStore {
  const batched = store.getContactPolicies;
  if (typeof batched !== 'function') return store;
  const reads = new Coalescer<string, StoredContactPolicy>(
    async (accountIds) => new Map((await batched.call(store, accountIds)).map((policy) => [policy.accountId, policy])),
    (accountId) => accountId,
  );
  return {
    getContactPolicy: (accountId) => reads.read(accountId),
    putContactPolicy: (accountId, policy, options) => store.putContactPolicy(accountId, policy, options),
  };
}

/** The fire path's suppression look-ups, in batches when the store can (`findSuppressions`); the store itself otherwise. */
export function coalescedSuppressionReads(store: SuppressionStore): SuppressionStore {
  const batched = store.findSuppressions;
  if (typeof batched !== 'function') return store;
  const reads = new Coalescer<SuppressionKey, Suppression>(async (keys) => new Map((await batched.call(store, keys)).map((found) => [suppressionId(found), found])), suppressionId);
  return {
    findSuppression: (accountId, channel, recipient) => reads.read({ accountId, channel, recipient }),
    addSuppression: (entry) => store.addSuppression(entry),
    removeSuppression: (accountId, channel, recipient, change) => store.removeSuppression(accountId, channel, recipient, change),
    listSuppressions: (accountId, filter) => store.listSuppressions(accountId, filter),
    suppressionChanges: (accountId, filter) => store.suppressionChanges(accountId, filter),
  };
}
