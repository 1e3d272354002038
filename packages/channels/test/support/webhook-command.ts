import type { ActionCommand } from '@crm-automation/core';

let n = 0;

/** A rendered webhook command as core would hand it to the gateway. */
export function webhookCommand(params: Record<string, unknown>): ActionCommand {
  n += 1;
  const triggerId = `trg_webhook_${n}`;
  return {
    type: 'webhook',
    params: { method: 'POST', headers: {}, ...params },
    metadata: { source: 'automation-engine', ruleId: 'rule_1', triggerId, accountId: 'acc_1', actionIndex: 0, idempotencyKey: `${triggerId}:0` },
  };
}

/** Resolves and rejects like a promise-returning call, giving back the error. */
export async function failure(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected a failure');
}
