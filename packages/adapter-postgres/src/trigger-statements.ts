import { statement, type Statement } from './connection.js';
import { TRIGGER_COLUMNS } from './rows.js';

/**
 * An instant as epoch milliseconds, the sub-millisecond part dropped as `new Date` drops it, exact
 * on PostgreSQL 13 (where `extract` gives a float) as on 14 and later (a numeric).
 */
const epochMs = (column: string) => `round(extract(epoch FROM date_trunc('milliseconds', ${column})) * 1000)`;

/** The outcomes of attempts as the finish statement reads them from one JSON array. */
export const FINISH_INPUT = `SELECT * FROM jsonb_to_recordset($1::jsonb)
          AS i(p integer, id bigint, token text, status text, evaluate_at timestamptz, updated_at timestamptz, history jsonb, sent integer[])`;

/**
 * The finish of attempts read from the CTE `input` (rows of {@link FINISH_INPUT}), each written only
 * while its lease token still holds; returns the positions (`p`) of the outcomes it wrote. Shared by
 * the finish statement and the statement that writes delivery outcomes with it (outcome-writer.ts).
 * `sent` comes sorted and without repeats, so a trigger with nothing sent before takes it as it is.
 */
export const finishUpdate = (s: string, input: string): string => `
      UPDATE ${s}.triggers t
      -- A retry of a run whose cancel was requested while it was processing is not due again: it ends
      -- cancelled here, with an entry naming the cancelling event, in the same guarded write.
      SET status = CASE WHEN i.status = 'retrying' AND t.cancel_requested IS NOT NULL THEN 'cancelled' ELSE i.status END,
          evaluate_at = coalesce(i.evaluate_at, t.evaluate_at),
          updated_at = i.updated_at,
          execution_history = CASE WHEN i.status = 'retrying' AND t.cancel_requested IS NOT NULL
            THEN t.execution_history || i.history || jsonb_strip_nulls(jsonb_build_object('at', i.history->'at', 'attempt', t.attempt, 'outcome', 'cancelled',
                   'reason', 'cancelled-by-event', 'event', t.cancel_requested->'event', 'by', i.history->'by'))
            ELSE t.execution_history || i.history END,
          sent_actions = CASE WHEN cardinality(i.sent) = 0 THEN t.sent_actions
                              WHEN cardinality(t.sent_actions) = 0 THEN i.sent
                              ELSE ARRAY(SELECT DISTINCT a FROM unnest(t.sent_actions || i.sent) AS a ORDER BY a) END,
          lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM ${input} i
      -- A lease token is set only while the trigger is processing (claims set it, every other write
      -- clears it), so it alone guards the write. Leaving the status out keeps the planner on the
      -- primary key: the lease index would hold every finished trigger's old entry until a vacuum.
      -- The id array (an InitPlan) keeps it there whatever it guesses of the input's size (it
      -- guesses 100 rows for jsonb_to_recordset, and then scanned the table).
      WHERE t.id = ANY (ARRAY(SELECT id FROM ${input})) AND t.id = i.id AND t.lease_token = i.token
      RETURNING i.p`;

/** The statements of the trigger store for schema `s` (quoted). */
export function triggerStatements(s: string): Record<'insert' | 'existing' | 'get' | 'claim' | 'finish' | 'transition' | 'status' | 'nextDue', Statement> {
  return {
    /**
     * Intake, one statement per batch: rows in batch order (so ids follow it), duplicates of the
     * intake key skipped (also within the batch), and the earliest new due time notified in the same
     * transaction, so that listeners hear of it once it is committed. The rows come as one JSON array
     * (`$1`); distinct events are sent once (`$2`, a JSON array) and referenced by position.
     */
    insert: statement(`
      WITH input AS (
        SELECT * FROM json_to_recordset($1::json)
          AS i(ord integer, account_id text, rule_id text, rule_version integer, evaluate_at timestamptz, event_index integer, trace jsonb, created_at timestamptz, entity_key text,
               schedule jsonb, skipped jsonb)
      ), events AS (
        SELECT * FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(event, index)
      ), inserted AS (
        -- A trigger inserted skipped (a scheduled run with no due time) is stored finished, its entry
        -- as its only history: never due, never in a pending slot (this statement takes none).
        INSERT INTO ${s}.triggers (account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history, sent_actions, created_at, updated_at, entity_key, first_event_at, schedule)
        SELECT i.account_id, i.rule_id, i.rule_version, e.event->>'id', CASE WHEN i.skipped IS NULL THEN 'pending' ELSE 'skipped' END, i.evaluate_at, 0, e.event, i.trace,
               CASE WHEN i.skipped IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(i.skipped) END, '{}'::integer[], i.created_at, i.created_at,
               i.entity_key, CASE WHEN i.entity_key IS NOT NULL THEN (e.event->>'timestamp')::timestamptz END, i.schedule
        FROM input i JOIN events e ON e.index = i.event_index
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT triggers_intake_key DO NOTHING
        RETURNING id, account_id, event_id, rule_id, evaluate_at, status
      ), notified AS (
        SELECT pg_notify($3, (extract(epoch FROM min(evaluate_at)) * 1000)::bigint::text) FROM inserted WHERE status = 'pending' HAVING count(*) > 0
      )
      SELECT id, account_id, event_id, rule_id, (SELECT count(*) FROM notified) AS notified FROM inserted`),

    /** The triggers already stored under some intake keys (a redelivery). */
    existing: statement(`
      SELECT ${TRIGGER_COLUMNS} FROM ${s}.triggers
      WHERE (account_id, event_id, rule_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`),

    get: statement(`SELECT ${TRIGGER_COLUMNS} FROM ${s}.triggers WHERE id = $1::bigint AND account_id = $2`),

    /**
     * One claim, one statement: expired leases first (a worker died holding them), then due triggers
     * for the rest of the limit, each earliest first and read from its partial index; rows another
     * claimer holds are skipped, not waited for. Time is the engine's (`$1`), never the server's.
     *
     * The claimed triggers come back as one JSON array of arrays, in claim order (expired first, then
     * by time, then id), with instants as epoch milliseconds (truncated, as a `Date` would): one
     * value for the driver to read and one `JSON.parse`, instead of a dozen typed columns per row.
     * Ids are text (a `bigint` can exceed what a JSON number holds exactly).
     */
    claim: statement(`
      WITH expired AS (
        SELECT id, lease_expires_at AS sort_at FROM ${s}.triggers
        WHERE status = 'processing' AND lease_expires_at <= $1::timestamptz
        ORDER BY lease_expires_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
      ), due AS (
        SELECT id, evaluate_at AS sort_at FROM ${s}.triggers
        WHERE status IN ('pending', 'retrying') AND evaluate_at <= $1::timestamptz
        ORDER BY evaluate_at
        LIMIT greatest(0, $2 - (SELECT count(*) FROM expired))
        FOR UPDATE SKIP LOCKED
      ), picked AS (
        SELECT id, sort_at, true AS expired FROM expired
        UNION ALL
        SELECT id, sort_at, false FROM due
      ), claimed AS (
        UPDATE ${s}.triggers t
        -- A lease token: one random value per claim (an InitPlan, drawn once) and the trigger's id, so
        -- unique per trigger and claim, without drawing a random UUID for every row.
        -- A claimed trigger is no longer pending: it lets go of its pending slot (if it held one).
        SET status = 'processing', attempt = t.attempt + 1, lease_token = (SELECT gen_random_uuid()::text) || ':' || t.id::text,
            lease_expires_at = $3::timestamptz, lease_owner = $4, updated_at = $1::timestamptz, pending_slot = NULL
        FROM picked
        -- The id array (an InitPlan, computed once) puts the primary key under the update whatever the
        -- statistics say; joined on picked alone, a stale estimate can make it a scan of the table.
        WHERE t.id = ANY (ARRAY(SELECT id FROM picked)) AND t.id = picked.id
        RETURNING t.id, t.account_id, t.rule_id, t.rule_version, t.evaluate_at, t.attempt, t.triggering_event, t.trace,
                  t.execution_history, t.sent_actions, t.created_at, t.lease_token, t.entity_key, t.first_event_at, t.cancel_requested, t.schedule,
                  picked.expired, picked.sort_at
      )
      SELECT json_agg(json_build_array(
               id::text, account_id, rule_id, rule_version, ${epochMs('evaluate_at')}, attempt, triggering_event, trace,
               execution_history, sent_actions, ${epochMs('created_at')}, lease_token, entity_key, ${epochMs('first_event_at')}, cancel_requested, schedule)
             ORDER BY expired DESC, sort_at, id)::text AS claimed
      FROM claimed`),

    /**
     * Outcomes, many in one statement, each written only while its lease token still holds; returns
     * one row: the positions (`p`) of the outcomes it wrote as one array (null when none), which the
     * driver reads faster than a row per outcome. The outcomes arrive as one JSON array (`$1`):
     * cheaper to build in Node than seven arrays of escaped elements (and as JSONB a little cheaper
     * for the server than JSON).
     */
    finish: statement(`
      WITH input AS (${FINISH_INPUT}), finished AS (${finishUpdate(s, 'input')})
      SELECT array_agg(p) AS finished FROM finished`),

    /** A user transition (cancel, manual retry); a retry notifies its due time like intake does. */
    transition: statement(`
      WITH updated AS (
        UPDATE ${s}.triggers
        -- A cancel frees the pending slot; a manual retry to pending does not take one (a pending
        -- trigger moved to pending keeps its own).
        SET status = $3, updated_at = $4::timestamptz, evaluate_at = coalesce($5::timestamptz, evaluate_at),
            execution_history = execution_history || $6::jsonb,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
            pending_slot = CASE WHEN $3 = 'cancelled' THEN NULL ELSE pending_slot END
        WHERE id = $1::bigint AND account_id = $2 AND status = ANY($7::text[])
        RETURNING ${TRIGGER_COLUMNS}
      ), notified AS (
        SELECT pg_notify($8, (extract(epoch FROM evaluate_at) * 1000)::bigint::text) FROM updated WHERE status = 'pending'
      )
      SELECT ${TRIGGER_COLUMNS}, (SELECT count(*) FROM notified) AS notified FROM updated`),

    status: statement(`SELECT status FROM ${s}.triggers WHERE id = $1::bigint AND account_id = $2`),

    nextDue: statement(`
      SELECT least(
        (SELECT evaluate_at FROM ${s}.triggers WHERE status IN ('pending', 'retrying') ORDER BY evaluate_at LIMIT 1),
        (SELECT lease_expires_at FROM ${s}.triggers WHERE status = 'processing' ORDER BY lease_expires_at LIMIT 1)
      ) AS next`),
  };
}

/**
 * The text of the claim statement for a schema, with its parameters `$1` now, `$2` limit, `$3` lease
 * expiry (ISO text) and `$4` owner: for `EXPLAIN` in benchmarks and when operating a store. It returns
 * one row with one column, `claimed`: a JSON array (or null when nothing was due) of
 * `[id, account_id, rule_id, rule_version, evaluate_at (epoch ms), attempt, triggering_event, trace,
 * execution_history, sent_actions, created_at (epoch ms), lease_token, entity_key, first_event_at (epoch ms),
 * cancel_requested, schedule]`.
 */
export const claimStatement = (schema: string): string => triggerStatements(`"${schema}"`).claim.text;
