import { expect } from 'vitest';
import type { IdempotencyReservation, IdempotencyStore } from '@crm-automation/core';

/*
 * What every shared idempotency store (PostgreSQL, Redis) must do when two holders release the same
 * key, written once so both are held to the same sequence. How a lock lapses differs per store (a
 * manual clock, or real time on the server), so the caller supplies that step.
 */

/**
 * `a` and `b` are two instances on one backing store; `key` and `staleKey` are unused keys.
 * `takeOverAfterLapse(staleKey)` lets `a`'s 50 ms lock on `staleKey` lapse and returns what `b.acquire`
 * then answers. A release frees only its holder's reservation: never a completed key, never another
 * holder's, and a stale holder's release after a takeover is a no-op.
 */
export async function expectReleaseFreesOnlyItsOwn(
  a: IdempotencyStore,
  b: IdempotencyStore,
  key: string,
  staleKey: string,
  takeOverAfterLapse: (staleKey: string) => Promise<IdempotencyReservation>,
): Promise<void> {
  await a.acquire(key, 30_000);
  await a.release(key);
  expect(await b.acquire(key, 30_000)).toEqual({ state: 'acquired' });
  await a.release(key); // a no longer holds it: b's reservation must survive
  expect(await a.acquire(key, 30_000)).toEqual({ state: 'in-flight' });
  await b.complete(key, 'sent', 60_000);
  await b.release(key);
  expect(await a.acquire(key, 30_000)).toEqual({ state: 'done', result: 'sent' });

  await a.acquire(staleKey, 50);
  expect(await takeOverAfterLapse(staleKey)).toEqual({ state: 'acquired' });
  await a.release(staleKey);
  expect(await a.acquire(staleKey, 30_000)).toEqual({ state: 'in-flight' });
}
