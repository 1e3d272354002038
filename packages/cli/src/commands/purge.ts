import { FINAL_STATUSES, type PurgeRequest, type TriggerStatus } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import type { Output } from '../output.js';

/**
 * Where old triggers are purged: the store's `purgeTriggers`, and a count of what it would remove
 * for dry runs (the store port has no cross-account count; `mongoRetentionTarget` provides one).
 */
export interface RetentionTarget {
  purge(request: PurgeRequest): Promise<number>;
  count(request: PurgeRequest): Promise<number>;
}

export interface PurgeOptions {
  /** Age in ms: triggers last updated longer ago than this are removed. */
  olderThanMs: number;
  /** Default completed and skipped. Only final statuses may be purged. */
  statuses?: readonly TriggerStatus[] | undefined;
  dryRun?: boolean | undefined;
  now?: Date | undefined;
}

export interface PurgeResult {
  dryRun: boolean;
  statuses: TriggerStatus[];
  olderThan: string;
  /** Removed, or on a dry run the number that would be. */
  triggers: number;
}

export const DEFAULT_PURGE_STATUSES: readonly TriggerStatus[] = ['completed', 'skipped'];

/**
 * Applies a retention policy: deletes finished triggers (by default completed and skipped) last
 * updated before `now - olderThan`. Triggers that may still run (pending, processing, retrying)
 * are never purged. A dry run counts them and deletes nothing.
 */
export async function purgeTriggers(target: RetentionTarget, options: PurgeOptions): Promise<PurgeResult> {
  const statuses = [...(options.statuses ?? DEFAULT_PURGE_STATUSES)];
  const unfinished = statuses.filter((s) => !FINAL_STATUSES.includes(s));
  if (unfinished.length > 0 || statuses.length === 0) {
    throw new CliError('CRM_ERR_CLI_USAGE', `only finished triggers can be purged (${FINAL_STATUSES.join(', ')}); refused: ${unfinished.join(', ') || '(none given)'}`);
  }
  const olderThan = new Date((options.now ?? new Date()).getTime() - options.olderThanMs);
  const request: PurgeRequest = { statuses, olderThan };
  const triggers = options.dryRun ? await target.count(request) : await target.purge(request);
  return { dryRun: options.dryRun ?? false, statuses, olderThan: olderThan.toISOString(), triggers };
}

export function printPurge(output: Output, result: PurgeResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const what = `${result.triggers} ${result.statuses.join('/')} trigger${result.triggers === 1 ? '' : 's'} last updated before ${result.olderThan}`;
  output.out(result.dryRun ? `dry run: would purge ${what}; run again without --dry-run to delete them` : `purged ${what}`);
}
