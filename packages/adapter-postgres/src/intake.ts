import { AutomationError, type HistoryEntry, type InsertedTrigger, type NewTrigger, type Trigger, type TriggeringEvent, type TriggerSchedule } from '@crm-automation/core';
import { isDataException, wellFormed, type Database } from './connection.js';
import { reviveEvent, reviveHistory, toTrigger, type StoredEvent, type StoredHistoryEntry, type TriggerRow } from './rows.js';
import type { triggerStatements } from './trigger-statements.js';

/** A validated trigger on its way in: its due time and creation time already in statement form. */
export interface IntakeRow {
  input: NewTrigger;
  dueAt: string;
  createdAt: Date;
  createdAtParam: string;
}

/** One trigger as the intake statement reads it (`json_to_recordset`): keys are its column names. */
interface InsertInput {
  ord: number;
  account_id: string;
  rule_id: string;
  rule_version: number;
  evaluate_at: string;
  event_index: number;
  trace: Record<string, string> | null;
  created_at: string;
  /** Left out for unkeyed triggers (read as null). */
  entity_key?: string;
  /** Left out for triggers of rules without a schedule. */
  schedule?: TriggerSchedule;
  /** A trigger stored skipped: its only history entry. Left out for pending ones. */
  skipped?: HistoryEntry;
}

/** Rows one intake statement carries at most; larger merges are split. */
const MAX_ROWS_PER_STATEMENT = 5_000;

/** What a read returns of a value stored as JSONB: its JSON round trip (dates as strings, undefined keys gone). */
const roundTrip = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;

const intakeKey = (accountId: string, eventId: string, ruleId: string) => `${accountId}\u0000${eventId}\u0000${ruleId}`;

/**
 * Intake as the trigger store runs it. The `insertTriggers` calls of one turn of the event loop (the
 * concurrent ingests of a bus consumer) share one statement and one commit; each call resolves once
 * that commit is done, with its own triggers. If PostgreSQL refuses a value in a merged statement,
 * each call is retried alone, so that only the call that carried the value fails.
 */
export function createIntake(db: Database, sql: ReturnType<typeof triggerStatements>, channel: string): (rows: IntakeRow[]) => Promise<InsertedTrigger[]> {
  const insertOnce = async (rows: readonly IntakeRow[]) => {
    const events: string[] = [];
    const parsedEvents: TriggeringEvent[] = [];
    const eventIndex: number[] = [];
    let lastEvent: NewTrigger['triggeringEvent'] | undefined;
    for (const { input } of rows) {
      // The triggers of one event share its object: serialize it once.
      if (input.triggeringEvent !== lastEvent) {
        lastEvent = input.triggeringEvent;
        const json = JSON.stringify({ id: lastEvent.id, name: lastEvent.name, timestamp: lastEvent.timestamp, payload: lastEvent.payload });
        events.push(json);
        // What a read returns: the JSON round trip of what was written.
        parsedEvents.push(reviveEvent(JSON.parse(json) as StoredEvent));
      }
      eventIndex.push(events.length);
    }
    const { rows: inserted } = await db
      .query<{ id: string; account_id: string; event_id: string; rule_id: string }>(sql.insert, [
        JSON.stringify(
          rows.map(({ input, dueAt, createdAtParam }, k): InsertInput => ({
            ord: k,
            account_id: wellFormed(input.accountId),
            rule_id: wellFormed(input.ruleId),
            rule_version: input.ruleVersion,
            evaluate_at: dueAt,
            event_index: eventIndex[k] as number,
            trace: input.trace ? input.trace : null,
            created_at: createdAtParam,
            ...(input.entityKey === undefined ? {} : { entity_key: wellFormed(input.entityKey) }),
            ...(input.schedule ? { schedule: input.schedule } : {}),
            ...(input.skipped ? { skipped: input.skipped } : {}),
          })),
        ),
        `[${events.join(',')}]`,
        channel,
      ])
      .catch((error: unknown) => {
        throw isDataException(error) ? new AutomationError('CRM_ERR_EVENT_INVALID', `PostgreSQL cannot store these triggers: ${(error as Error).message}`, { cause: error }) : error;
      });
    const created = new Map(inserted.map((r) => [intakeKey(r.account_id, r.event_id, r.rule_id), r.id]));
    return { created, parsedEvents, eventIndex };
  };

  const existing = async (inputs: readonly NewTrigger[]) => {
    const { rows } = await db.query<TriggerRow>(sql.existing, [inputs.map((t) => t.accountId), inputs.map((t) => t.triggeringEvent.id), inputs.map((t) => t.ruleId)]);
    return new Map(rows.map((r) => [intakeKey(r.account_id, r.triggering_event.id, r.rule_id), toTrigger(r)]));
  };

  /** Inserts the rows (in order, duplicates of the intake key skipped) and answers each with its trigger. */
  const insertRows = async (rows: readonly IntakeRow[]): Promise<InsertedTrigger[]> => {
    const out: Array<InsertedTrigger | undefined> = new Array(rows.length);
    let pending = rows.map((_, i) => i);
    // A trigger reported as existing can be purged before it is read: then it is inserted again.
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const batch = pending.map((i) => rows[i] as IntakeRow);
      const { created, parsedEvents, eventIndex } = await insertOnce(batch);
      const firstOfKey = new Map<string, InsertedTrigger>();
      const missing: number[] = [];
      batch.forEach(({ input, createdAt }, k) => {
        const key = intakeKey(input.accountId, input.triggeringEvent.id, input.ruleId);
        const index = pending[k] as number;
        const earlier = firstOfKey.get(key);
        if (earlier) {
          out[index] = { trigger: earlier.trigger, created: false, outcome: 'redelivered' };
          return;
        }
        const id = created.get(key);
        if (id === undefined) {
          missing.push(index);
          return;
        }
        const triggeringEvent = parsedEvents[(eventIndex[k] as number) - 1] as TriggeringEvent;
        const trigger: Trigger = {
          id,
          accountId: input.accountId,
          ruleId: input.ruleId,
          ruleVersion: input.ruleVersion,
          status: input.skipped ? 'skipped' : 'pending',
          evaluateAt: new Date(input.evaluateAt.getTime()),
          attempt: 0,
          triggeringEvent,
          ...(input.trace ? { trace: { ...input.trace } } : {}),
          executionHistory: input.skipped ? reviveHistory([roundTrip<StoredHistoryEntry>(input.skipped)]) : [],
          sentActions: [],
          createdAt: new Date(createdAt.getTime()),
          updatedAt: new Date(createdAt.getTime()),
          ...(input.entityKey === undefined ? {} : { entityKey: wellFormed(input.entityKey), firstEventAt: new Date(triggeringEvent.timestamp.getTime()) }),
          // Strings only: a copy is what a read returns.
          ...(input.schedule ? { schedule: { ...input.schedule, notes: input.schedule.notes.map((n) => ({ ...n })) } } : {}),
        };
        const inserted: InsertedTrigger = { trigger, created: true, outcome: 'created' };
        firstOfKey.set(key, inserted);
        out[index] = inserted;
      });
      pending = [];
      if (missing.length === 0) break;
      const found = await existing(missing.map((i) => (rows[i] as IntakeRow).input));
      for (const index of missing) {
        const { input } = rows[index] as IntakeRow;
        const trigger = found.get(intakeKey(input.accountId, input.triggeringEvent.id, input.ruleId));
        if (trigger) out[index] = { trigger, created: false, outcome: 'redelivered' };
        else pending.push(index);
      }
    }
    if (pending.length > 0) {
      const first = rows[pending[0] as number]?.input.triggeringEvent.id;
      throw new AutomationError('CRM_ERR_TRIGGER_NOT_FOUND', `triggers for event ${first} were reported as existing but are gone; retry the intake`, { retryable: true });
    }
    return out as InsertedTrigger[];
  };

  interface Call {
    rows: IntakeRow[];
    resolve: (inserted: InsertedTrigger[]) => void;
    reject: (error: unknown) => void;
  }
  let queue: Call[] = [];
  let queuedRows = 0;

  const runAlone = (call: Call) => insertRows(call.rows).then(call.resolve, call.reject);

  const flush = () => {
    const calls = queue;
    queue = [];
    queuedRows = 0;
    // A merge flushed early (it grew past the statement limit) leaves its scheduled flush nothing to do.
    if (calls.length === 0) return;
    if (calls.length === 1) {
      void runAlone(calls[0] as Call);
      return;
    }
    insertRows(calls.flatMap((c) => c.rows)).then(
      (inserted) => {
        let offset = 0;
        for (const call of calls) {
          call.resolve(inserted.slice(offset, offset + call.rows.length));
          offset += call.rows.length;
        }
      },
      (error: unknown) => {
        // Nothing of a failed statement was stored: a refused value is found again by its own call.
        if (error instanceof AutomationError && error.code === 'CRM_ERR_EVENT_INVALID') for (const call of calls) void runAlone(call);
        else for (const call of calls) call.reject(error);
      },
    );
  };

  return (rows) =>
    new Promise<InsertedTrigger[]>((resolve, reject) => {
      if (rows.length >= MAX_ROWS_PER_STATEMENT) {
        void runAlone({ rows, resolve, reject });
        return;
      }
      if (queuedRows + rows.length > MAX_ROWS_PER_STATEMENT) flush();
      if (queue.length === 0) setImmediate(flush);
      queue.push({ rows, resolve, reject });
      queuedRows += rows.length;
    });
}
