import type { Database } from './connection.js';

/** Rows one purge statement deletes at most, so that a large purge never holds long locks. */
export const PURGE_CHUNK = 5_000;

/**
 * Deletes the rows of `table` whose `column` is one of `values` and whose `updated_at` is before
 * `before`, a chunk at a time, and answers how many. `values` come from the adapter's fixed lists and
 * are written as literals, so that the planner matches the table's partial index of finished rows.
 */
export async function purgeInChunks(db: Database, table: 'triggers' | 'deliveries', column: 'status' | 'state', values: readonly string[], before: string): Promise<number> {
  if (values.length === 0) return 0;
  const inList = values.map((x) => `'${x.replaceAll("'", "''")}'`).join(', ');
  const text = `
    WITH doomed AS (
      SELECT id FROM "${db.schema}".${table} WHERE ${column} IN (${inList}) AND updated_at < $1::timestamptz LIMIT ${PURGE_CHUNK}
    )
    DELETE FROM "${db.schema}".${table} x
    WHERE x.id = ANY (ARRAY(SELECT id FROM doomed)) AND x.${column} IN (${inList}) AND x.updated_at < $1::timestamptz`;
  let removed = 0;
  for (;;) {
    const deleted = (await db.query(text, [before])).rowCount ?? 0;
    removed += deleted;
    if (deleted < PURGE_CHUNK) return removed;
  }
}
