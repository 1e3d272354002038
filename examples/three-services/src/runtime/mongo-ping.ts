import type { Db } from 'mongodb';

/** Readiness probe of a Mongo-wire database. */
export async function pingMongo(db: Db): Promise<void> {
  await db.command({ ping: 1 });
}
