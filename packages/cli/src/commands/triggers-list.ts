import type { AutomationEngine, Trigger, TriggerStatus } from '@crm-automation/core';
import type { Output } from '../output.js';
import { formatTable } from './dead-letters.js';

/** Which triggers of an account a command reads or changes. */
export interface TriggerQuery {
  accountId: string;
  statuses?: readonly TriggerStatus[] | undefined;
  ruleId?: string | undefined;
  /** Only the runs of one entity (a keyed rule's `trigger.key` value, e.g. a job id). */
  entityKey?: string | undefined;
  /** `evaluateAt` at or after this time. */
  from?: Date | undefined;
  /** `evaluateAt` before this time. */
  to?: Date | undefined;
}

export interface TriggerListOptions extends TriggerQuery {
  /** At most this many (default 50). */
  limit?: number | undefined;
}

/** Triggers of an account by filter, newest pages first as the store orders them, up to `limit`. */
export async function listTriggers(engine: Pick<AutomationEngine, 'triggers'>, options: TriggerListOptions): Promise<Trigger[]> {
  const limit = options.limit ?? 50;
  const found: Trigger[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.triggers.list(options.accountId, {
      ...(options.statuses ? { status: [...options.statuses] } : {}),
      ...(options.ruleId === undefined ? {} : { ruleId: options.ruleId }),
      ...(options.entityKey === undefined ? {} : { entityKey: options.entityKey }),
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.to === undefined ? {} : { to: options.to }),
      limit: Math.min(500, limit - found.length),
      ...(cursor === undefined ? {} : { cursor }),
    });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && found.length < limit);
  return found.slice(0, limit);
}

export function printTriggers(output: Output, triggers: readonly Trigger[]): void {
  if (output.json) return output.out(JSON.stringify(triggers, null, 2));
  if (triggers.length === 0) return output.out('no triggers');
  const last = (t: Trigger) => {
    const h = t.executionHistory.at(-1);
    return h ? `${h.outcome}${h.reason ? ` (${h.reason})` : ''}${h.error ? `: ${h.error.code} ${h.error.message}` : ''}` : '';
  };
  // The entity and local-time columns only when keyed or scheduled runs are listed, so other listings read as before.
  const keyed = triggers.some((t) => t.entityKey !== undefined);
  const scheduled = triggers.some((t) => t.schedule !== undefined);
  const head = ['ID', 'STATUS', 'RULE', ...(keyed ? ['ENTITY'] : []), 'DUE', ...(scheduled ? ['LOCAL'] : []), 'ATTEMPTS', 'LAST'];
  const local = (t: Trigger) => (t.schedule ? `${t.schedule.local} ${t.schedule.timeZone}` : '-');
  const row = (t: Trigger) => [t.id, t.status, t.ruleId, ...(keyed ? [t.entityKey ?? '-'] : []), t.evaluateAt.toISOString(), ...(scheduled ? [local(t)] : []), String(t.attempt), last(t)];
  output.out(formatTable(head, triggers.map(row)));
  output.out(`${triggers.length} trigger${triggers.length === 1 ? '' : 's'}`);
}
