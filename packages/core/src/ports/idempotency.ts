export type IdempotencyReservation =
  /** The caller holds the key and must send, then `complete` or `release` it. */
  | { state: 'acquired' }
  /** Sent before: the stored result of that send. */
  | { state: 'done'; result: unknown }
  /** Another worker holds the key right now. */
  | { state: 'in-flight' };

/**
 * Remembers which commands were sent, keyed by `metadata.idempotencyKey`. Implementations must make
 * `acquire` atomic across processes (SET NX, a unique index, ...).
 */
export interface IdempotencyStore {
  /** Reserves the key for `lockMs` unless it is done or held. */
  acquire(key: string, lockMs: number): Promise<IdempotencyReservation>;
  /** Marks the key sent, keeping `result` for `ttlMs`. */
  complete(key: string, result: unknown, ttlMs: number): Promise<void>;
  /** Gives the key up after a failed send so a retry can take it. */
  release(key: string): Promise<void>;
  close?(): Promise<void>;
}
