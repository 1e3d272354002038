import { MongoServerError } from 'mongodb';

/**
 * FerretDB's SQLite backend fails a write with "database is locked" when SQLite's single write lock
 * stays taken past its busy timeout (10 s) under many concurrent writers. The transaction was rolled
 * back, so the write can be sent again; the engine's own retry of an outcome is too short for that.
 */
function isDatabaseLocked(error: unknown): boolean {
  return error instanceof MongoServerError && /database is locked/i.test(error.message);
}

const DELAYS_MS = [100, 250, 500, 1_000, 2_000, 4_000];

/** Runs `write`, again after a pause while FerretDB reports its database locked (about 8 s in all). */
export async function retryWhileLocked<T>(write: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await write();
    } catch (error) {
      const delay = DELAYS_MS[i];
      if (delay === undefined || !isDatabaseLocked(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
    }
  }
}
