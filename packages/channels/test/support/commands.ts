import type { ActionCommand } from '@crm-automation/core';

let n = 0;

/** A rendered command as core hands it to a gateway. */
export function commandOf(type: string, params: Record<string, unknown>): ActionCommand {
  n += 1;
  const triggerId = `trg_${type}_${n}`;
  return {
    type,
    params,
    metadata: { source: 'automation-engine', ruleId: 'rule_1', triggerId, accountId: 'acc_12345', actionIndex: 0, idempotencyKey: `${triggerId}:0` },
  };
}
