import type { Rule, RuleSource } from '@crm-automation/core';
import type { Collection, Db } from 'mongodb';
import type { Pool } from 'pg';
import { ruleFromJson } from '../../wire/rule-json.js';
import { RuleLookupUnavailableError } from './rule-lookup-error.js';

/**
 * The pub/sub trigger service's copy of the rules it has seen, in its own database (next to its
 * triggers), fed by `rules_found` and `rule_changed`. Fire-time re-reads (`getRule`) come from here,
 * so they need no call to the rules service, and survive a restart of the trigger service. Writes keep
 * the highest version; rule ids are never reused, so a deletion is final (a late `rules_found` cannot
 * revive it).
 *
 * A rule the replica has never seen is not "deleted": `getRule` throws a retryable error so the
 * trigger waits for the rule to arrive rather than being skipped.
 */
export interface RuleReplica extends RuleSource {
  /** Stores rules as found, unless the replica already has them at this version or newer. */
  upsert(rules: readonly Rule[]): Promise<void>;
  /** Applies a `rule_changed`: the rule as it is now, or its deletion. */
  applyChange(accountId: string, ruleId: string, rule: Rule | null): Promise<void>;
  /** Creates what the replica needs (a collection's index, a table); safe to repeat, from several processes. */
  ensureStorage(): Promise<void>;
}

const notYet = (id: string) => new RuleLookupUnavailableError(`rule ${id} is not in the replica yet (waiting for rules_found or rule_changed)`);

/** One replicated rule; `rule` is its JSON text (rule documents may hold keys Mongo dislikes). */
interface ReplicaDocument {
  _id: string;
  accountId: string;
  eventName: string | null;
  /** The rule's `cancelOn` event names: intake finds a rule by these too (it may cancel runs). */
  cancelEventNames?: string[];
  enabled: boolean;
  version: number;
  deleted: boolean;
  rule: string | null;
  updatedAt: Date;
}

const cancelEventNames = (rule: Rule): string[] => [...new Set((rule.cancelOn ?? []).map((c) => c.eventName))];

const isDuplicateKey = (error: unknown) => (error as { code?: unknown } | null)?.code === 11000;

/** The replica in a MongoDB collection (`rule_replica`) of the trigger service's database. */
export function mongoRuleReplica(db: Db, collectionName = 'rule_replica'): RuleReplica {
  const rules: Collection<ReplicaDocument> = db.collection<ReplicaDocument>(collectionName);

  const put = async (rule: Rule) => {
    try {
      // An update is an upsert filtered on an older version; a losing upsert collides on `_id`.
      await rules.updateOne(
        { _id: rule.id, deleted: { $ne: true }, version: { $lt: rule.version } },
        {
          $set: {
            accountId: rule.accountId,
            eventName: rule.trigger.eventName,
            cancelEventNames: cancelEventNames(rule),
            enabled: rule.enabled,
            version: rule.version,
            deleted: false,
            rule: JSON.stringify(rule),
            updatedAt: new Date(),
          },
        },
        { upsert: true },
      );
    } catch (error) {
      // The replica already holds this version or a newer one, or a tombstone.
      if (!isDuplicateKey(error)) throw error;
    }
  };

  return {
    async ensureStorage() {
      await rules.createIndex({ accountId: 1, eventName: 1 }, { name: 'account_event' });
      await rules.createIndex({ accountId: 1, cancelEventNames: 1 }, { name: 'account_cancel_event' });
    },
    async upsert(found) {
      for (const rule of found) await put(rule);
    },
    async applyChange(accountId, ruleId, rule) {
      if (rule) {
        await put(rule);
        return;
      }
      await rules.updateOne(
        { _id: ruleId },
        { $set: { accountId, eventName: null, cancelEventNames: [], enabled: false, version: Number.MAX_SAFE_INTEGER, deleted: true, rule: null, updatedAt: new Date() } },
        { upsert: true },
      );
    },
    async findRulesForEvent(accountId, eventName) {
      const docs = await rules.find({ accountId, $or: [{ eventName }, { cancelEventNames: eventName }], enabled: true, deleted: false }).sort({ _id: 1 }).toArray();
      return docs.flatMap((d) => (d.rule ? [ruleFromJson(JSON.parse(d.rule))] : []));
    },
    async getRule(accountId, id) {
      const doc = await rules.findOne({ _id: id });
      if (!doc) throw notYet(id);
      if (doc.accountId !== accountId || doc.deleted || !doc.rule) return null;
      return ruleFromJson(JSON.parse(doc.rule));
    },
  };
}

interface ReplicaRow {
  account_id: string;
  deleted: boolean;
  rule: string | null;
}

/**
 * The replica in a PostgreSQL table (`<schema>.rule_replica`) beside the trigger store's tables. The
 * rule is kept as JSON text: JSONB cannot hold every string a rule may carry (U+0000).
 */
export function postgresRuleReplica(pool: Pool, schema: string): RuleReplica {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new Error(`postgresRuleReplica: schema ${JSON.stringify(schema)} is not a plain lowercase name`);
  const table = `"${schema}".rule_replica`;
  // The newest version wins; a tombstone (deleted) is never overwritten.
  const upsert = `
    INSERT INTO ${table} AS r (id, account_id, event_name, cancel_event_names, enabled, version, deleted, rule, updated_at)
    VALUES ($1, $2, $3, $7, $4, $5, false, $6, now())
    ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, event_name = EXCLUDED.event_name, cancel_event_names = EXCLUDED.cancel_event_names, enabled = EXCLUDED.enabled,
      version = EXCLUDED.version, rule = EXCLUDED.rule, updated_at = EXCLUDED.updated_at
    WHERE NOT r.deleted AND r.version < EXCLUDED.version`;
  const tombstone = `
    INSERT INTO ${table} (id, account_id, event_name, enabled, version, deleted, rule, updated_at)
    VALUES ($1, $2, NULL, false, $3, true, NULL, now())
    ON CONFLICT (id) DO UPDATE SET event_name = NULL, cancel_event_names = '{}', enabled = false, version = EXCLUDED.version, deleted = true, rule = NULL, updated_at = EXCLUDED.updated_at`;
  const put = (rule: Rule) => pool.query(upsert, [rule.id, rule.accountId, rule.trigger.eventName, rule.enabled, rule.version, JSON.stringify(rule), cancelEventNames(rule)]);

  return {
    async ensureStorage() {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // Trigger services starting together would race on CREATE ... IF NOT EXISTS; the lock orders them.
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`crm-example:rule-replica:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        await client.query(`
          CREATE TABLE IF NOT EXISTS ${table} (
            id text PRIMARY KEY,
            account_id text NOT NULL,
            event_name text,
            enabled boolean NOT NULL,
            version bigint NOT NULL,
            deleted boolean NOT NULL,
            rule text,
            updated_at timestamptz NOT NULL
          )`);
        await client.query(`CREATE INDEX IF NOT EXISTS rule_replica_for_event ON ${table} (account_id, event_name) WHERE enabled AND NOT deleted`);
        // Added with keyed rules (issue 16): a replica made before has the column added, empty until a rule's next version.
        await client.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS cancel_event_names text[] NOT NULL DEFAULT '{}'`);
        await client.query(`CREATE INDEX IF NOT EXISTS rule_replica_for_cancel_event ON ${table} USING gin (cancel_event_names) WHERE enabled AND NOT deleted`);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async upsert(found) {
      for (const rule of found) await put(rule);
    },
    async applyChange(accountId, ruleId, rule) {
      if (rule) await put(rule);
      else await pool.query(tombstone, [ruleId, accountId, Number.MAX_SAFE_INTEGER]);
    },
    async findRulesForEvent(accountId, eventName) {
      const { rows } = await pool.query<{ rule: string }>(
        `SELECT rule FROM ${table} WHERE account_id = $1 AND (event_name = $2 OR cancel_event_names @> ARRAY[$2]::text[]) AND enabled AND NOT deleted ORDER BY id`,
        [accountId, eventName],
      );
      return rows.map((row) => ruleFromJson(JSON.parse(row.rule)));
    },
    async getRule(accountId, id) {
      const { rows } = await pool.query<ReplicaRow>(`SELECT account_id, deleted, rule FROM ${table} WHERE id = $1`, [id]);
      const row = rows[0];
      if (!row) throw notYet(id);
      if (row.account_id !== accountId || row.deleted || !row.rule) return null;
      return ruleFromJson(JSON.parse(row.rule));
    },
  };
}
