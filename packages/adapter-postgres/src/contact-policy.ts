// One file: the three contact-policy ports on PostgreSQL share the tables, the statements and the error
// mapping, and the counter's all-or-nothing reserve reads as one argument only next to the rows it locks.
import {
  AutomationError,
  clampLimit,
  VersionConflictError,
  type ContactCounter,
  type ContactPolicy,
  type ContactPolicyStore,
  type Logger,
  type Page,
  type ReserveResult,
  type StoredContactPolicy,
  type Suppression,
  type SuppressionChange,
  type SuppressionReason,
  type SuppressionSource,
  type SuppressionStore,
} from '@crm-automation/core';
import { explainMissingSchema, sqlState, statement, storableText, type Database } from './connection.js';
import { timestampParam } from './dates.js';
import { isStoreId } from './ids.js';

interface PolicyRow {
  account_id: string;
  policy: ContactPolicy;
  version: number;
  updated_at: Date;
}

interface SuppressionRow {
  seq: string;
  account_id: string;
  channel: string;
  recipient: string;
  reason: SuppressionReason;
  source: SuppressionSource;
  detail: string | null;
  by_whom: string | null;
  created_at: Date;
}

interface ChangeRow {
  id: string;
  account_id: string;
  channel: string;
  recipient: string;
  action: 'added' | 'removed';
  reason: SuppressionReason;
  source: SuppressionSource;
  by_whom: string | null;
  detail: string | null;
  at: Date;
}

interface BucketRow {
  bucket_key: string;
  holders: string[];
}

const toStoredPolicy = (row: PolicyRow): StoredContactPolicy => ({ ...row.policy, accountId: row.account_id, version: row.version, updatedAt: row.updated_at });

const toSuppression = (row: SuppressionRow): Suppression => ({
  accountId: row.account_id,
  channel: row.channel,
  recipient: row.recipient,
  reason: row.reason,
  source: row.source,
  ...(row.detail === null ? {} : { detail: row.detail }),
  ...(row.by_whom === null ? {} : { by: row.by_whom }),
  createdAt: row.created_at,
});

const toChange = (row: ChangeRow): SuppressionChange => ({
  accountId: row.account_id,
  channel: row.channel,
  recipient: row.recipient,
  action: row.action,
  reason: row.reason,
  source: row.source,
  ...(row.by_whom === null ? {} : { by: row.by_whom }),
  ...(row.detail === null ? {} : { detail: row.detail }),
  at: row.at,
});

/** Cursors are row ids (decimal bigints); anything else reads from the start, as the memory store does. */
const cursorOf = (cursor: string | undefined): string | null => (cursor !== undefined && isStoreId(cursor) ? cursor : null);

/** Expired buckets are deleted every this many reserves of a handle, a bounded batch at a time. */
const SWEEP_EVERY = 1_000;
const SWEEP_BATCH = 1_000;
/** A deadlock between two reserves (which lock their buckets in key order, so it should not happen) is retried this often. */
const RESERVE_ATTEMPTS = 3;
/** Rounds of an add that meets an entry another process removes before it can read it. */
const ADD_ROUNDS = 5;

/**
 * The contact policy ports in `<schema>.contact_policies`, `.suppressions`, `.suppression_changes` and
 * `.contact_counts`. A policy put is one conditional statement (insert-if-absent or update-at-version);
 * an add or remove writes its entry and its change in one statement, so the audit trail has exactly
 * one change per effective add or remove whichever process makes it; a reserve locks its buckets'
 * rows in key order in one transaction and takes a unit in every one or in none.
 */
export function contactPortsOn(db: Database, logger: Logger): ContactPolicyStore & SuppressionStore & ContactCounter {
  const s = `"${db.schema}"`;
  const SUPPRESSION_COLUMNS = 'seq, account_id, channel, recipient, reason, source, detail, by_whom, created_at';
  const CHANGE_COLUMNS = 'id, account_id, channel, recipient, action, reason, source, by_whom, detail, at';
  const sql = {
    getPolicy: statement(`SELECT account_id, policy, version, updated_at FROM ${s}.contact_policies WHERE account_id = $1`),
    putPolicy: statement(`
      INSERT INTO ${s}.contact_policies AS p (account_id, policy, version, updated_at) VALUES ($1, $2::jsonb, 1, $3::timestamptz)
      ON CONFLICT (account_id) DO UPDATE SET policy = EXCLUDED.policy, version = p.version + 1, updated_at = EXCLUDED.updated_at
      RETURNING account_id, policy, version, updated_at`),
    createPolicy: statement(`
      INSERT INTO ${s}.contact_policies (account_id, policy, version, updated_at) VALUES ($1, $2::jsonb, 1, $3::timestamptz)
      ON CONFLICT (account_id) DO NOTHING
      RETURNING account_id, policy, version, updated_at`),
    replacePolicy: statement(`
      UPDATE ${s}.contact_policies SET policy = $2::jsonb, version = version + 1, updated_at = $3::timestamptz
      WHERE account_id = $1 AND version = $4::integer
      RETURNING account_id, policy, version, updated_at`),
    policyVersion: statement(`SELECT version FROM ${s}.contact_policies WHERE account_id = $1`),
    findSuppression: statement(`SELECT ${SUPPRESSION_COLUMNS} FROM ${s}.suppressions WHERE account_id = $1 AND channel = $2 AND recipient = $3`),
    // The primary key's index, probed once a key (a nested loop over the arrays).
    findSuppressions: statement(`
      SELECT ${SUPPRESSION_COLUMNS} FROM ${s}.suppressions
      WHERE (account_id, channel, recipient) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`),
    getPolicies: statement(`SELECT account_id, policy, version, updated_at FROM ${s}.contact_policies WHERE account_id = ANY($1::text[])`),
    // The change is written only when the entry is: a concurrent add of the same recipient waits for
    // this one's commit, then inserts nothing and records nothing.
    addSuppression: statement(`
      WITH added AS (
        INSERT INTO ${s}.suppressions (account_id, channel, recipient, reason, source, detail, by_whom, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)
        ON CONFLICT (account_id, channel, recipient) DO NOTHING
        RETURNING ${SUPPRESSION_COLUMNS}
      ), recorded AS (
        INSERT INTO ${s}.suppression_changes (account_id, channel, recipient, action, reason, source, by_whom, detail, at)
        SELECT account_id, channel, recipient, 'added', reason, source, by_whom, detail, created_at FROM added
      )
      SELECT ${SUPPRESSION_COLUMNS} FROM added`),
    removeSuppression: statement(`
      WITH removed AS (
        DELETE FROM ${s}.suppressions WHERE account_id = $1 AND channel = $2 AND recipient = $3
        RETURNING account_id, channel, recipient
      )
      INSERT INTO ${s}.suppression_changes (account_id, channel, recipient, action, reason, source, by_whom, detail, at)
      SELECT account_id, channel, recipient, 'removed', $4, $5, $6, $7, $8::timestamptz FROM removed`),
    listSuppressions: statement(`
      SELECT ${SUPPRESSION_COLUMNS} FROM ${s}.suppressions
      WHERE account_id = $1 AND ($2::text IS NULL OR channel = $2) AND ($3::bigint IS NULL OR seq < $3::bigint)
      ORDER BY seq DESC LIMIT $4`),
    suppressionChanges: statement(`
      SELECT ${CHANGE_COLUMNS} FROM ${s}.suppression_changes
      WHERE account_id = $1 AND ($2::text IS NULL OR channel = $2) AND ($3::text IS NULL OR recipient = $3) AND ($4::bigint IS NULL OR id > $4::bigint)
      ORDER BY id LIMIT $5`),
    // Creates the missing buckets and locks every one, in key order (so two reserves never wait for
    // each other both ways); a bucket past its expiry starts afresh with this request's expiry. The
    // no-op update of a live bucket is what takes its row lock and returns its latest holders.
    lockBuckets: statement(`
      INSERT INTO ${s}.contact_counts AS c (account_id, bucket_key, holders, expires_at)
      SELECT $1, w.bucket_key, '{}', w.expires_at
      FROM unnest($2::text[], $3::timestamptz[]) AS w(bucket_key, expires_at)
      ORDER BY w.bucket_key
      ON CONFLICT (account_id, bucket_key) DO UPDATE SET
        holders = CASE WHEN c.expires_at <= $4::timestamptz THEN '{}' ELSE c.holders END,
        expires_at = CASE WHEN c.expires_at <= $4::timestamptz THEN EXCLUDED.expires_at ELSE c.expires_at END
      RETURNING bucket_key, holders`),
    takeUnits: statement(`
      UPDATE ${s}.contact_counts SET holders = array_append(holders, $3)
      WHERE account_id = $1 AND bucket_key = ANY($2::text[]) AND NOT ($3 = ANY(holders))`),
    release: statement(`
      UPDATE ${s}.contact_counts SET holders = array_remove(holders, $3)
      WHERE account_id = $1 AND bucket_key = ANY($2::text[]) AND $3 = ANY(holders)`),
    sweep: statement(`
      DELETE FROM ${s}.contact_counts WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${s}.contact_counts WHERE expires_at <= $1::timestamptz LIMIT ${SWEEP_BATCH}))`),
  };

  // A policy read back and written again carries the stored fields, which live in columns instead.
  const policyJson = (policy: ContactPolicy) => {
    const { accountId: _accountId, version: _version, updatedAt: _updatedAt, ...rest } = policy as ContactPolicy & Partial<Pick<StoredContactPolicy, 'accountId' | 'version' | 'updatedAt'>>;
    return JSON.stringify(rest);
  };

  const conflict = async (accountId: string, expected: number): Promise<never> => {
    const { rows } = await db.query<{ version: number }>(sql.policyVersion, [accountId]);
    throw new VersionConflictError(accountId, expected, rows[0]?.version ?? 0, 'Contact policy of account');
  };

  let reserves = 0;
  const sweep = (now: Date) => {
    db.query(sql.sweep, [timestampParam(now, 'reserve: now')]).catch((error: unknown) =>
      logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'postgres: sweeping expired contact counters failed'),
    );
  };

  /** One reserve, in a transaction of its own: all the buckets' units or none. */
  const reserveOnce = async (accountId: string, keys: string[], expiries: string[], maxOf: Map<string, number>, order: string[], holder: string, now: string): Promise<ReserveResult> => {
    const client = await db.pool.connect();
    let failed: unknown;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<BucketRow>({ name: sql.lockBuckets.name, text: sql.lockBuckets.text, values: [accountId, keys, expiries, now] });
      const holdersOf = new Map(rows.map((r) => [r.bucket_key, r.holders]));
      // The first full bucket in the caller's order is the one named.
      for (const key of order) {
        const holders = holdersOf.get(key) ?? [];
        if (!holders.includes(holder) && holders.length >= (maxOf.get(key) ?? 0)) {
          await client.query('ROLLBACK');
          return { ok: false, full: key };
        }
      }
      await client.query({ name: sql.takeUnits.name, text: sql.takeUnits.text, values: [accountId, keys, holder] });
      await client.query('COMMIT');
      return { ok: true };
    } catch (error) {
      failed = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw explainMissingSchema(error, db.schema);
    } finally {
      // A connection whose transaction failed halfway is not handed to anyone else.
      client.release(failed instanceof Error ? failed : undefined);
    }
  };

  return {
    async getContactPolicy(accountId) {
      if (!storableText(accountId)) return null;
      const { rows } = await db.query<PolicyRow>(sql.getPolicy, [accountId]);
      const row = rows[0];
      return row ? toStoredPolicy(row) : null;
    },

    async getContactPolicies(accountIds) {
      const ids = accountIds.filter(storableText);
      if (ids.length === 0) return [];
      const { rows } = await db.query<PolicyRow>(sql.getPolicies, [ids]);
      return rows.map(toStoredPolicy);
    },

    async putContactPolicy(accountId, policy, { now, expectedVersion }) {
      const values = [accountId, policyJson(policy), timestampParam(now, 'putContactPolicy: now')];
      if (expectedVersion === undefined) {
        const { rows } = await db.query<PolicyRow>(sql.putPolicy, values);
        return toStoredPolicy(rows[0] as PolicyRow);
      }
      const { rows } = expectedVersion === 0 ? await db.query<PolicyRow>(sql.createPolicy, values) : await db.query<PolicyRow>(sql.replacePolicy, [...values, expectedVersion]);
      const row = rows[0];
      return row ? toStoredPolicy(row) : conflict(accountId, expectedVersion);
    },

    async findSuppression(accountId, channel, recipient) {
      if (!storableText(accountId) || !storableText(channel) || !storableText(recipient)) return null;
      const { rows } = await db.query<SuppressionRow>(sql.findSuppression, [accountId, channel, recipient]);
      const row = rows[0];
      return row ? toSuppression(row) : null;
    },

    async findSuppressions(keys) {
      const storable = keys.filter((k) => storableText(k.accountId) && storableText(k.channel) && storableText(k.recipient));
      if (storable.length === 0) return [];
      const { rows } = await db.query<SuppressionRow>(sql.findSuppressions, [storable.map((k) => k.accountId), storable.map((k) => k.channel), storable.map((k) => k.recipient)]);
      return rows.map(toSuppression);
    },

    async addSuppression(entry) {
      const values = [entry.accountId, entry.channel, entry.recipient, entry.reason, entry.source, entry.detail ?? null, entry.by ?? null, timestampParam(entry.createdAt, 'addSuppression: createdAt')];
      // An entry added by another process after this statement's snapshot is neither inserted nor
      // seen by it: read it then. One removed meanwhile makes the next round insert.
      for (let round = 1; ; round++) {
        const { rows } = await db.query<SuppressionRow>(sql.addSuppression, values);
        const added = rows[0];
        if (added) return { created: true, suppression: toSuppression(added) };
        const existing = await db.query<SuppressionRow>(sql.findSuppression, [entry.accountId, entry.channel, entry.recipient]);
        const found = existing.rows[0];
        if (found) return { created: false, suppression: toSuppression(found) };
        if (round >= ADD_ROUNDS) throw new AutomationError('CRM_ERR_POLICY_UNAVAILABLE', `addSuppression: the entry was added and removed by others ${ADD_ROUNDS} times while this add ran`, { retryable: true });
      }
    },

    async removeSuppression(accountId, channel, recipient, change) {
      if (!storableText(accountId) || !storableText(channel) || !storableText(recipient)) return false;
      const { rowCount } = await db.query(sql.removeSuppression, [
        accountId,
        channel,
        recipient,
        change.reason,
        change.source,
        change.by ?? null,
        change.detail ?? null,
        timestampParam(change.at, 'removeSuppression: at'),
      ]);
      return (rowCount ?? 0) > 0;
    },

    async listSuppressions(accountId, filter): Promise<Page<Suppression>> {
      if (!storableText(accountId) || (filter.channel !== undefined && !storableText(filter.channel))) return { items: [] };
      const limit = clampLimit(filter.limit);
      const { rows } = await db.query<SuppressionRow>(sql.listSuppressions, [accountId, filter.channel ?? null, cursorOf(filter.cursor), limit + 1]);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const items = page.map(toSuppression);
      return rows.length > limit && last ? { items, nextCursor: last.seq } : { items };
    },

    async suppressionChanges(accountId, filter): Promise<Page<SuppressionChange>> {
      if (!storableText(accountId) || [filter.channel, filter.recipient].some((v) => v !== undefined && !storableText(v))) return { items: [] };
      const limit = clampLimit(filter.limit);
      const { rows } = await db.query<ChangeRow>(sql.suppressionChanges, [accountId, filter.channel ?? null, filter.recipient ?? null, cursorOf(filter.cursor), limit + 1]);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const items = page.map(toChange);
      return rows.length > limit && last ? { items, nextCursor: last.id } : { items };
    },

    async reserve({ accountId, buckets, holder, now }) {
      if (buckets.length === 0) return { ok: true };
      const nowParam = timestampParam(now, 'reserve: now');
      if (++reserves % SWEEP_EVERY === 0) sweep(now);
      // One row per key: a key listed twice is one bucket, held to the smaller max.
      const maxOf = new Map<string, number>();
      const expiryOf = new Map<string, string>();
      for (const bucket of buckets) {
        maxOf.set(bucket.key, Math.min(maxOf.get(bucket.key) ?? Number.POSITIVE_INFINITY, bucket.max));
        if (!expiryOf.has(bucket.key)) expiryOf.set(bucket.key, timestampParam(bucket.expiresAt, 'reserve: bucket expiresAt'));
      }
      const keys = [...expiryOf.keys()];
      const expiries = keys.map((k) => expiryOf.get(k) as string);
      const order = buckets.map((b) => b.key);
      for (let attempt = 1; ; attempt++) {
        try {
          return await reserveOnce(accountId, keys, expiries, maxOf, order, holder, nowParam);
        } catch (error) {
          if (sqlState(error) !== '40P01' || attempt >= RESERVE_ATTEMPTS) throw error;
        }
      }
    },

    async release({ accountId, bucketKeys, holder }) {
      if (bucketKeys.length === 0 || !storableText(accountId) || !storableText(holder)) return;
      const keys = bucketKeys.filter(storableText);
      if (keys.length === 0) return;
      await db.query(sql.release, [accountId, keys, holder]);
    },
  };
}
