import { AutomationError, type AttemptResult, type FinishRequest } from '@crm-automation/core';
import { isDataException, storableText, wellFormed, type Database, type Statement } from './connection.js';
import { timestampParam } from './dates.js';
import { isStoreId } from './ids.js';

const OUTCOME_STATUSES: ReadonlySet<string> = new Set(['completed', 'skipped', 'failed', 'retrying']);

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

interface Call {
  /** The call's outcomes that can be written, `p` being the position of the request in the call. */
  outcomes: FinishInput[];
  size: number;
  resolve: (saved: boolean[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes attempt outcomes (`finishAttempts`, `finishAttempt`) with one statement at a time per store:
 * the calls made while a statement runs wait for it and then share the next one. A claim loop's
 * outcome writes of one batch (eight calls of 64 at concurrency 64) so become a few statements instead
 * of eight concurrent ones, which on a small server took the CPU from the claim the loop was waiting
 * for. Each call resolves once the statement that carried it has committed, with its own answers.
 *
 * Requests are checked when the call is made: an invalid status or date rejects that call alone, and
 * an id or token this store could not have issued is answered `false` without being sent. If
 * PostgreSQL refuses a value in a statement shared by several calls, each call is written alone, so
 * that only the call that carried the value fails. There is no retry here: the claim loop repeats an
 * outcome write while the lease holds (core owns retries); repeating it is safe, each row being written
 * only under its lease token.
 */
export function createOutcomeWriter(db: Database, finish: Statement): (requests: readonly FinishRequest[]) => Promise<boolean[]> {
  let queue: Call[] = [];
  let writing = false;

  const write = async (calls: readonly Call[]): Promise<void> => {
    const outcomes: FinishInput[] = [];
    const starts: number[] = [];
    let offset = 0;
    for (const call of calls) {
      starts.push(offset);
      for (const outcome of call.outcomes) outcomes.push(offset === 0 ? outcome : { ...outcome, p: outcome.p + offset });
      offset += call.size;
    }
    const saved = new Array<boolean>(offset).fill(false);
    if (outcomes.length > 0) {
      const { rows } = await db.query<{ p: number }>(finish, [JSON.stringify(outcomes)]);
      for (const row of rows) saved[Number(row.p)] = true;
    }
    calls.forEach((call, i) => call.resolve(saved.slice(starts[i], (starts[i] as number) + call.size)));
  };

  const next = (): Call[] => {
    let rows = 0;
    let count = 0;
    while (count < queue.length && (count === 0 || rows + (queue[count] as Call).outcomes.length <= MAX_OUTCOMES_PER_STATEMENT)) {
      rows += (queue[count] as Call).outcomes.length;
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

  return (requests) =>
    new Promise<boolean[]>((resolve, reject) => {
      const outcomes = toInputs(requests);
      if (outcomes.length === 0) {
        resolve(requests.map(() => false));
        return;
      }
      queue.push({ outcomes, size: requests.length, resolve, reject });
      // The calls of this turn of the event loop share the first statement too.
      if (!writing) {
        writing = true;
        setImmediate(() => void drain());
      }
    });
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
