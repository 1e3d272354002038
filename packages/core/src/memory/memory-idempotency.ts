import { checkOptions } from '../config/check-options.js';
import type { IdempotencyReservation, IdempotencyStore } from '../ports/idempotency.js';

interface Entry {
  state: 'in-flight' | 'done';
  result?: unknown;
  expiresAt: number;
}

/** Idempotency keys in memory: for tests and single-process apps. */
export function createMemoryIdempotencyStore(options: { now?: (() => number) | undefined } = {}): IdempotencyStore & { readonly size: number } {
  checkOptions('createMemoryIdempotencyStore', options, ['now']);
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    get size() {
      return entries.size;
    },
    async acquire(key, lockMs): Promise<IdempotencyReservation> {
      const entry = live(key);
      if (entry?.state === 'done') return { state: 'done', result: entry.result };
      if (entry) return { state: 'in-flight' };
      entries.set(key, { state: 'in-flight', expiresAt: now() + lockMs });
      return { state: 'acquired' };
    },
    async complete(key, result, ttlMs) {
      entries.set(key, { state: 'done', result, expiresAt: now() + ttlMs });
    },
    async release(key) {
      if (entries.get(key)?.state === 'in-flight') entries.delete(key);
    },
  };
}
