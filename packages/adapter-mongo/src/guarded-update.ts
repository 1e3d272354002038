import type { Collection, Document, Filter, ObjectId, UpdateFilter, WithId } from 'mongodb';
import type { ServerDialect } from './connection.js';
import { retryWhileLocked } from './ferretdb-lock.js';

/**
 * A condition a document must meet for a write to apply, written twice: as a query filter, which
 * MongoDB evaluates atomically with the write, and as a predicate for servers that would evaluate
 * the filter by reading and overwriting anyway (FerretDB v1) — there the adapter reads by `_id`,
 * tests the predicate and writes by `_id`, which is as atomic as the server's own path and, unlike
 * it, does not scan the collection. Exclusivity of claims never rests on this: see claim-tickets.ts.
 */
export interface Guard<D extends Document> {
  filter: Filter<D>;
  matches(doc: WithId<D>): boolean;
}

export type GuardedUpdateResult<D extends Document> =
  | { ok: true; doc: WithId<D> }
  | { ok: false; current: WithId<D> | null };

/** Builds guards from the few condition shapes the adapter needs. */
export const guard = {
  all<D extends Document>(...guards: Guard<D>[]): Guard<D> {
    return {
      filter: Object.assign({}, ...guards.map((g) => g.filter)) as Filter<D>,
      matches: (doc) => guards.every((g) => g.matches(doc)),
    };
  },
  equals<D extends Document>(field: keyof D & string, value: string | number | boolean): Guard<D> {
    return { filter: { [field]: value } as Filter<D>, matches: (doc) => doc[field] === value };
  },
  oneOf<D extends Document>(field: keyof D & string, values: readonly string[]): Guard<D> {
    return { filter: { [field]: { $in: [...values] } } as Filter<D>, matches: (doc) => values.includes(doc[field] as string) };
  },
  atOrBefore<D extends Document>(field: keyof D & string, time: Date): Guard<D> {
    return {
      filter: { [field]: { $lte: time } } as Filter<D>,
      matches: (doc) => {
        const value: unknown = doc[field];
        return value instanceof Date && value.getTime() <= time.getTime();
      },
    };
  },
};

/**
 * Applies `update` to the document `_id` if it meets `condition`; returns the document as it is
 * afterwards (`returnDocument: 'after'`) or before, or the current document when the guard failed.
 */
export async function updateIfMatches<D extends Document & { _id: ObjectId }>(
  collection: Collection<D>,
  dialect: ServerDialect,
  id: ObjectId,
  condition: Guard<D>,
  update: UpdateFilter<D>,
  returnDocument: 'before' | 'after',
): Promise<GuardedUpdateResult<D>> {
  const byId = { _id: id } as Filter<D>;
  if (dialect === 'mongodb') {
    const doc = await collection.findOneAndUpdate({ ...condition.filter, _id: id } as Filter<D>, update, { returnDocument });
    if (doc) return { ok: true, doc };
    return { ok: false, current: await collection.findOne(byId) };
  }
  const current = await collection.findOne(byId);
  if (!current || !condition.matches(current)) return { ok: false, current };
  const doc = await retryWhileLocked(() => collection.findOneAndUpdate(byId, update, { returnDocument }));
  return doc ? { ok: true, doc: returnDocument === 'before' ? current : doc } : { ok: false, current: null };
}

/** Like {@link updateIfMatches} when the caller only needs to know whether the write applied. */
export async function updateOneIfMatches<D extends Document & { _id: ObjectId }>(
  collection: Collection<D>,
  dialect: ServerDialect,
  id: ObjectId,
  condition: Guard<D>,
  update: UpdateFilter<D>,
): Promise<boolean> {
  if (dialect === 'mongodb') {
    const result = await collection.updateOne({ ...condition.filter, _id: id } as Filter<D>, update);
    return result.matchedCount === 1;
  }
  const current = await collection.findOne({ _id: id } as Filter<D>);
  if (!current || !condition.matches(current)) return false;
  const result = await retryWhileLocked(() => collection.updateOne({ _id: id } as Filter<D>, update));
  return result.matchedCount === 1;
}
