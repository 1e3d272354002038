import type { AutomationEngine, Delivery } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import { formatDelivery } from '../format-delivery.js';
import type { Output } from '../output.js';

/** Reads one delivery of an account, with its events; throws when it does not exist. */
export async function showDelivery(engine: Pick<AutomationEngine, 'deliveries'>, accountId: string, id: string): Promise<Delivery> {
  const delivery = await engine.deliveries.get(accountId, id);
  if (!delivery) throw new CliError('CRM_ERR_CLI_NOT_FOUND', `delivery ${id} does not exist in account ${accountId}`);
  return delivery;
}

export function printDelivery(output: Output, delivery: Delivery): void {
  output.out(output.json ? JSON.stringify(delivery, null, 2) : formatDelivery(delivery));
}
