import type { DeadLetter, DeadLetterFilter } from '@crm-automation/core';
import type { Output } from '../output.js';

/** A dead-letter filter that may name a consumer group (RabbitMQ and Kafka both take one). */
export interface GroupDeadLetterFilter extends DeadLetterFilter {
  group?: string | undefined;
}

/** What the dead-letter commands need of a bus: `bus.deadLetters` of the RabbitMQ, Kafka or memory bus. */
export interface DeadLetterSource {
  list(filter?: GroupDeadLetterFilter): Promise<Array<DeadLetter & { group?: string | undefined }>>;
  replay(filter?: GroupDeadLetterFilter & { dryRun?: boolean | undefined }): Promise<number>;
}

export interface DeadLetterSelection {
  /** Groups to look at; empty or absent means the source's default (every group it knows). */
  groups?: readonly string[] | undefined;
  accountId?: string | undefined;
  limit?: number | undefined;
}

/** One dead letter as the CLI prints it. */
export interface DeadLetterRow {
  id: string;
  group: string | undefined;
  accountId: string | undefined;
  eventName: string | undefined;
  eventId: string | undefined;
  attempts: number;
  deadAt: string;
  reason: string;
}

function toRow(letter: DeadLetter & { group?: string | undefined }): DeadLetterRow {
  const message = typeof letter.message === 'object' && letter.message !== null ? (letter.message as Record<string, unknown>) : {};
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    id: letter.id,
    group: letter.group,
    accountId: letter.accountId,
    eventName: text(message['name']),
    eventId: text(message['id']),
    attempts: letter.attempts,
    deadAt: letter.deadAt.toISOString(),
    reason: letter.reason,
  };
}

const groupsOf = (selection: DeadLetterSelection): Array<string | undefined> => (selection.groups && selection.groups.length > 0 ? [...selection.groups] : [undefined]);

/** Lists dead letters matching the selection, group by group, up to `limit` in all. */
export async function listDeadLetters(source: DeadLetterSource, selection: DeadLetterSelection = {}): Promise<DeadLetterRow[]> {
  const limit = selection.limit ?? 1_000;
  const rows: DeadLetterRow[] = [];
  for (const group of groupsOf(selection)) {
    if (rows.length >= limit) break;
    const letters = await source.list({ accountId: selection.accountId, limit: limit - rows.length, ...(group === undefined ? {} : { group }) });
    rows.push(...letters.map(toRow));
  }
  return rows;
}

export interface ReplayResult {
  dryRun: boolean;
  /** Letters moved back to their group's queue (0 on a dry run). */
  moved: number;
  /** On a dry run: the letters that would move. */
  wouldMove: DeadLetterRow[];
}

/**
 * Replays dead letters matching the selection into the queue of the group that gave up on them.
 * A dry run moves nothing and returns the letters that would move.
 */
export async function replayDeadLetters(
  source: DeadLetterSource,
  selection: DeadLetterSelection & { dryRun?: boolean | undefined },
  output?: Output,
): Promise<ReplayResult> {
  if (selection.dryRun) {
    const wouldMove = await listDeadLetters(source, { ...selection, limit: selection.limit ?? Number.MAX_SAFE_INTEGER });
    return { dryRun: true, moved: 0, wouldMove };
  }
  const groups = groupsOf(selection);
  const progress = output?.progress('replaying', groups.length);
  let moved = 0;
  try {
    for (const group of groups) {
      const remaining = selection.limit === undefined ? undefined : selection.limit - moved;
      if (remaining !== undefined && remaining <= 0) break;
      moved += await source.replay({ accountId: selection.accountId, ...(remaining === undefined ? {} : { limit: remaining }), ...(group === undefined ? {} : { group }) });
      progress?.tick();
    }
  } finally {
    progress?.done();
  }
  return { dryRun: false, moved, wouldMove: [] };
}

/** Prints rows as an aligned table (or JSON). */
export function printDeadLetters(output: Output, rows: readonly DeadLetterRow[]): void {
  if (output.json) return output.out(JSON.stringify(rows, null, 2));
  if (rows.length === 0) return output.out('no dead letters');
  output.out(formatTable(['DEAD AT', 'GROUP', 'ACCOUNT', 'EVENT', 'ATTEMPTS', 'REASON'], rows.map((r) => [r.deadAt, r.group ?? '', r.accountId ?? '', `${r.eventName ?? '?'} ${r.eventId ?? ''}`.trim(), String(r.attempts), r.reason])));
  output.out(`${rows.length} dead letter${rows.length === 1 ? '' : 's'}`);
}

export function printReplay(output: Output, result: ReplayResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  if (result.dryRun) {
    if (result.wouldMove.length > 0) printDeadLetters(output, result.wouldMove);
    output.out(`dry run: ${result.wouldMove.length} dead letter${result.wouldMove.length === 1 ? '' : 's'} would be replayed; run again without --dry-run to move them`);
    return;
  }
  output.out(`replayed ${result.moved} dead letter${result.moved === 1 ? '' : 's'}`);
}

/** Left-aligned columns; long cells are cut so columns stay narrow, except the last (the reason), kept whole. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, maxCell = 60): string {
  const clip = (cell: string, i: number) => (i < header.length - 1 && cell.length > maxCell ? `${cell.slice(0, maxCell - 1)}…` : cell);
  const all = [header, ...rows].map((row) => row.map(clip));
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}
