// The send throttle apart from the other contact ports: one table, one statement, and its float
// arithmetic must match the memory store's operation for operation (retryAtMs is compared exactly).
import { AutomationError, type Logger, type SendThrottle } from '@crm-automation/core';
import { statement, type Database } from './connection.js';
import { timestampParam } from './dates.js';

/** Below this a bucket's fraction of a token is rounding, not a shortfall, as in the memory store. */
const TOKEN_EPSILON = '1e-9';
/** Buckets full again (forgettable) are deleted every this many takes of a handle, a bounded batch at a time. */
const SWEEP_EVERY = 1_000;
const SWEEP_BATCH = 1_000;

interface TakeRow {
  ok: boolean;
  retry_at_ms: string | null;
}

/**
 * The send throttle in `<schema>.send_throttles`, one row per (account, channel). A take is one
 * statement: the insert of a full bucket less one token, or on conflict the refill and the take,
 * written only when a token is there (`DO UPDATE ... WHERE`), so concurrent takes serialise on the
 * row lock and each sees the one before. A refused take writes nothing; the same statement reads the
 * row `FOR UPDATE`, which in READ COMMITTED gives its latest committed version (not the statement's
 * snapshot), to say when the next token is due.
 */
export function sendThrottleOn(db: Database, logger: Logger): SendThrottle {
  const s = `"${db.schema}"`;
  // $1 account, $2 channel, $3 now (epoch ms), $4 tokens per second, $5 burst.
  const refilled = (t: string) => `least($5::float8, ${t}.tokens + ((greatest(${t}.updated_at_ms, $3::bigint) - ${t}.updated_at_ms) * $4::float8) / 1000)`;
  const sql = {
    take: statement(`
      WITH taken AS (
        INSERT INTO ${s}.send_throttles AS t (account_id, channel, tokens, updated_at_ms, expires_at)
        VALUES ($1, $2, $5::float8 - 1, $3::bigint, to_timestamp(($3::bigint + ceil(1000 / $4::float8)) / 1000.0))
        ON CONFLICT (account_id, channel) DO UPDATE SET
          tokens = greatest(0, ${refilled('t')} - 1),
          updated_at_ms = greatest(t.updated_at_ms, $3::bigint),
          expires_at = to_timestamp((greatest(t.updated_at_ms, $3::bigint) + ceil(($5::float8 - greatest(0, ${refilled('t')} - 1)) * 1000 / $4::float8)) / 1000.0)
        WHERE ${refilled('t')} + ${TOKEN_EPSILON} >= 1
        RETURNING 1
      ), stored AS (
        SELECT tokens, updated_at_ms FROM ${s}.send_throttles WHERE account_id = $1 AND channel = $2 FOR UPDATE
      )
      SELECT EXISTS (SELECT 1 FROM taken) AS ok,
        (SELECT greatest(b.updated_at_ms, $3::bigint) + greatest(1, ceil(((1 - ${refilled('b')}) * 1000) / $4::float8))::bigint FROM stored b) AS retry_at_ms`),
    stored: statement(`
      SELECT greatest(b.updated_at_ms, $3::bigint) + greatest(1, ceil(((1 - ${refilled('b')}) * 1000) / $4::float8))::bigint AS retry_at_ms
      FROM ${s}.send_throttles b WHERE account_id = $1 AND channel = $2`),
    sweep: statement(`
      DELETE FROM ${s}.send_throttles WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${s}.send_throttles WHERE expires_at <= $1::timestamptz LIMIT ${SWEEP_BATCH}))`),
  };

  let takes = 0;
  const sweep = (now: Date) => {
    db.query(sql.sweep, [timestampParam(now, 'throttle: now')]).catch((error: unknown) =>
      logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'postgres: sweeping full send throttle buckets failed'),
    );
  };

  return {
    async take({ accountId, channel, now, perSecond, burst }) {
      timestampParam(now, 'throttle: now');
      if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new AutomationError('CRM_ERR_CONFIG', `throttle perSecond must be a number above 0, got ${perSecond}`);
      const capacity = Math.max(1, burst ?? 1);
      const params = [accountId, channel, now.getTime(), perSecond, capacity];
      if (++takes % SWEEP_EVERY === 0) sweep(now);
      const { rows } = await db.query<TakeRow>(sql.take, params);
      const row = rows[0];
      if (row?.ok) return { ok: true };
      let retryAt = row?.retry_at_ms ?? null;
      // The row was inserted by a take that committed after this statement's snapshot began: not in
      // the snapshot, so read it now that it is committed.
      if (retryAt === null) retryAt = (await db.query<{ retry_at_ms: string }>(sql.stored, params)).rows[0]?.retry_at_ms ?? null;
      if (retryAt === null) throw Object.assign(new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `send throttle of ${accountId}/${channel}: refused, but the bucket was gone`), { retryable: true });
      return { ok: false, retryAtMs: Number(retryAt) };
    },
  };
}
