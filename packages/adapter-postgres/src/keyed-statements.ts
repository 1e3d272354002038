import { statement, type Statement } from './connection.js';
import { TRIGGER_COLUMNS } from './rows.js';

/** An instant as history entries hold it: the ISO text of `Date#toISOString` (UTC, milliseconds). */
const isoText = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The statements of keyed rules (issue 16) for schema `s` (quoted): intake under the pending slot, one
 * trigger (`insertKeyed`) or the keyed triggers of one turn (`insertKeyedMany`), and cancel by event.
 * The README's "Entity keys, concurrency and cancel" explains the decisions and why they are atomic.
 */
export function keyedStatements(s: string): Record<'insertKeyed' | 'insertKeyedMany' | 'cancel', Statement> {
  // Each intake statement inserts its planned rows `r` in two steps (rows that take a free slot, then
  // rows that take one freed in the same statement); both steps write the same columns from the same
  // row, so they are written once per statement and cannot drift apart.
  const insertPlanned = `INSERT INTO ${s}.triggers (id, account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, trace, execution_history,
                                   sent_actions, created_at, updated_at, entity_key, first_event_at, pending_slot, schedule)
        OVERRIDING SYSTEM VALUE`;
  const insertPlannedOne = `${insertPlanned}
        SELECT r.id, $1, $2, $8, $5::jsonb->>'id', r.status, r.evaluate_at, 0, $5::jsonb, $9::jsonb, r.execution_history,
               '{}'::integer[], $10::timestamptz, $10::timestamptz, $3, r.first_event_at, r.pending_slot, $13::jsonb`;
  const insertPlannedMany = `${insertPlanned}
        SELECT r.id, r.account_id, r.rule_id, r.rule_version, r.event_id, r.status, r.evaluate_at, 0, r.event, r.trace, r.execution_history,
               '{}'::integer[], r.created_at, r.created_at, r.entity_key, r.first_event_at, r.pending_slot, r.schedule`;
  return {
    /**
     * Intake of one trigger inserted with a concurrency mode (`supersede`, `skipIfPending`), decided
     * and written in one statement. The pending trigger of (account, rule, entity) is the one holding
     * the pending slot (a partial unique index), locked here, so that two statements deciding about
     * the same entity take turns. Parameters: $1 account, $2 rule, $3 entity key, $4 mode, $5 event
     * (JSON), $6 due time, $7 maxWaitMs (or null), $8 rule version, $9 trace, $10 now, $11 channel, $12 now
     * again, as the text history entries hold (a second cast of $10 would give the server's date style),
     * $13 the trigger's schedule (JSON or null), $14 reschedule (supersede of a scheduled rule).
     *
     * - redelivered: the (account, event id, rule) key exists; nothing is written, the row comes back.
     * - created: no trigger holds the slot; this one is inserted pending and takes it. A statement that
     *   took it after this one's snapshot makes the insert do nothing (ON CONFLICT): no row comes back
     *   and the caller decides again, with a new snapshot.
     * - superseded: the pending one's event is older; it is cancelled (freeing the slot) before this
     *   one is inserted pending with the slot; the insert has no ON CONFLICT, so that any conflict
     *   fails the whole statement and the pending one stays as it was (23505: decide again).
     * - stale / skipped: this one is inserted finished (cancelled / skipped), naming the pending one.
     * - rescheduled: a supersede with $14 whose due time differs from the pending one's writes the
     *   move (from, to, the event) on both: reason `rescheduled` on the replaced one, an entry
     *   `rescheduled` naming it on the new one. Same statement, same round trip.
     * - A slot held by a trigger that is no longer pending (claimed by an engine of a version before
     *   the slot existed, during a rolling upgrade) is freed, and this one is created as if it were free.
     */
    insertKeyed: statement(`
      WITH dup AS (
        SELECT ${TRIGGER_COLUMNS} FROM ${s}.triggers WHERE account_id = $1 AND event_id = $5::jsonb->>'id' AND rule_id = $2
      ), held AS (
        SELECT id, status, attempt, evaluate_at AS due_at, (triggering_event->>'timestamp')::timestamptz AS event_at,
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
               coalesce(held.status <> 'pending', false) AS freed, held.attempt AS pending_attempt, held.first_at, held.due_at AS pending_due_at,
               -- The due time of a superseding trigger (capped at firstEventAt + maxWaitMs).
               CASE WHEN $7::double precision IS NOT NULL AND held.first_at IS NOT NULL
                    THEN least($6::timestamptz, held.first_at + $7::double precision * interval '1 millisecond') ELSE $6::timestamptz END AS superseding_at,
               nextval(pg_get_serial_sequence('${s}.triggers', 'id')) AS id
        FROM (SELECT 1) AS one LEFT JOIN held ON true
      ), moved AS (
        SELECT d.*, d.outcome = 'superseded' AND $14::boolean IS TRUE AND d.pending_due_at <> d.superseding_at AS rescheduled FROM decided d
      ), released AS (
        UPDATE ${s}.triggers t
        SET status = CASE WHEN d.freed THEN t.status ELSE 'cancelled' END, pending_slot = NULL,
            updated_at = CASE WHEN d.freed THEN t.updated_at ELSE $10::timestamptz END,
            execution_history = CASE WHEN d.freed THEN t.execution_history
              WHEN d.rescheduled THEN t.execution_history || jsonb_build_object('at', $12::text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'rescheduled', 'from', ${isoText('d.pending_due_at')}, 'to', ${isoText('d.superseding_at')}, 'eventId', $5::jsonb->'id',
                'triggerId', d.id::text, 'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name'))
              ELSE t.execution_history || jsonb_build_object('at', $12::text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'superseded', 'triggerId', d.id::text, 'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name')) END
        FROM moved d
        WHERE (d.outcome = 'superseded' OR d.freed) AND t.id = d.holder_id
        RETURNING t.id
      ), planned AS (
        SELECT d.id, d.outcome, d.pending_id, d.freed,
               CASE d.outcome WHEN 'skipped' THEN 'skipped' WHEN 'stale' THEN 'cancelled' ELSE 'pending' END AS status,
               CASE WHEN d.outcome = 'superseded' THEN d.superseding_at ELSE $6::timestamptz END AS evaluate_at,
               CASE WHEN d.outcome = 'superseded' THEN d.first_at ELSE ($5::jsonb->>'timestamp')::timestamptz END AS first_event_at,
               CASE WHEN d.rescheduled THEN jsonb_build_array(jsonb_build_object('at', $12::text, 'attempt', 0, 'outcome', 'rescheduled', 'reason', 'rescheduled',
                   'from', ${isoText('d.pending_due_at')}, 'to', ${isoText('d.superseding_at')}, 'eventId', $5::jsonb->'id', 'triggerId', d.pending_id::text,
                   'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name')))
               ELSE CASE d.outcome
                 WHEN 'skipped' THEN jsonb_build_array(jsonb_build_object('at', $12::text, 'attempt', 0, 'outcome', 'skipped', 'reason', 'pending-exists',
                   'triggerId', d.pending_id::text, 'event', jsonb_build_object('id', $5::jsonb->'id', 'name', $5::jsonb->'name')))
                 WHEN 'stale' THEN jsonb_build_array(jsonb_build_object('at', $12::text, 'attempt', 0, 'outcome', 'superseded', 'reason', 'stale', 'triggerId', d.pending_id::text))
                 ELSE '[]'::jsonb END END AS execution_history,
               CASE WHEN d.outcome IN ('created', 'superseded') THEN $3 END AS pending_slot
        FROM moved d WHERE d.outcome <> 'redelivered'
      ), inserted_free AS (
        ${insertPlannedOne}
        FROM planned r WHERE r.outcome <> 'superseded' AND NOT r.freed
        ON CONFLICT DO NOTHING
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted_after AS (
        ${insertPlannedOne}
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
               max_wait_ms double precision, rule_version integer, trace jsonb, created_at timestamptz, created_text text, schedule jsonb, reschedule boolean)
      ), events AS (
        SELECT * FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(event, index)
      ), wanted AS (
        SELECT i.*, e.event, e.event->>'id' AS event_id, (e.event->>'timestamp')::timestamptz AS event_at
        FROM input i JOIN events e ON e.index = i.event_index
      ), dup AS (
        -- LATERAL: one lookup per row on the intake key. As a join, the planner (which cannot know how
        -- many rows the JSON holds) sometimes walked triggers_by_rule, reading every trigger of the rule.
        SELECT w.ord, t.*
        FROM wanted w CROSS JOIN LATERAL (
          SELECT ${TRIGGER_COLUMNS.split(', ').map((c) => `x.${c}`).join(', ')} FROM ${s}.triggers x
          WHERE x.account_id = w.account_id AND x.event_id = w.event_id AND x.rule_id = w.rule_id
        ) t
      ), held AS (
        -- The same for the slot holder, by the pending-slot index, locked in slot order.
        SELECT w.ord, t.id, t.status, t.attempt, t.due_at, t.event_at, t.first_at
        FROM (SELECT * FROM wanted v WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.ord = v.ord) ORDER BY v.account_id, v.rule_id, v.entity_key) w
        CROSS JOIN LATERAL (
          SELECT x.id, x.status, x.attempt, x.evaluate_at AS due_at, (x.triggering_event->>'timestamp')::timestamptz AS event_at,
                 coalesce(x.first_event_at, (x.triggering_event->>'timestamp')::timestamptz) AS first_at
          FROM ${s}.triggers x
          WHERE x.account_id = w.account_id AND x.rule_id = w.rule_id AND x.pending_slot = w.entity_key AND x.pending_slot IS NOT NULL
          FOR UPDATE
        ) t
      ), decided AS (
        SELECT w.*, CASE WHEN h.status = 'pending' THEN h.id END AS pending_id, h.id AS holder_id,
               coalesce(h.status <> 'pending', false) AS freed, h.attempt AS pending_attempt, h.first_at, h.due_at AS pending_due_at,
               CASE WHEN w.max_wait_ms IS NOT NULL AND h.first_at IS NOT NULL
                    THEN least(w.evaluate_at, h.first_at + w.max_wait_ms * interval '1 millisecond') ELSE w.evaluate_at END AS superseding_at,
               CASE WHEN EXISTS (SELECT 1 FROM dup WHERE dup.ord = w.ord) THEN 'redelivered'
                    WHEN h.id IS NULL OR h.status <> 'pending' THEN 'created'
                    WHEN w.mode = 'skipIfPending' THEN 'skipped'
                    WHEN h.event_at < w.event_at THEN 'superseded'
                    ELSE 'stale' END AS outcome,
               nextval(pg_get_serial_sequence('${s}.triggers', 'id')) AS new_id
        FROM wanted w LEFT JOIN held h ON h.ord = w.ord
      ), moved AS (
        SELECT d.*, d.outcome = 'superseded' AND d.reschedule IS TRUE AND d.pending_due_at <> d.superseding_at AS rescheduled FROM decided d
      ), released AS (
        UPDATE ${s}.triggers t
        SET status = CASE WHEN d.freed THEN t.status ELSE 'cancelled' END, pending_slot = NULL,
            updated_at = CASE WHEN d.freed THEN t.updated_at ELSE d.created_at END,
            execution_history = CASE WHEN d.freed THEN t.execution_history
              WHEN d.rescheduled THEN t.execution_history || jsonb_build_object('at', d.created_text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'rescheduled', 'from', ${isoText('d.pending_due_at')}, 'to', ${isoText('d.superseding_at')}, 'eventId', d.event->'id',
                'triggerId', d.new_id::text, 'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name'))
              ELSE t.execution_history || jsonb_build_object('at', d.created_text, 'attempt', d.pending_attempt, 'outcome', 'superseded',
                'reason', 'superseded', 'triggerId', d.new_id::text, 'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name')) END
        FROM moved d
        WHERE (d.outcome = 'superseded' OR d.freed) AND t.id = d.holder_id
        RETURNING t.id
      ), planned AS (
        SELECT d.ord, d.new_id AS id, d.outcome, d.freed, d.account_id, d.rule_id, d.rule_version, d.event_id, d.event, d.trace, d.entity_key, d.created_at, d.schedule,
               CASE d.outcome WHEN 'skipped' THEN 'skipped' WHEN 'stale' THEN 'cancelled' ELSE 'pending' END AS status,
               CASE WHEN d.outcome = 'superseded' THEN d.superseding_at ELSE d.evaluate_at END AS evaluate_at,
               CASE WHEN d.outcome = 'superseded' THEN d.first_at ELSE d.event_at END AS first_event_at,
               CASE WHEN d.rescheduled THEN jsonb_build_array(jsonb_build_object('at', d.created_text, 'attempt', 0, 'outcome', 'rescheduled', 'reason', 'rescheduled',
                   'from', ${isoText('d.pending_due_at')}, 'to', ${isoText('d.superseding_at')}, 'eventId', d.event->'id', 'triggerId', d.pending_id::text,
                   'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name')))
               ELSE CASE d.outcome
                 WHEN 'skipped' THEN jsonb_build_array(jsonb_build_object('at', d.created_text, 'attempt', 0, 'outcome', 'skipped', 'reason', 'pending-exists',
                   'triggerId', d.pending_id::text, 'event', jsonb_build_object('id', d.event->'id', 'name', d.event->'name')))
                 WHEN 'stale' THEN jsonb_build_array(jsonb_build_object('at', d.created_text, 'attempt', 0, 'outcome', 'superseded', 'reason', 'stale', 'triggerId', d.pending_id::text))
                 ELSE '[]'::jsonb END END AS execution_history,
               CASE WHEN d.outcome IN ('created', 'superseded') THEN d.entity_key END AS pending_slot
        FROM moved d WHERE d.outcome <> 'redelivered'
      ), inserted_free AS (
        ${insertPlannedMany}
        FROM planned r WHERE r.outcome <> 'superseded' AND NOT r.freed
        ORDER BY r.account_id, r.rule_id, r.entity_key
        ON CONFLICT DO NOTHING
        RETURNING ${TRIGGER_COLUMNS}
      ), inserted_after AS (
        ${insertPlannedMany}
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

    /**
     * A cancelling event for one rule and entity ($1 account, $2 entity key, $3 rule, $4 the event's
     * timestamp, $5 the event {id, name}, $6 now, $7 by, $8 now as history text, $9 the history reason
     * or null for `cancelled-by-event`): waiting triggers with an older event end cancelled (freeing
     * the pending slot), processing ones with an older event get cancel_requested (the first request
     * stays). Both read the entity index.
     */
    cancel: statement(`
      WITH cancelled AS (
        UPDATE ${s}.triggers
        SET status = 'cancelled', pending_slot = NULL, updated_at = $6::timestamptz,
            execution_history = execution_history || jsonb_build_object('at', $8::text, 'attempt', attempt, 'outcome', 'cancelled',
              'reason', coalesce($9::text, 'cancelled-by-event'), 'event', $5::jsonb, 'by', $7::text)
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
  };
}
