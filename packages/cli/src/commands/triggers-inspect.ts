import type { AutomationEngine, Trigger } from '@crm-automation/core';
import { CliError } from '../cli-error.js';
import { formatTrigger } from '../format-trigger.js';
import type { Output } from '../output.js';

/** Reads one trigger of an account, with its execution history; throws when it does not exist. */
export async function inspectTrigger(engine: Pick<AutomationEngine, 'triggers'>, accountId: string, id: string): Promise<Trigger> {
  const trigger = await engine.triggers.get(accountId, id);
  if (!trigger) throw new CliError('CRM_ERR_CLI_NOT_FOUND', `trigger ${id} does not exist in account ${accountId}`);
  return trigger;
}

export function printTrigger(output: Output, trigger: Trigger): void {
  output.out(output.json ? JSON.stringify(trigger, null, 2) : formatTrigger(trigger));
}
