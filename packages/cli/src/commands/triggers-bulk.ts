import { isAutomationError, type AutomationEngine, type Trigger, type TriggerFilter, type TriggerStatus } from '@crm-automation/core';
import type { Output } from '../output.js';
import type { TriggerQuery } from './triggers-list.js';

export type BulkOperation = 'retry' | 'cancel';

/** Which triggers of an account a bulk operation applies to. */
export interface TriggerSelection extends TriggerQuery {
  /** Default: the statuses the operation applies to (`failed` for retry, `pending`/`retrying` for cancel). */
  statuses?: readonly TriggerStatus[] | undefined;
}

/** The states each operation moves a trigger out of, as the engine enforces them. */
export const OPERATION_STATUSES: Record<BulkOperation, readonly TriggerStatus[]> = {
  retry: ['failed'],
  cancel: ['pending', 'retrying'],
};

export interface BulkResult {
  operation: BulkOperation;
  dryRun: boolean;
  /** Triggers the filter matched. */
  matched: number;
  /** Triggers moved (0 on a dry run). */
  changed: number;
  /** Triggers the engine refused (state changed meanwhile, or not allowed from their state), with why. */
  skipped: Array<{ id: string; reason: string }>;
  /** On a dry run: the ids that would be changed. */
  ids: string[];
}

const PAGE = 500;

/** Every trigger of the account matching the selection, page by page (collected before any change). */
export async function selectTriggers(engine: Pick<AutomationEngine, 'triggers'>, selection: TriggerSelection, operation: BulkOperation): Promise<Trigger[]> {
  const filter: TriggerFilter = {
    status: [...(selection.statuses ?? OPERATION_STATUSES[operation])],
    ...(selection.ruleId === undefined ? {} : { ruleId: selection.ruleId }),
    ...(selection.entityKey === undefined ? {} : { entityKey: selection.entityKey }),
    ...(selection.from === undefined ? {} : { from: selection.from }),
    ...(selection.to === undefined ? {} : { to: selection.to }),
    limit: PAGE,
  };
  const found: Trigger[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.triggers.list(selection.accountId, { ...filter, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

/**
 * Retries or cancels every trigger matching the selection through `engine.triggers.retry/cancel`,
 * so the engine's state rules apply to each one (a trigger that changed state since it was listed
 * is skipped with the reason, not forced). A dry run lists what would change and changes nothing.
 */
export async function bulkTransition(
  engine: Pick<AutomationEngine, 'triggers'>,
  operation: BulkOperation,
  selection: TriggerSelection & { dryRun?: boolean | undefined },
  output?: Output,
): Promise<BulkResult> {
  const triggers = await selectTriggers(engine, selection, operation);
  const result: BulkResult = { operation, dryRun: selection.dryRun ?? false, matched: triggers.length, changed: 0, skipped: [], ids: [] };
  if (selection.dryRun) {
    result.ids = triggers.map((t) => t.id);
    return result;
  }
  const progress = output?.progress(operation === 'retry' ? 'retrying' : 'cancelling', triggers.length);
  try {
    for (const trigger of triggers) {
      try {
        const changed = await engine.triggers[operation](selection.accountId, trigger.id);
        if (changed) result.changed += 1;
        else result.skipped.push({ id: trigger.id, reason: 'no longer exists' });
      } catch (error) {
        if (!isAutomationError(error) || error.code !== 'CRM_ERR_TRIGGER_STATE') throw error;
        result.skipped.push({ id: trigger.id, reason: error.message });
      }
      progress?.tick();
    }
  } finally {
    progress?.done();
  }
  return result;
}

export function printBulkResult(output: Output, result: BulkResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const verb = result.operation === 'retry' ? 'retried' : 'cancelled';
  if (result.dryRun) {
    for (const id of result.ids) output.out(id);
    output.out(`dry run: ${result.matched} trigger${result.matched === 1 ? '' : 's'} would be ${verb}; run again without --dry-run to apply`);
    return;
  }
  for (const skip of result.skipped) output.err(`skipped ${skip.id}: ${skip.reason}`);
  output.out(`${verb} ${result.changed} of ${result.matched} matching trigger${result.matched === 1 ? '' : 's'}${result.skipped.length > 0 ? `; ${result.skipped.length} skipped` : ''}`);
}
