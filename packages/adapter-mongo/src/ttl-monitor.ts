import type { Db } from 'mongodb';

/**
 * Whether the server deletes documents whose TTL index says they expired. MongoDB's TTL monitor
 * reports its passes in `serverStatus.metrics.ttl`; a server that accepts TTL indexes but never
 * expires anything (an in-memory test server, say) reports no such counters. Undefined when the
 * server does not let this user run `serverStatus`: then MongoDB's behaviour is assumed, and
 * `retention.mode: 'periodic'` is the way to say otherwise.
 */
export async function serverRunsTtlMonitor(db: Db): Promise<boolean | undefined> {
  let status: Record<string, unknown>;
  try {
    status = await db.admin().command({ serverStatus: 1, repl: 0, locks: 0, wiredTiger: 0, tcmalloc: 0 });
  } catch {
    return undefined;
  }
  const metrics = status['metrics'];
  const ttl = typeof metrics === 'object' && metrics !== null ? (metrics as Record<string, unknown>)['ttl'] : undefined;
  return typeof ttl === 'object' && ttl !== null && 'passes' in ttl;
}
