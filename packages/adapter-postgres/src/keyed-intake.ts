import { AutomationError, type InsertedTrigger, type InsertOutcome } from '@crm-automation/core';
import { isDataException, sqlState, wellFormed, type Database } from './connection.js';
import { timestampParam } from './dates.js';
import type { IntakeRow } from './intake.js';
import { toTrigger, type TriggerRow } from './rows.js';
import type { triggerStatements } from './trigger-statements.js';

/**
 * Decisions one trigger may take before intake gives up: each retry follows a commit by another
 * statement that took or freed the same pending slot, so a few are plenty even with many engines
 * ingesting the same entity at once.
 */
const MAX_DECISIONS = 25;

type KeyedAnswer = TriggerRow & { outcome: InsertOutcome; pending_id: string | null };

/**
 * Intake of triggers inserted with a concurrency mode (keyed rules in `supersede` or `skipIfPending`
 * mode): one statement per trigger (`insertKeyed`), which decides and writes under the pending slot's
 * unique index. Triggers of one entity (account, rule, key) are decided one after another in batch
 * order; different entities at once.
 */
export function createKeyedIntake(db: Database, sql: ReturnType<typeof triggerStatements>, channel: string): (rows: readonly IntakeRow[]) => Promise<InsertedTrigger[]> {
  const decide = async ({ input, dueAt, createdAtParam }: IntakeRow): Promise<InsertedTrigger> => {
    const concurrency = input.concurrency;
    if (!concurrency || input.entityKey === undefined) throw new Error('keyed intake: a trigger without concurrency or entity key');
    const maxWaitMs = concurrency.mode === 'supersede' ? (concurrency.maxWaitMs ?? null) : null;
    if (maxWaitMs !== null && (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0)) {
      throw new AutomationError('CRM_ERR_CONFIG', `concurrency.maxWaitMs must be a non-negative number, got ${String(maxWaitMs)}`);
    }
    if (concurrency.mode !== 'supersede' && concurrency.mode !== 'skipIfPending') {
      throw new AutomationError('CRM_ERR_CONFIG', `concurrency.mode must be supersede or skipIfPending, got ${JSON.stringify((concurrency as { mode: unknown }).mode)}`);
    }
    const event = input.triggeringEvent;
    timestampParam(event.timestamp, 'triggeringEvent.timestamp');
    const values = [
      wellFormed(input.accountId),
      wellFormed(input.ruleId),
      wellFormed(input.entityKey),
      concurrency.mode,
      JSON.stringify({ id: event.id, name: event.name, timestamp: event.timestamp, payload: event.payload }),
      dueAt,
      maxWaitMs,
      input.ruleVersion,
      input.trace ? JSON.stringify(input.trace) : null,
      createdAtParam,
      channel,
      createdAtParam,
    ];
    for (let round = 0; round < MAX_DECISIONS; round++) {
      let answer: KeyedAnswer | undefined;
      try {
        answer = (await db.query<KeyedAnswer>(sql.insertKeyed, values)).rows[0];
      } catch (error) {
        // 23505: the trigger that superseded a pending one met a key taken since this statement's
        // snapshot; nothing was written. Decide again.
        if (sqlState(error) === '23505') continue;
        if (isDataException(error)) throw new AutomationError('CRM_ERR_EVENT_INVALID', `PostgreSQL cannot store this trigger: ${(error as Error).message}`, { cause: error });
        throw error;
      }
      // No row: another statement took the slot or stored the same event after this one's snapshot.
      if (!answer || answer.id === null) continue;
      const trigger = toTrigger(answer);
      if (answer.outcome === 'redelivered') return { trigger, created: false, outcome: 'redelivered' };
      return answer.pending_id === null ? { trigger, created: true, outcome: answer.outcome } : { trigger, created: true, outcome: answer.outcome, pendingTriggerId: answer.pending_id };
    }
    throw new AutomationError('CRM_ERR_TRIGGER_STATE', `the pending trigger of entity ${JSON.stringify(input.entityKey)} (rule ${input.ruleId}) kept changing under intake of event ${event.id}; retry the intake`, {
      retryable: true,
    });
  };

  return async (rows) => {
    const out: InsertedTrigger[] = new Array(rows.length);
    const byEntity = new Map<string, number[]>();
    rows.forEach(({ input }, i) => {
      const key = `${input.accountId}\u0000${input.ruleId}\u0000${input.entityKey ?? ''}`;
      const list = byEntity.get(key);
      if (list) list.push(i);
      else byEntity.set(key, [i]);
    });
    await Promise.all(
      [...byEntity.values()].map(async (indexes) => {
        for (const i of indexes) out[i] = await decide(rows[i] as IntakeRow);
      }),
    );
    return out;
  };
}
