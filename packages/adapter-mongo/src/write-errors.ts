import { MongoBulkWriteError, MongoDriverError, MongoError, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError } from 'mongodb';

export const DUPLICATE_KEY = 11000;

/**
 * Indexes of an unordered insertMany's documents that hit a unique index, or undefined when the
 * error is anything else (which the caller must rethrow: then nothing is known about the batch).
 * Only the write errors are used: some servers miscount `insertedCount` in this case.
 */
export function duplicateKeyIndexes(error: unknown): Set<number> | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) return undefined;
  return new Set(errors.map((e) => e.index));
}

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/**
 * Whether the driver says the request may succeed if made again: the connection was lost, no server
 * could be selected, no connection could be checked out in time, or the operation ran out of its
 * `timeoutMS` (all cover a server that is restarting, unreachable or overloaded), or the server
 * labelled the write retryable (a primary stepping down).
 */
export function isTransientDriverError(error: unknown): boolean {
  // insertMany and bulkWrite wrap a driver error (not a server's answer) in a MongoBulkWriteError whose
  // `errorResponse` is that error: the class alone says nothing about the connection.
  const wrapped: unknown = error instanceof MongoBulkWriteError ? error.errorResponse : undefined;
  if (wrapped instanceof Error) return isTransientDriverError(wrapped);
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError || error instanceof MongoOperationTimeoutError) return true;
  // The driver does not export the checkout timeout's class, so it is known by its name.
  if (error instanceof MongoDriverError && error.name === 'MongoWaitQueueTimeoutError') return true;
  return error instanceof MongoError && error.hasErrorLabel('RetryableWriteError');
}

/**
 * Marks a transient driver error `retryable: true`, the flag core reads on any error to decide between
 * a retry and a permanent failure; other errors are returned as they are. The error keeps its class.
 */
export function markTransient<E>(error: E): E {
  if (isTransientDriverError(error)) Object.defineProperty(error, 'retryable', { value: true, enumerable: false, configurable: true });
  return error;
}
