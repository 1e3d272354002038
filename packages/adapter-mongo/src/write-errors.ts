import { MongoBulkWriteError, MongoServerError } from 'mongodb';

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
