import { statement, type Statement } from './connection.js';
import { DELIVERY_COLUMNS } from './delivery-rows.js';

/** The columns of a delivery row, qualified by `alias`. */
const columnsOf = (alias: string) =>
  DELIVERY_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');

/** Delivery outcomes as the outcome statements read them from one JSON array (`$N`, the parameter's place). */
export const OUTCOME_INPUT = `SELECT * FROM jsonb_to_recordset($N::jsonb)
          AS i(p integer, id bigint, from_states text[], state text, provider text, provider_id text, error jsonb, event jsonb, at timestamptz)`;

/**
 * Delivery outcomes read from the CTE `input` (rows of {@link OUTCOME_INPUT}): each delivery moves
 * only from the states its outcome may start from (`from_states`, computed from core's
 * `deliveryRank`); returns the positions (`p`) of the outcomes it applied. At most one outcome per
 * delivery in a statement (the caller sends repeats in the next): an UPDATE writes a row once,
 * whichever input row it matched. The id array (an InitPlan) keeps the planner on the primary key,
 * as in the trigger store's finish. Shared by the outcome statement and the statement that writes
 * them with the finish of attempts (outcome-writer.ts).
 */
export const outcomeUpdate = (s: string, input: string): string => `
      UPDATE ${s}.deliveries d
      SET state = i.state, updated_at = i.at, provider = coalesce(i.provider, d.provider), provider_id = coalesce(i.provider_id, d.provider_id),
          error = coalesce(i.error, d.error), events = d.events || i.event
      FROM ${input} i
      WHERE d.id = ANY (ARRAY(SELECT id FROM ${input})) AND d.id = i.id AND d.state = ANY (i.from_states)
      RETURNING i.p`;

/** The statements of the delivery ledger for schema `s` (quoted). */
export function deliveryStatements(s: string): Record<'insert' | 'outcomes' | 'receiptById' | 'receiptByProviderId' | 'resolve' | 'get' | 'ofTrigger' | 'stale' | 'removeIntents' | 'count', Statement> {
  /**
   * A receipt's move, guarded in the statement: the delivery moves only from a state of lower rank
   * (`$4`, computed from core's `deliveryRank`), and takes the receipt's provider id only where it has
   * none or the same one. Under READ COMMITTED a row that a concurrent writer moved is checked again
   * against the guard before it is written, so of two racing writers one moves it. When nothing moved,
   * the delivery is returned as this statement's snapshot saw it (`moved = false`), for the caller to
   * tell a stale receipt from a lost race.
   */
  const receipt = (target: string) => `
    WITH target AS (${target}), moved AS (
      UPDATE ${s}.deliveries d
      SET state = $3, updated_at = $5::timestamptz, provider_id = coalesce(d.provider_id, $2::text), events = d.events || $6::jsonb
      WHERE d.id = (SELECT id FROM target) AND d.state = ANY ($4::text[]) AND ($2::text IS NULL OR d.provider_id IS NULL OR d.provider_id = $2::text)
      RETURNING ${columnsOf('d')}
    )
    SELECT true AS moved, ${DELIVERY_COLUMNS} FROM moved
    UNION ALL
    SELECT false, ${columnsOf('d')} FROM ${s}.deliveries d WHERE d.id = (SELECT id FROM target) AND NOT EXISTS (SELECT 1 FROM moved)`;

  return {
    /**
     * Intents, one statement per batch, as one JSON array (`$1`). Rows are inserted in batch order, so
     * their identity ids increase in that order: the ids come back as one array in id order (as text:
     * a bigint can exceed what a JSON number holds), which pairs them with the batch. The intent's
     * event is built here from the same ISO text as its timestamps.
     */
    insert: statement(`
      WITH inserted AS (
      INSERT INTO ${s}.deliveries (account_id, trigger_id, rule_id, action_index, attempt, type, provider, idempotency_key, recipient, state, dedupes, events, created_at, updated_at)
      SELECT i.account_id, i.trigger_id, i.rule_id, i.action_index, i.attempt, i.type, i.provider, i.idempotency_key, i.recipient, 'intent', i.dedupes,
             jsonb_build_array(jsonb_build_object('at', i.at, 'state', 'intent', 'source', 'engine')), i.at::timestamptz, i.at::timestamptz
      FROM json_to_recordset($1::json)
        AS i(ord integer, account_id text, trigger_id text, rule_id text, action_index integer, attempt integer, type text, provider text, idempotency_key text, recipient text, dedupes boolean, at text)
      ORDER BY i.ord
      RETURNING id
      )
      SELECT array_agg(id ORDER BY id)::text[] AS ids FROM inserted`),

    /** Outcomes, many in one statement (`$1`, a JSON array; see {@link outcomeUpdate}): one row, the positions applied as one array (null when none). */
    outcomes: statement(`
      WITH input AS (${OUTCOME_INPUT.replace('$N', '$1')}), moved AS (${outcomeUpdate(s, 'input')})
      SELECT array_agg(p) AS moved FROM moved`),

    /** `$1` our delivery id, `$2` the receipt's provider id (or null), `$3` new state, `$4` states it may leave, `$5` at, `$6` event. */
    receiptById: statement(receipt(`SELECT $1::bigint AS id`)),

    /** `$1` the provider: the latest delivery with this provider id (a resend the provider deduplicated shares it). */
    receiptByProviderId: statement(receipt(`SELECT id FROM ${s}.deliveries WHERE provider_id = $2::text AND provider = $1 ORDER BY id DESC LIMIT 1`)),

    /** An operator's resolution of an unknown send; the delivery as it is when it is not unknown (`moved = false`). */
    resolve: statement(`
      WITH moved AS (
        UPDATE ${s}.deliveries d SET state = $3, updated_at = $4::timestamptz, events = d.events || $5::jsonb
        WHERE d.id = $1::bigint AND d.account_id = $2 AND d.state = 'unknown'
        RETURNING ${columnsOf('d')}
      )
      SELECT true AS moved, ${DELIVERY_COLUMNS} FROM moved
      UNION ALL
      SELECT false, ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE id = $1::bigint AND account_id = $2 AND NOT EXISTS (SELECT 1 FROM moved)`),

    get: statement(`SELECT ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE id = $1::bigint AND account_id = $2`),

    /** Every delivery of a trigger in id (insertion) order: a retry's intent always follows the earlier attempt's. */
    ofTrigger: statement(`SELECT ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE account_id = $1 AND trigger_id = $2 ORDER BY id`),

    /** `$2` null means no limit. The literal state matches the partial index's predicate. */
    stale: statement(`SELECT ${DELIVERY_COLUMNS} FROM ${s}.deliveries WHERE state = 'intent' AND created_at < $1::timestamptz ORDER BY created_at, id LIMIT $2::bigint`),

    /**
     * Intents of a batch whose insert may have committed although its reply was lost, found by what
     * identifies an intent (`$1`, a JSON array); only while still intents, so nothing that moved on is
     * touched. Returns how many it removed.
     */
    removeIntents: statement(`
      DELETE FROM ${s}.deliveries d
      USING jsonb_to_recordset($1::jsonb) AS o(account_id text, trigger_id text, action_index integer, attempt integer, idempotency_key text, at timestamptz)
      WHERE d.account_id = o.account_id AND d.trigger_id = o.trigger_id AND d.action_index = o.action_index AND d.attempt = o.attempt
        AND d.idempotency_key = o.idempotency_key AND d.created_at = o.at AND d.state = 'intent'`),

    count: statement(`SELECT state, count(*)::integer AS n FROM ${s}.deliveries WHERE account_id = $1 AND updated_at >= $2::timestamptz GROUP BY state`),
  };
}
