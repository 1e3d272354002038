import { isAutomationError, type AutomationEngine, type Delivery, type DeliveryState, type TriggerStatus } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import type { Output } from '../output.js';
import { showDelivery } from './deliveries-show.js';

export type DeliveryResolution = 'sent' | 'resend';

export interface ResolveDeliveryOptions {
  accountId: string;
  id: string;
  /** `sent`: the provider has it (`accepted`); `resend`: it does not (`abandoned`, and the trigger runs again now). */
  as: DeliveryResolution;
  /** Who decided, kept in the delivery's events and the engine's log. */
  by: string;
  note?: string | undefined;
  dryRun?: boolean | undefined;
}

export interface ResolveDeliveryResult {
  dryRun: boolean;
  as: DeliveryResolution;
  /** The delivery after the change (as it is, on a dry run). */
  delivery: Delivery;
  /** The state it moves to (or would). */
  state: DeliveryState;
  /** For `resend`: the trigger that sends the action again, and its status now. */
  trigger?: { id: string; status: TriggerStatus } | undefined;
}

const STATE_AFTER: Record<DeliveryResolution, DeliveryState> = { sent: 'accepted', resend: 'abandoned' };

/** Trigger statuses the engine runs again from on a resend (`engine.deliveries.resolve`). */
const RESENDABLE_FROM: readonly TriggerStatus[] = ['completed', 'failed', 'skipped', 'cancelled'];

/**
 * An operator's decision on an `unknown` send, through `engine.deliveries.resolve`. Everything that
 * would make it a no-op or half-done is refused before anything changes: a delivery not `unknown`
 * (in flight or settled), and for a resend a trigger still running (the engine would mark the
 * delivery abandoned and then refuse to run the trigger).
 */
export async function resolveDelivery(engine: Pick<AutomationEngine, 'deliveries' | 'triggers'>, options: ResolveDeliveryOptions): Promise<ResolveDeliveryResult> {
  const { accountId, id } = options;
  const before = await showDelivery(engine, accountId, id);
  if (before.state !== 'unknown') {
    throw new CliError('CRM_ERR_CLI_NOT_RESOLVABLE', `delivery ${id} is ${before.state}, not unknown: only a send whose outcome is unknown can be resolved; nothing changed`);
  }
  let trigger: ResolveDeliveryResult['trigger'];
  if (options.as === 'resend') {
    const found = await engine.triggers.get(accountId, before.triggerId);
    if (!found) throw new CliError('CRM_ERR_CLI_NOT_FOUND', `trigger ${before.triggerId} of delivery ${id} does not exist in account ${accountId} (purged?): it cannot send the action again`);
    if (!RESENDABLE_FROM.includes(found.status)) {
      throw new CliError('CRM_ERR_CLI_NOT_RESOLVABLE', `trigger ${found.id} is ${found.status}: resend once it has finished (${RESENDABLE_FROM.join(', ')}); nothing changed`);
    }
    trigger = { id: found.id, status: found.status };
  }
  const state = STATE_AFTER[options.as];
  if (options.dryRun) return { dryRun: true, as: options.as, delivery: before, state, ...(trigger ? { trigger } : {}) };

  const after = await engine.deliveries.resolve(accountId, id, { as: options.as, by: options.by, note: options.note }).catch((error: unknown) => {
    // Another operator or a receipt got there between the read and the write: the engine refused it.
    if (isAutomationError(error) && error.code === 'CRM_ERR_DELIVERY_STATE') throw new CliError('CRM_ERR_CLI_NOT_RESOLVABLE', `delivery ${id}: ${error.message}`);
    throw error;
  });
  if (!after) throw new CliError('CRM_ERR_CLI_NOT_FOUND', `delivery ${id} does not exist in account ${accountId}`);
  // Another operator or a receipt got there between the read and the write: the ledger left it alone.
  if (after.state !== state) throw new CliError('CRM_ERR_CLI_NOT_RESOLVABLE', `delivery ${id} became ${after.state} meanwhile; nothing changed`);
  if (trigger) {
    const now = await engine.triggers.get(accountId, trigger.id);
    trigger = { id: trigger.id, status: now?.status ?? trigger.status };
  }
  return { dryRun: false, as: options.as, delivery: after, state, ...(trigger ? { trigger } : {}) };
}

export function printResolve(output: Output, result: ResolveDeliveryResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const { delivery } = result;
  const what = `delivery ${delivery.id} (${delivery.type} to ${delivery.recipient ?? '?'} through ${delivery.provider})`;
  const resend = result.trigger ? `; trigger ${result.trigger.id} ${result.dryRun ? `(${result.trigger.status}) would run again now and send the action once more` : `is ${result.trigger.status}: it sends the action again when a trigger service claims it`}` : '';
  if (result.dryRun) {
    output.out(`dry run: ${what} would be marked ${result.state}${resend}; run again without --dry-run to resolve it`);
    return;
  }
  output.out(`${what} marked ${result.state}${resend}`);
}
