import { AutomationError, type AttemptResult, type FinishRequest } from '@crm-automation/core';
import { isDataException, statement, storableText, wellFormed, type Database, type Statement } from './connection.js';
import { timestampParam } from './dates.js';
import { deliveryStatements, OUTCOME_INPUT, outcomeUpdate } from './delivery-statements.js';
import { FINISH_INPUT, finishUpdate, triggerStatements } from './trigger-statements.js';
import { isStoreId } from './ids.js';

const OUTCOME_STATUSES: ReadonlySet<string> = new Set(['completed', 'skipped', 'failed', 'retrying', 'cancelled']);

/** Outcomes one statement carries at most; a longer queue is written in several, one after another. */
const MAX_OUTCOMES_PER_STATEMENT = 2_000;

/** One outcome as the finish statement reads it (`jsonb_to_recordset`): keys are its column names. */
interface FinishInput {
  /** Position in the statement's input, returned for each row written. */
  p: number;
  id: string;
  token: string;
  status: string;
  evaluate_at: string | null;
  updated_at: string;
  history: AttemptResult['history'];
  sent: number[];
}

/** What a call of the ledger lane carries: outcomes keyed by delivery id, `p` their position in the call. */
export interface LedgerRow {
  p: number;
  id: string;
}

interface Call {
  /** Attempt outcomes (`finish`) or delivery outcomes (`ledger`). */
  lane: 'finish' | 'ledger';
  /** The call's rows that can be written, `p` being the position of the request in the call. */
  outcomes: Array<{ p: number }>;
  size: number;
  resolve: (saved: boolean[]) => void;
  reject: (error: unknown) => void;
}

/** The statements the writer runs: the finish alone, delivery outcomes alone, and both in one. */
export interface OutcomeStatements {
  finish: Statement;
  /** Delivery outcomes (`$1`); with `both`, when the ledger shares the store's database. */
  ledger?: Statement | undefined;
  /** Finish (`$1`) and delivery outcomes (`$2`) in one statement. */
  both?: Statement | undefined;
}

/**
 * The statements for schema `s` (quoted): with the ledger, the two outcome updates in one statement
 * too (data-modifying CTEs on two tables, so one commit). Each answers with one row: the positions
 * (`p`) written, as one integer array per lane (null when none), which the driver reads faster than a
 * row per outcome.
 */
export function outcomeStatements(s: string, withLedger: boolean): OutcomeStatements {
  const finish = triggerStatements(s).finish;
  if (!withLedger) return { finish };
  return {
    finish,
    ledger: deliveryStatements(s).outcomes,
    both: statement(`
      WITH finish_input AS (${FINISH_INPUT}), outcome_input AS (${OUTCOME_INPUT.replace('$N', '$2')}),
      finished AS (${finishUpdate(s, 'finish_input')}),
      moved AS (${outcomeUpdate(s, 'outcome_input')})
      SELECT (SELECT array_agg(p) FROM finished) AS finished, (SELECT array_agg(p) FROM moved) AS moved`),
  };
}

/** The writer: attempt outcomes, and delivery outcomes when the ledger shares the database. */
export interface OutcomeWriter {
  finishAttempts(requests: readonly FinishRequest[]): Promise<boolean[]>;
  /**
   * Delivery outcomes (at most one per delivery in a call), answered true for each row applied. They
   * share the next statement with the attempt outcomes waiting then: one round trip and one commit
   * for both, where the claim loop's outcome write and the ledger's come in the same turn.
   */
  writeLedger(rows: readonly LedgerRow[], size: number): Promise<boolean[]>;
}

/**
 * Writes attempt outcomes (`finishAttempts`, `finishAttempt`), and the delivery outcomes of a ledger on
 * the same database, with one statement at a time per store: the calls made while a statement runs
 * wait for it and then share the next one. A claim loop's outcome writes of one batch (eight calls of
 * 64 at concurrency 64) so become a few statements instead of eight concurrent ones, which on a small
 * server took the CPU from the claim the loop was waiting for; and the ledger's outcomes of the same
 * sends go in the same statement and commit (measured: bench/src/postgres-fire-path.bench.ts). Each
 * call resolves once the statement that carried it has committed, with its own answers.
 *
 * Requests are checked when the call is made: an invalid status or date rejects that call alone, and
 * an id or token this store could not have issued is answered `false` without being sent. If
 * PostgreSQL refuses a value in a statement shared by several calls, each call is written alone, so
 * that only the call that carried the value fails. There is no retry here: the claim loop repeats an
 * outcome write while the lease holds and the ledger's recorder repeats a delivery outcome (core owns
 * retries); repeating either is safe, each trigger being written only under its lease token and each
 * delivery only from the states its outcome may leave.
 */
export function createOutcomeWriter(db: Database, sql: OutcomeStatements): OutcomeWriter {
  let queue: Call[] = [];
  let writing = false;

  const write = async (calls: readonly Call[]): Promise<void> => {
    const lanes = { finish: [] as Array<{ p: number }>, ledger: [] as Array<{ p: number }> };
    const offsets = { finish: 0, ledger: 0 };
    const starts: number[] = [];
    for (const call of calls) {
      const offset = offsets[call.lane];
      starts.push(offset);
      for (const outcome of call.outcomes) lanes[call.lane].push(offset === 0 ? outcome : { ...outcome, p: outcome.p + offset });
      offsets[call.lane] += call.size;
    }
    const saved = { finish: new Array<boolean>(offsets.finish).fill(false), ledger: new Array<boolean>(offsets.ledger).fill(false) };
    const mark = (lane: Call['lane'], written: readonly number[] | null | undefined) => {
      for (const p of written ?? []) saved[lane][p] = true;
    };
    if (lanes.finish.length > 0 && lanes.ledger.length > 0 && sql.both) {
      const { rows } = await db.query<{ finished: number[] | null; moved: number[] | null }>(sql.both, [JSON.stringify(lanes.finish), JSON.stringify(lanes.ledger)]);
      mark('finish', rows[0]?.finished);
      mark('ledger', rows[0]?.moved);
    } else {
      if (lanes.finish.length > 0) mark('finish', (await db.query<{ finished: number[] | null }>(sql.finish, [JSON.stringify(lanes.finish)])).rows[0]?.finished);
      if (lanes.ledger.length > 0 && sql.ledger) mark('ledger', (await db.query<{ moved: number[] | null }>(sql.ledger, [JSON.stringify(lanes.ledger)])).rows[0]?.moved);
    }
    calls.forEach((call, i) => call.resolve(saved[call.lane].slice(starts[i], (starts[i] as number) + call.size)));
  };

  /** The calls of the next statement: in queue order, up to the row limit, and one outcome per delivery. */
  const next = (): Call[] => {
    let rows = 0;
    let count = 0;
    const deliveries = new Set<string>();
    while (count < queue.length) {
      const call = queue[count] as Call;
      if (count > 0 && rows + call.outcomes.length > MAX_OUTCOMES_PER_STATEMENT) break;
      if (call.lane === 'ledger') {
        const ids = (call.outcomes as LedgerRow[]).map((o) => o.id);
        // An UPDATE writes a row once: a delivery already in this statement waits for the next one.
        if (count > 0 && ids.some((id) => deliveries.has(id))) break;
        for (const id of ids) deliveries.add(id);
      }
      rows += call.outcomes.length;
      count += 1;
    }
    const calls = queue.slice(0, count);
    queue = queue.slice(count);
    return calls;
  };

  const drain = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0) {
        const calls = next();
        try {
          await write(calls);
        } catch (error) {
          if (calls.length > 1 && isDataException(error)) {
            // Nothing of the failed statement was written: each call again on its own.
            for (const call of calls) await write([call]).catch(call.reject);
          } else for (const call of calls) call.reject(error);
        }
      }
    } finally {
      writing = false;
    }
  };

  const enqueue = (lane: Call['lane'], outcomes: Array<{ p: number }>, size: number) =>
    new Promise<boolean[]>((resolve, reject) => {
      if (outcomes.length === 0) {
        resolve(new Array<boolean>(size).fill(false));
        return;
      }
      queue.push({ lane, outcomes, size, resolve, reject });
      // The calls of this turn of the event loop share the first statement too.
      if (!writing) {
        writing = true;
        setImmediate(() => void drain());
      }
    });

  return {
    finishAttempts: (requests) => {
      let outcomes: FinishInput[];
      try {
        outcomes = toInputs(requests);
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueue('finish', outcomes, requests.length);
    },
    writeLedger: (rows, size) => {
      if (!sql.ledger) return Promise.reject(new Error('outcome writer: no ledger statement'));
      return enqueue('ledger', [...rows], size);
    },
  };
}

/** The writable outcomes of one call; throws CRM_ERR_CONFIG for an invalid status or date. */
function toInputs(requests: readonly FinishRequest[]): FinishInput[] {
  const outcomes: FinishInput[] = [];
  requests.forEach(({ id, leaseToken, result }, position) => {
    if (!OUTCOME_STATUSES.has(result.status)) throw new AutomationError('CRM_ERR_CONFIG', `an attempt cannot end as ${JSON.stringify(result.status)}`);
    const updatedAt = timestampParam(result.now, 'now');
    const evaluateAt = result.status === 'retrying' ? timestampParam(result.evaluateAt ?? result.now, 'evaluateAt') : null;
    if (!isStoreId(id) || !storableText(leaseToken)) return;
    // A lone surrogate would reach the server as a JSON escape JSONB refuses; as U+FFFD (what a text
    // parameter makes of it) the token simply matches nothing.
    outcomes.push({ p: position, id, token: wellFormed(leaseToken), status: result.status, evaluate_at: evaluateAt, updated_at: updatedAt, history: result.history, sent: sentIndexes(result.sentActions) });
  });
  return outcomes;
}

/** Sent action indexes sorted and without repeats, as the column keeps them. */
function sentIndexes(sent: readonly number[]): number[] {
  if (sent.length === 0) return [];
  if (sent.length === 1) return Number.isInteger(sent[0]) ? [sent[0] as number] : [];
  return [...new Set(sent.filter((i) => Number.isInteger(i)))].sort((a, b) => a - b);
}
