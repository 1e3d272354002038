import type { AutomationEngine, Suppression, SuppressionChange } from '@crm-automation/core';
import type { Output } from '../output.js';
import { formatTable } from './dead-letters.js';

type SuppressionEngine = Pick<AutomationEngine, 'suppressions'>;

const PAGE = 500;

export interface SuppressionListOptions {
  accountId: string;
  channel?: string | undefined;
  /** At most this many (default 50). */
  limit?: number | undefined;
}

/** An account's suppressions, newest first, up to `limit`. */
export async function listSuppressions(engine: SuppressionEngine, options: SuppressionListOptions): Promise<Suppression[]> {
  const limit = options.limit ?? 50;
  const found: Suppression[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.suppressions.list(options.accountId, {
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      limit: Math.min(PAGE, limit - found.length),
      ...(cursor === undefined ? {} : { cursor }),
    });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && found.length < limit);
  return found.slice(0, limit);
}

export function printSuppressions(output: Output, suppressions: readonly Suppression[]): void {
  if (output.json) return output.out(JSON.stringify(suppressions, null, 2));
  if (suppressions.length === 0) return output.out('no suppressions');
  output.out(
    formatTable(
      ['CHANNEL', 'RECIPIENT', 'REASON', 'SOURCE', 'BY', 'SINCE', 'DETAIL'],
      suppressions.map((s) => [s.channel, s.recipient, s.reason, s.source, s.by ?? '', s.createdAt.toISOString(), s.detail ?? '']),
    ),
  );
  output.out(`${suppressions.length} suppression${suppressions.length === 1 ? '' : 's'}`);
}

export interface SuppressionLookup {
  accountId: string;
  channel: string;
  /** As the engine normalises it (E.164, lower-cased email); the typed one when it was refused. */
  recipient: string;
  suppression: Suppression | null;
}

/** Whether a recipient is suppressed on a channel; the engine checks and normalises the recipient (`CRM_ERR_POLICY_INVALID`). */
export async function lookupSuppression(engine: SuppressionEngine, accountId: string, channel: string, recipient: string): Promise<SuppressionLookup> {
  const suppression = await engine.suppressions.lookup(accountId, channel, recipient);
  return { accountId, channel, recipient: suppression?.recipient ?? recipient.trim(), suppression };
}

export function printLookup(output: Output, found: SuppressionLookup): void {
  if (output.json) return output.out(JSON.stringify({ suppressed: found.suppression !== null, suppression: found.suppression }, null, 2));
  const s = found.suppression;
  if (s === null) return output.out(`${found.recipient} is not suppressed on ${found.channel} in ${found.accountId}`);
  output.out(`${s.recipient} is suppressed on ${s.channel} in ${s.accountId} since ${s.createdAt.toISOString()}: ${s.reason} (${s.source}${s.by ? `, by ${s.by}` : ''})${s.detail ? `: ${s.detail}` : ''}`);
}

export interface SuppressionChangeRequest {
  accountId: string;
  channel: string;
  recipient: string;
  /** Who (default `cli:<user>`), kept in the change log. */
  by: string;
  note?: string | undefined;
  dryRun?: boolean | undefined;
}

export interface SuppressionChangeResult {
  dryRun: boolean;
  action: 'add' | 'remove';
  /** False when there was (or would be) nothing to change: already suppressed, or not suppressed. */
  changed: boolean;
  /** The entry after an add, the one removed (or that would be) for a remove; null when there is none. */
  suppression: Suppression | null;
}

/**
 * A manual suppression (reason `manual`, source `cli`). A dry run looks the recipient up through the
 * engine (so it is checked and normalised the same way) and says whether the add would change anything.
 */
export async function addSuppression(engine: SuppressionEngine, request: SuppressionChangeRequest): Promise<SuppressionChangeResult> {
  if (request.dryRun) {
    const existing = await engine.suppressions.lookup(request.accountId, request.channel, request.recipient);
    return { dryRun: true, action: 'add', changed: existing === null, suppression: existing };
  }
  const added = await engine.suppressions.add(request.accountId, {
    channel: request.channel,
    recipient: request.recipient,
    reason: 'manual',
    source: 'cli',
    by: request.by,
    ...(request.note === undefined ? {} : { detail: request.note }),
  });
  return { dryRun: false, action: 'add', changed: added.created, suppression: added.suppression };
}

/** Lifts a suppression (reason `manual`, source `cli`); a dry run says whether there is one to lift. */
export async function removeSuppression(engine: SuppressionEngine, request: SuppressionChangeRequest): Promise<SuppressionChangeResult> {
  const existing = await engine.suppressions.lookup(request.accountId, request.channel, request.recipient);
  if (request.dryRun || existing === null) return { dryRun: request.dryRun === true, action: 'remove', changed: existing !== null, suppression: existing };
  const removed = await engine.suppressions.remove(request.accountId, request.channel, request.recipient, {
    reason: 'manual',
    source: 'cli',
    by: request.by,
    ...(request.note === undefined ? {} : { detail: request.note }),
  });
  return { dryRun: false, action: 'remove', changed: removed, suppression: existing };
}

export function printSuppressionChange(output: Output, request: Pick<SuppressionChangeRequest, 'accountId' | 'channel' | 'recipient'>, result: SuppressionChangeResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const who = `${result.suppression?.recipient ?? request.recipient.trim()} on ${request.channel} in ${request.accountId}`;
  const prefix = result.dryRun ? 'dry run: ' : '';
  if (result.action === 'add') {
    if (!result.changed) return output.out(`${prefix}${who} is already suppressed (${result.suppression?.reason ?? ''} since ${result.suppression?.createdAt.toISOString() ?? ''}): nothing ${result.dryRun ? 'would change' : 'changed'}`);
    return output.out(result.dryRun ? `${prefix}would suppress ${who} (manual, cli)` : `suppressed ${who} (manual, cli)`);
  }
  if (!result.changed) return output.out(`${prefix}${who} is not suppressed: nothing ${result.dryRun ? 'would change' : 'changed'}`);
  output.out(result.dryRun ? `${prefix}would lift the suppression of ${who} (${result.suppression?.reason ?? ''})` : `lifted the suppression of ${who}`);
}

export type ExportFormat = 'csv' | 'json';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json'];

/** Every add and remove of an account (optionally one channel), oldest first, every page: the audit export. */
export async function exportSuppressionChanges(engine: SuppressionEngine, options: { accountId: string; channel?: string | undefined }): Promise<SuppressionChange[]> {
  const changes: SuppressionChange[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.suppressions.changes(options.accountId, {
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      limit: PAGE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    changes.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return changes;
}

export const CHANGE_CSV_COLUMNS = ['at', 'account', 'channel', 'recipient', 'action', 'reason', 'source', 'by', 'detail'] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function changesToCsv(changes: readonly SuppressionChange[]): string {
  const rows = changes.map((c) => [c.at.toISOString(), c.accountId, c.channel, c.recipient, c.action, c.reason, c.source, c.by ?? '', c.detail ?? '']);
  return [CHANGE_CSV_COLUMNS, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n');
}

export function printSuppressionChanges(output: Output, changes: readonly SuppressionChange[], format: ExportFormat): void {
  output.out(format === 'json' ? JSON.stringify(changes, null, 2) : changesToCsv(changes));
}
