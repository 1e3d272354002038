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
export function triggerStatements(s: string): Record<'insert' | 'insertKeyed' | 'insertKeyedMany' | 'existing' | 'get' | 'claim' | 'finish' | 'transition' | 'cancel' | 'status' | 'nextDue', Statement> {
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
          AS i(ord integer, account_id text, rule_id text, rule_version integer, evaluate_at timestamptz, event_index integer, trace jsonb, created_at timestamptz, entity_key text)
      ), events AS (
        SELECT * FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(event, index)
      ), inserted AS (
        INSERT INTO ${s}.triggers (account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history, sent_actions, created_at, updated_at, entity_key, first_event_at)
        SELECT i.account_id, i.rule_id, i.rule_version, e.event->>'id', 'pending', i.evaluate_at, 0, e.event, i.trace, '[]'::jsonb, '{}'::integer[], i.created_at, i.created_at,
               i.entity_key, CASE WHEN i.entity_key IS NOT NULL THEN (e.event->>'timestamp')::timestamptz END
        FROM input i JOIN events e ON e.index = i.event_index
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT triggers_intake_key DO NOTHING
        RETURNING id, account_id, event_id, rule_id, evaluate_at
      ), notified AS (
        SELECT pg_notify($3, (extract(epoch FROM min(evaluate_at)) * 1000)::bigint::text) FROM inserted HAVING count(*) > 0
      )
      SELECT id, account_id, event_id, rule_id, (SELECT count(*) FROM notified) AS notified FROM inserted`),

    /**
     * Intake of one trigger inserted with a concurrency mode (`supersede`, `skipIfPending`), decided
     * and written in one statement. The pending trigger of (account, rule, entity) is the one holding
     * the pending slot (a partial unique index), locked here, so that two statements deciding about
     * the same entity take turns. Parameters: $1 account, $2 rule, $3 entity key, $4 mode, $5 event
     * (JSON), $6 due time, $7 maxWaitMs (or null), $8 rule version, $9 trace, $10 now, $11 channel, $12 now
     * again, as the text history entries hold (a second cast of $10 would give the server's date style).
     *
     * - redelivered: the (account, event id, rule) key exists; nothing is written, the row comes back.
     * - created: no trigger holds the slot; this one is inserted pending and takes it. A statement that
     *   took it after this one's snapshot makes the insert do nothing (ON CONFLICT): no row comes back
     *   and the caller decides again, with a new snapshot.
     * - superseded: the pending one's event is older; it is cancelled (freeing the slot) before this
     *   one is inserted pending with the slot; the insert has no ON CONFLICT, so that any conflict
     *   fails the whole statement and the pending one stays as it was (23505: decide again).
     * - stale / skipped: this one is inserted finished (cancelled / skipped), naming the pending one.
     * - A slot held by a trigger that is no longer pending (claimed by an engine of a version before
     *   the slot existed, during a rolling upgrade) is freed, and this one is created as if it were free.
     */
    insertKeyed: statement(`
      WITH dup AS (
        SELECT ${TRIGGER_COLUMNS} FROM ${s}.triggers WHERE account_id = $1 AND event_id = $5::jsonb->>'id' AND rule_id = $2
      ), held AS (
        SELECT id, status, attempt, (triggering_event->>'timestamp')::timestamptz AS event_at,
               coalesce(first_event_at, (triggering_event->>'timestamp')::timestamptz) AS first_at
        FROM ${s}.triggers
        WHERE account_id = $1 AND rule_id = $2 AND pending_slot = $3 AND NOT EXISTS (SELECT 1 FROM dup)
        FOR UPDATE
      ), decided AS (
        SELECT CASE WHEN EXISTS (SELECT 1 FROM dup) THEN 'redelivered'
                    WHEN held.id IS NULL OR held.status <> 'pending' THEN 'created'
                    WHEN $4 = 'skipIfPending' THEN 'skipped'
                    WHEN held.event_at < ($5::jsonb->>'timestamp')::timestamptz THEN 'superseded'
                    ELSE 'stale' END AS outcome,
               CASE WHEN held.status = 'pending' THEN held.id END AS pending_id, held.id AS holder_id,
               coalesce(held.status <> 'pending', false) AS freed, held.attempt AS pending_attempt, held.first_at,
               nextval(pg_get_serial_sequence('${s}.triggers', 'id')) AS id
        FROM (SELECT 1) AS one LEFT JOIN held ON true
      ), released AS (
        UPDATE ${s}.triggers t
        SET status = CASE WHEN d.freed THEN t.status ELSE 'cancelled' END, pending_slot = NULL,
            updated_at = CASE WHEN d.freed THEN t.updated_at ELSE $10::timestamptz END,
            execution_history = CASE WHEN d.freed THEN t.execution_history
              ELSE t.execution_history || jsonb_build_object('at', $12::text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'superseded', 'triggerId', d.id::text, 'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name')) END
        FROM decided d
        WHERE (d.outcome = 'superseded' OR d.freed) AND t.id = d.holder_id
        RETURNING t.id
      ), planned AS (
        SELECT d.id, d.outcome, d.pending_id, d.freed,
               CASE d.outcome WHEN 'skipped' THEN 'skipped' WHEN 'stale' THEN 'cancelled' ELSE 'pending' END AS status,
               CASE WHEN d.outcome = 'superseded' AND $7::double precision IS NOT NULL
                    THEN least($6::timestamptz, d.first_at + $7::double precision * interval '1 millisecond') ELSE $6::timestamptz END AS evaluate_at,
               CASE WHEN d.outcome = 'superseded' THEN d.first_at ELSE ($5::jsonb->>'timestamp')::timestamptz END AS first_event_at,
               CASE d.outcome
                 WHEN 'skipped' THEN jsonb_build_array(jsonb_build_object('at', $12::text, 'attempt', 0, 'outcome', 'skipped', 'reason', 'pending-exists',
                   'triggerId', d.pending_id::text, 'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name')))
                 WHEN 'stale' THEN jsonb_build_array(jsonb_build_object('at', $12::text, 'attempt', 0, 'outcome', 'superseded', 'reason', 'stale', 'triggerId', d.pending_id::text))
                 ELSE '[]'::jsonb END AS execution_history,
               CASE WHEN d.outcome IN ('created', 'superseded') THEN $3 END AS pending_slot
        FROM decided d WHERE d.outcome <> 'redelivered'
      ), inserted_free AS (
        INSERT INTO ${s}.triggers (id, account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history,
                                   sent_actions, created_at, updated_at, entity_key, first_event_at, pending_slot)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, $1, $2, $8, $5::jsonb->>'id', r.status, r.evaluate_at, 0, $5::jsonb, $9::jsonb, r.execution_history,
               '{}'::integer[], $10::timestamptz, $10::timestamptz, $3, r.first_event_at, r.pending_slot
        FROM planned r WHERE r.outcome <> 'superseded' AND NOT r.freed
        ON CONFLICT DO NOTHING
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted_after AS (
        INSERT INTO ${s}.triggers (id, account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history,
                                   sent_actions, created_at, updated_at, entity_key, first_event_at, pending_slot)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, $1, $2, $8, $5::jsonb->>'id', r.status, r.evaluate_at, 0, $5::jsonb, $9::jsonb, r.execution_history,
               '{}'::integer[], $10::timestamptz, $10::timestamptz, $3, r.first_event_at, r.pending_slot
        -- The count (always true) reads released to its end first: the pending trigger has let go of the
        -- slot (in this transaction) before this row takes it; had it not, the insert would fail, and
        -- the whole statement with it.
        FROM planned r WHERE (r.outcome = 'superseded' OR r.freed) AND (SELECT count(*) FROM released) >= 0
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted AS (
        SELECT * FROM inserted_free UNION ALL SELECT * FROM inserted_after
      ), notified AS (
        SELECT pg_notify($11, (extract(epoch FROM evaluate_at) * 1000)::bigint::text) FROM inserted WHERE status = 'pending'
      )
      SELECT d.outcome, d.pending_id::text AS pending_id, (SELECT count(*) FROM notified) AS notified, x.*
      FROM decided d
      LEFT JOIN LATERAL (SELECT * FROM inserted UNION ALL SELECT * FROM dup) AS x ON true`),

    /**
     * The same decisions as {@link insertKeyed} for many triggers in one statement and one commit
     * (the keyed triggers of one turn of the event loop), at most one per pending slot (the caller
     * splits the rest into later statements). The rows come as one JSON array (`$1`), the distinct
     * events as another (`$2`); `$3` is the channel. Ids follow the rows' order; the pending triggers
     * are locked, and the rows written, in slot order, so that statements meeting on several slots
     * wait for each other in one order (a deadlock, 40P01, is still possible between the two inserts
     * and is then decided alone like a conflict). A row whose insert met
     * a slot or key taken since the snapshot comes back without a trigger (`id` null) and is decided
     * again on its own; a conflict of a superseding insert fails the statement (23505), and then every
     * row is decided on its own.
     */
    insertKeyedMany: statement(`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb)
          AS i(ord integer, account_id text, rule_id text, entity_key text, mode text, event_index integer, evaluate_at timestamptz,
               max_wait_ms double precision, rule_version integer, trace jsonb, created_at timestamptz, created_text text)
      ), events AS (
        SELECT * FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(event, index)
      ), wanted AS (
        SELECT i.*, e.event, e.event->>'id' AS event_id, (e.event->>'timestamp')::timestamptz AS event_at
        FROM input i JOIN events e ON e.index = i.event_index
      ), dup AS (
        SELECT w.ord, ${TRIGGER_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')}
        FROM wanted w JOIN ${s}.triggers t ON t.account_id = w.account_id AND t.event_id = w.event_id AND t.rule_id = w.rule_id
      ), held AS (
        SELECT w.ord, t.id, t.status, t.attempt, (t.triggering_event->>'timestamp')::timestamptz AS event_at,
               coalesce(t.first_event_at, (t.triggering_event->>'timestamp')::timestamptz) AS first_at
        FROM wanted w JOIN ${s}.triggers t ON t.account_id = w.account_id AND t.rule_id = w.rule_id AND t.pending_slot = w.entity_key
        WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.ord = w.ord)
        ORDER BY w.account_id, w.rule_id, w.entity_key
        FOR UPDATE OF t
      ), decided AS (
        SELECT w.*, CASE WHEN h.status = 'pending' THEN h.id END AS pending_id, h.id AS holder_id,
               coalesce(h.status <> 'pending', false) AS freed, h.attempt AS pending_attempt, h.first_at,
               CASE WHEN EXISTS (SELECT 1 FROM dup WHERE dup.ord = w.ord) THEN 'redelivered'
                    WHEN h.id IS NULL OR h.status <> 'pending' THEN 'created'
                    WHEN w.mode = 'skipIfPending' THEN 'skipped'
                    WHEN h.event_at < w.event_at THEN 'superseded'
                    ELSE 'stale' END AS outcome,
               nextval(pg_get_serial_sequence('${s}.triggers', 'id')) AS new_id
        FROM wanted w LEFT JOIN held h ON h.ord = w.ord
      ), released AS (
        UPDATE ${s}.triggers t
        SET status = CASE WHEN d.freed THEN t.status ELSE 'cancelled' END, pending_slot = NULL,
            updated_at = CASE WHEN d.freed THEN t.updated_at ELSE d.created_at END,
            execution_history = CASE WHEN d.freed THEN t.execution_history
              ELSE t.execution_history || jsonb_build_object('at', d.created_text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'superseded', 'triggerId', d.new_id::text, 'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name')) END
        FROM decided d
        WHERE (d.outcome = 'superseded' OR d.freed) AND t.id = d.holder_id
        RETURNING t.id
      ), planned AS (
        SELECT d.ord, d.new_id AS id, d.outcome, d.freed, d.account_id, d.rule_id, d.rule_version, d.event_id, d.event, d.trace, d.entity_key, d.created_at,
               CASE d.outcome WHEN 'skipped' THEN 'skipped' WHEN 'stale' THEN 'cancelled' ELSE 'pending' END AS status,
               CASE WHEN d.outcome = 'superseded' AND d.max_wait_ms IS NOT NULL
                    THEN least(d.evaluate_at, d.first_at + d.max_wait_ms * interval '1 millisecond') ELSE d.evaluate_at END AS evaluate_at,
               CASE WHEN d.outcome = 'superseded' THEN d.first_at ELSE d.event_at END AS first_event_at,
               CASE d.outcome
                 WHEN 'skipped' THEN jsonb_build_array(jsonb_build_object('at', d.created_text, 'attempt', 0, 'outcome', 'skipped', 'reason', 'pending-exists',
                   'triggerId', d.pending_id::text, 'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name')))
                 WHEN 'stale' THEN jsonb_build_array(jsonb_build_object('at', d.created_text, 'attempt', 0, 'outcome', 'superseded', 'reason', 'stale', 'triggerId', d.pending_id::text))
                 ELSE '[]'::jsonb END AS execution_history,
               CASE WHEN d.outcome IN ('created', 'superseded') THEN d.entity_key END AS pending_slot
        FROM decided d WHERE d.outcome <> 'redelivered'
      ), inserted_free AS (
        INSERT INTO ${s}.triggers (id, account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history,
                                   sent_actions, created_at, updated_at, entity_key, first_event_at, pending_slot)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, r.account_id, r.rule_id, r.rule_version, r.event_id, r.status, r.evaluate_at, 0, r.event, r.trace, r.execution_history,
               '{}'::integer[], r.created_at, r.created_at, r.entity_key, r.first_event_at, r.pending_slot
        FROM planned r WHERE r.outcome <> 'superseded' AND NOT r.freed
        ORDER BY r.account_id, r.rule_id, r.entity_key
        ON CONFLICT DO NOTHING
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted_after AS (
        INSERT INTO ${s}.triggers (id, account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history,
                                   sent_actions, created_at, updated_at, entity_key, first_event_at, pending_slot)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, r.account_id, r.rule_id, r.rule_version, r.event_id, r.status, r.evaluate_at, 0, r.event, r.trace, r.execution_history,
               '{}'::integer[], r.created_at, r.created_at, r.entity_key, r.first_event_at, r.pending_slot
        -- The count (always true) reads released to its end first: the pending triggers have let go of
        -- their slots (in this transaction) before these rows take them; one that had not would make
        -- the insert fail, and the whole statement with it.
        FROM planned r WHERE (r.outcome = 'superseded' OR r.freed) AND (SELECT count(*) FROM released) >= 0
        ORDER BY r.account_id, r.rule_id, r.entity_key
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted AS (
        SELECT * FROM inserted_free UNION ALL SELECT * FROM inserted_after
      ), notified AS (
        SELECT pg_notify($3, (extract(epoch FROM min(evaluate_at)) * 1000)::bigint::text) FROM inserted WHERE status = 'pending' HAVING count(*) > 0
      )
      SELECT d.ord, d.outcome, d.pending_id::text AS pending_id, (SELECT count(*) FROM notified) AS notified, x.*
      FROM decided d
      LEFT JOIN LATERAL (
        SELECT * FROM inserted WHERE inserted.id = d.new_id
        UNION ALL
        SELECT ${TRIGGER_COLUMNS} FROM dup WHERE dup.ord = d.ord
      ) AS x ON true`),

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
                  t.execution_history, t.sent_actions, t.created_at, t.lease_token, t.entity_key, t.first_event_at, t.cancel_requested,
                  picked.expired, picked.sort_at
      )
      SELECT json_agg(json_build_array(
               id::text, account_id, rule_id, rule_version, ${epochMs('evaluate_at')}, attempt, triggering_event, trace,
               execution_history, sent_actions, ${epochMs('created_at')}, lease_token, entity_key, ${epochMs('first_event_at')}, cancel_requested)
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

    /**
     * A cancelling event for one rule and entity ($1 account, $2 entity key, $3 rule, $4 the event's
     * timestamp, $5 the event {id, name}, $6 now, $7 by, $8 now as history text): waiting triggers
     * with an older event end cancelled (freeing the pending slot), processing ones with an older
     * event get cancel_requested (the first request stays). Both read the entity index.
     */
    cancel: statement(`
      WITH cancelled AS (
        UPDATE ${s}.triggers
        SET status = 'cancelled', pending_slot = NULL, updated_at = $6::timestamptz,
            execution_history = execution_history || jsonb_build_object('at', $8::text, 'attempt', attempt, 'outcome', 'cancelled',
              'reason', 'cancelled-by-event', 'event', $5::jsonb, 'by', $7::text)
        WHERE account_id = $1 AND entity_key = $2 AND rule_id = $3 AND status IN ('pending', 'retrying')
          AND (triggering_event->>'timestamp')::timestamptz < $4::timestamptz
        RETURNING ${TRIGGER_COLUMNS}
      ), requested AS (
        UPDATE ${s}.triggers
        SET cancel_requested = coalesce(cancel_requested, jsonb_build_object('event', $5::jsonb, 'at', $8::text)), updated_at = $6::timestamptz
        WHERE account_id = $1 AND entity_key = $2 AND rule_id = $3 AND status = 'processing'
          AND (triggering_event->>'timestamp')::timestamptz < $4::timestamptz
        RETURNING ${TRIGGER_COLUMNS}
      )
      SELECT true AS cancelled, * FROM cancelled
      UNION ALL
      SELECT false, * FROM requested`),

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
 * cancel_requested]`.
 */
export const claimStatement = (schema: string): string => triggerStatements(`"${schema}"`).claim.text;
