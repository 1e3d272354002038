import type { Output } from '../output.js';

/** Something that creates its indexes: the Mongo store, the Mongo idempotency store. */
export interface IndexedCollection {
  name: string;
  ensureIndexes(): Promise<unknown>;
}

export interface IndexReport {
  name: string;
  report: unknown;
}

/** Creates every index the given stores rely on (idempotent: existing indexes are left as they are). */
export async function ensureIndexes(targets: readonly IndexedCollection[], output?: Output): Promise<IndexReport[]> {
  const progress = output?.progress('indexes', targets.length);
  const reports: IndexReport[] = [];
  try {
    for (const target of targets) {
      reports.push({ name: target.name, report: await target.ensureIndexes() });
      progress?.tick();
    }
  } finally {
    progress?.done();
  }
  return reports;
}

export function printIndexReports(output: Output, reports: readonly IndexReport[]): void {
  if (output.json) return output.out(JSON.stringify(reports, null, 2));
  for (const { name, report } of reports) {
    const detail = typeof report === 'object' && report !== null ? Object.entries(report).map(([k, v]) => `${k}=${String(v)}`).join(' ') : '';
    output.out(`${name}: indexes ensured${detail ? ` (${detail})` : ''}`);
  }
}
