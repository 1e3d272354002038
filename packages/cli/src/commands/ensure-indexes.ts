import type { Output } from '../output.js';

/** Something that creates its indexes (the Mongo stores) or its tables and indexes (PostgreSQL migrations). */
export interface IndexedCollection {
  name: string;
  /** What the report line says was ensured. Default `indexes`. */
  what?: 'indexes' | 'schema' | undefined;
  ensureIndexes(): Promise<unknown>;
}

export interface IndexReport {
  name: string;
  what?: 'indexes' | 'schema' | undefined;
  report: unknown;
}

/** Creates every index the given stores rely on (idempotent: existing indexes are left as they are). */
export async function ensureIndexes(targets: readonly IndexedCollection[], output?: Output): Promise<IndexReport[]> {
  const progress = output?.progress('indexes', targets.length);
  const reports: IndexReport[] = [];
  try {
    for (const target of targets) {
      reports.push({ name: target.name, ...(target.what ? { what: target.what } : {}), report: await target.ensureIndexes() });
      progress?.tick();
    }
  } finally {
    progress?.done();
  }
  return reports;
}

export function printIndexReports(output: Output, reports: readonly IndexReport[]): void {
  if (output.json) return output.out(JSON.stringify(reports, null, 2));
  const value = (v: unknown) => (Array.isArray(v) ? (v.length === 0 ? 'none' : v.map(String).join(', ')) : String(v));
  for (const { name, what, report } of reports) {
    const detail = typeof report === 'object' && report !== null ? Object.entries(report).map(([k, v]) => `${k}=${value(v)}`).join(' ') : '';
    output.out(`${name}: ${what ?? 'indexes'} ensured${detail ? ` (${detail})` : ''}`);
  }
}
