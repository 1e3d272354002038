import { AutomationError, type InsertedTrigger, type InsertOutcome, type TriggeringEvent, type TriggerSchedule } from '@crm-automation/core';
import { isDataException, sqlState, wellFormed, type Database } from './connection.js';
import { timestampParam } from './dates.js';
import type { IntakeRow } from './intake.js';
import { toTrigger, type TriggerRow } from './rows.js';
import type { keyedStatements } from './keyed-statements.js';

/**
 * Decisions one trigger may take on its own before intake gives up: each retry follows a commit by
 * another statement that took or freed the same pending slot, so a few are plenty even with many
 * engines ingesting the same entity at once.
 */
const MAX_DECISIONS = 25;
/** Rows one merged statement carries at most. */
const MAX_ROWS_PER_STATEMENT = 1_000;

type KeyedAnswer = TriggerRow & { outcome: InsertOutcome; pending_id: string | null };

/** One keyed trigger as the merged statement reads it (`jsonb_to_recordset`): keys are its column names. */
interface KeyedInput {
  ord: number;
  account_id: string;
  rule_id: string;
  entity_key: string;
  mode: 'supersede' | 'skipIfPending';
  event_index: number;
  evaluate_at: string;
  max_wait_ms: number | null;
  rule_version: number;
  trace: Record<string, string> | null;
  created_at: string;
  created_text: string;
  /** Left out for triggers of rules without a schedule (read as null). */
  schedule?: TriggerSchedule;
  /** Left out unless true: a supersede that records a move of the due time (scheduled rules). */
  reschedule?: true;
}

/** What a keyed row needs besides its input: checked mode and cap, and its event as JSON. */
interface Prepared {
  row: IntakeRow;
  entityKey: string;
  mode: 'supersede' | 'skipIfPending';
  maxWaitMs: number | null;
  reschedule: boolean;
  eventJson: string;
  slot: string;
}

function prepare(row: IntakeRow): Prepared {
  const { input } = row;
  const concurrency = input.concurrency;
  // A trigger inserted skipped takes no slot: the plain intake stores it (trigger-store.ts routes it there).
  if (!concurrency || input.entityKey === undefined || input.skipped !== undefined) throw new Error('keyed intake: a trigger without concurrency or entity key, or inserted skipped');
  if (concurrency.mode !== 'supersede' && concurrency.mode !== 'skipIfPending') {
    throw new AutomationError('CRM_ERR_CONFIG', `concurrency.mode must be supersede or skipIfPending, got ${JSON.stringify((concurrency as { mode: unknown }).mode)}`);
  }
  const maxWaitMs = concurrency.mode === 'supersede' ? (concurrency.maxWaitMs ?? null) : null;
  const reschedule = concurrency.mode === 'supersede' && concurrency.reschedule === true;
  if (maxWaitMs !== null && (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0)) {
    throw new AutomationError('CRM_ERR_CONFIG', `concurrency.maxWaitMs must be a non-negative number, got ${String(maxWaitMs)}`);
  }
  const event: TriggeringEvent = input.triggeringEvent;
  timestampParam(event.timestamp, 'triggeringEvent.timestamp');
  const entityKey = wellFormed(input.entityKey);
  return {
    row,
    entityKey,
    mode: concurrency.mode,
    maxWaitMs,
    reschedule,
    eventJson: JSON.stringify({ id: event.id, name: event.name, timestamp: event.timestamp, payload: event.payload }),
    slot: `${input.accountId}\u0000${input.ruleId}\u0000${entityKey}`,
  };
}

const answerOf = (answer: KeyedAnswer): InsertedTrigger => {
  const trigger = toTrigger(answer);
  if (answer.outcome === 'redelivered') return { trigger, created: false, outcome: 'redelivered' };
  return answer.pending_id === null ? { trigger, created: true, outcome: answer.outcome } : { trigger, created: true, outcome: answer.outcome, pendingTriggerId: answer.pending_id };
};

const refused = (error: unknown) => new AutomationError('CRM_ERR_EVENT_INVALID', `PostgreSQL cannot store this trigger: ${(error as Error).message}`, { cause: error });

/**
 * Intake of triggers inserted with a concurrency mode (keyed rules in `supersede` or `skipIfPending`
 * mode), decided and written under the pending slot's unique index. The keyed triggers of one turn of
 * the event loop (concurrent ingests) share statements and commits (`insertKeyedMany`), at most one
 * trigger per pending slot in each, in call order; a trigger whose write met a slot or key taken
 * since its statement's snapshot is decided again alone (`insertKeyed`), before the next trigger of
 * its slot. If PostgreSQL refuses a value, the triggers are decided alone, so only the call that
 * carried it fails.
 */
export function createKeyedIntake(db: Database, sql: ReturnType<typeof keyedStatements>, channel: string): (rows: readonly IntakeRow[]) => Promise<InsertedTrigger[]> {
  /** One trigger alone, as often as a concurrent writer makes it necessary. */
  const decideAlone = async (p: Prepared): Promise<InsertedTrigger> => {
    const { input, dueAt, createdAtParam } = p.row;
    const values = [
      wellFormed(input.accountId),
      wellFormed(input.ruleId),
      p.entityKey,
      p.mode,
      p.eventJson,
      dueAt,
      p.maxWaitMs,
      input.ruleVersion,
      input.trace ? JSON.stringify(input.trace) : null,
      createdAtParam,
      channel,
      createdAtParam,
      input.schedule ? JSON.stringify(input.schedule) : null,
      p.reschedule,
    ];
    for (let round = 0; round < MAX_DECISIONS; round++) {
      let answer: KeyedAnswer | undefined;
      try {
        answer = (await db.query<KeyedAnswer>(sql.insertKeyed, values)).rows[0];
      } catch (error) {
        // 23505: the trigger that superseded a pending one met a key taken since this statement's
        // snapshot; nothing was written. Decide again.
        if (sqlState(error) === '23505') continue;
        if (isDataException(error)) throw refused(error);
        throw error;
      }
      // No row: another statement took the slot or stored the same event after this one's snapshot.
      if (!answer || answer.id === null) continue;
      return answerOf(answer);
    }
    throw new AutomationError('CRM_ERR_TRIGGER_STATE', `the pending trigger of entity ${JSON.stringify(input.entityKey)} (rule ${input.ruleId}) kept changing under intake of event ${input.triggeringEvent.id}; retry the intake`, {
      retryable: true,
    });
  };

  /**
   * One merged statement for triggers of distinct slots: the answer of each, or undefined for those
   * to decide alone (all of them when the statement failed on a conflict or a deadlock).
   */
  const decideTogether = async (group: readonly Prepared[]): Promise<Array<InsertedTrigger | undefined>> => {
    const events: string[] = [];
    const eventIndex = new Map<string, number>();
    const inputs = group.map((p, ord): KeyedInput => {
      let index = eventIndex.get(p.eventJson);
      if (index === undefined) {
        events.push(p.eventJson);
        index = events.length;
        eventIndex.set(p.eventJson, index);
      }
      const { input, dueAt, createdAtParam } = p.row;
      return {
        ord,
        account_id: wellFormed(input.accountId),
        rule_id: wellFormed(input.ruleId),
        entity_key: p.entityKey,
        mode: p.mode,
        event_index: index,
        evaluate_at: dueAt,
        max_wait_ms: p.maxWaitMs,
        rule_version: input.ruleVersion,
        trace: input.trace ? input.trace : null,
        created_at: createdAtParam,
        created_text: createdAtParam,
        ...(input.schedule ? { schedule: input.schedule } : {}),
        ...(p.reschedule ? { reschedule: true } : {}),
      };
    });
    let rows: Array<KeyedAnswer & { ord: number }>;
    try {
      rows = (await db.query<KeyedAnswer & { ord: number }>(sql.insertKeyedMany, [JSON.stringify(inputs), `[${events.join(',')}]`, channel])).rows;
    } catch (error) {
      // Nothing of a failed statement was written: 23505 (a superseding insert met a key taken since
      // the snapshot), 40P01 (two statements locked slots the other one held) and refused values
      // (found again by the trigger that carries them) are decided alone.
      const state = sqlState(error);
      if (state === '23505' || state === '40P01' || isDataException(error)) return group.map(() => undefined);
      throw error;
    }
    const out: Array<InsertedTrigger | undefined> = new Array(group.length);
    for (const row of rows) if (row.id !== null) out[row.ord] = answerOf(row);
    return out;
  };

  /** The triggers of one or more calls, in order: rounds of distinct slots, one statement each. */
  const decideAll = async (prepared: readonly Prepared[]): Promise<Array<InsertedTrigger | Error>> => {
    const out: Array<InsertedTrigger | Error> = new Array(prepared.length);
    // Round k holds the k-th trigger of every slot, so that triggers of one slot are decided in order.
    const rounds: number[][] = [];
    const seen = new Map<string, number>();
    prepared.forEach((p, i) => {
      const k = seen.get(p.slot) ?? 0;
      seen.set(p.slot, k + 1);
      (rounds[k] ??= []).push(i);
    });
    for (const round of rounds) {
      for (let start = 0; start < round.length; start += MAX_ROWS_PER_STATEMENT) {
        const indexes = round.slice(start, start + MAX_ROWS_PER_STATEMENT);
        const answers = await decideTogether(indexes.map((i) => prepared[i] as Prepared));
        await Promise.all(
          indexes.map(async (i, k) => {
            const answer = answers[k];
            if (answer) out[i] = answer;
            else out[i] = await decideAlone(prepared[i] as Prepared).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
          }),
        );
      }
    }
    return out;
  };

  interface Call {
    prepared: Prepared[];
    resolve: (inserted: InsertedTrigger[]) => void;
    reject: (error: unknown) => void;
  }
  let queue: Call[] = [];

  const flush = () => {
    const calls = queue;
    queue = [];
    if (calls.length === 0) return;
    decideAll(calls.flatMap((c) => c.prepared)).then(
      (answers) => {
        let offset = 0;
        for (const call of calls) {
          const mine = answers.slice(offset, offset + call.prepared.length);
          offset += call.prepared.length;
          const failed = mine.find((a): a is Error => a instanceof Error);
          if (failed) call.reject(failed);
          else call.resolve(mine as InsertedTrigger[]);
        }
      },
      (error: unknown) => {
        for (const call of calls) call.reject(error);
      },
    );
  };

  return (rows) =>
    new Promise<InsertedTrigger[]>((resolve, reject) => {
      let prepared: Prepared[];
      try {
        prepared = rows.map(prepare);
      } catch (error) {
        reject(error);
        return;
      }
      if (prepared.length === 0) {
        resolve([]);
        return;
      }
      if (queue.length === 0) setImmediate(flush);
      queue.push({ prepared, resolve, reject });
    });
}
