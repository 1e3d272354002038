// One file: every migration of the adapter, in order: the schema's history is read top to bottom, and
// each step's SQL has to agree with the steps before it.
import type { Database } from './connection.js';

/** The parts of the schema a store needs; each has its own numbered migrations. */
export type SchemaComponent = 'rules' | 'triggers' | 'idempotency' | 'deliveries' | 'contact';

export interface Migration {
  component: SchemaComponent;
  /** 1, 2, 3, ... within the component; never renumbered once released. */
  version: number;
  name: string;
  /** DDL for schema `s` (already quoted). Runs in one transaction with the bookkeeping row. */
  sql: (s: string) => string;
}

/**
 * Every migration, oldest first. A released migration is never edited: a change is a new one. The
 * partial indexes name the query each serves; their predicates repeat the literal statuses of those
 * queries so that the planner can prove the query implies them.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    component: 'rules',
    version: 1,
    name: 'rules table',
    sql: (s) => `
      CREATE TABLE ${s}.rules (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id text NOT NULL,
        name text NOT NULL,
        description text,
        enabled boolean NOT NULL,
        event_name text NOT NULL,
        delay_value double precision NOT NULL,
        delay_unit text NOT NULL,
        conditions jsonb NOT NULL,
        actions jsonb NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      -- listRules: an account's rules in id (creation) order
      CREATE INDEX rules_by_account ON ${s}.rules (account_id, id);
      -- findRulesForEvent: every intake asks for the enabled rules of (account, event name)
      CREATE INDEX rules_for_event ON ${s}.rules (account_id, event_name) WHERE enabled;
    `,
  },
  {
    component: 'triggers',
    version: 1,
    name: 'triggers table',
    sql: (s) => `
      CREATE TABLE ${s}.triggers (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id text NOT NULL,
        -- opaque: the rule may live in another store
        rule_id text NOT NULL,
        rule_version integer NOT NULL,
        event_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'processing', 'retrying', 'completed', 'skipped', 'failed', 'cancelled')),
        evaluate_at timestamptz NOT NULL,
        attempt integer NOT NULL,
        triggering_event jsonb NOT NULL,
        trace jsonb,
        execution_history jsonb NOT NULL,
        sent_actions integer[] NOT NULL,
        lease_token text,
        lease_owner text,
        lease_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        -- intake dedupe: a redelivered event finds its trigger instead of adding one
        CONSTRAINT triggers_intake_key UNIQUE (account_id, event_id, rule_id)
      );
      -- claims and nextDueAt: waiting triggers by due time
      CREATE INDEX triggers_due ON ${s}.triggers (evaluate_at) WHERE status IN ('pending', 'retrying');
      -- claims and nextDueAt: leases by expiry
      CREATE INDEX triggers_leases ON ${s}.triggers (lease_expires_at) WHERE status = 'processing';
      -- listTriggers: an account's triggers newest first (scanned backwards)
      CREATE INDEX triggers_by_account ON ${s}.triggers (account_id, id);
      -- listTriggers filtered by rule
      CREATE INDEX triggers_by_rule ON ${s}.triggers (account_id, rule_id, id);
      -- purgeTriggers and retention: finished triggers by age
      CREATE INDEX triggers_finished ON ${s}.triggers (updated_at) WHERE status IN ('completed', 'skipped', 'failed', 'cancelled');
      -- A queue table: most rows are rewritten twice soon after insert. Vacuum after 2% dead rows
      -- rather than the default 20%, so the due index stays short at its head.
      ALTER TABLE ${s}.triggers SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
    `,
  },
  {
    component: 'idempotency',
    version: 1,
    name: 'idempotency keys table',
    sql: (s) => `
      CREATE TABLE ${s}.idempotency_keys (
        key text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('in-flight', 'done')),
        -- the reservation's owner, so that only it may release the key
        holder text,
        result jsonb,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX idempotency_keys_expiry ON ${s}.idempotency_keys (expires_at);
    `,
  },
  {
    component: 'deliveries',
    version: 1,
    name: 'deliveries table',
    sql: (s) => `
      CREATE TABLE ${s}.deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id text NOT NULL,
        -- opaque: references into the trigger store, which may be another schema or service
        trigger_id text NOT NULL,
        rule_id text NOT NULL,
        action_index integer NOT NULL,
        attempt integer NOT NULL,
        type text NOT NULL,
        provider text NOT NULL,
        idempotency_key text NOT NULL,
        recipient text,
        state text NOT NULL CHECK (state IN ('intent', 'accepted', 'refused', 'unknown', 'delivered', 'undelivered', 'bounced', 'failed', 'abandoned')),
        provider_id text,
        error jsonb,
        dedupes boolean NOT NULL,
        events jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      -- listDeliveries: an account's deliveries newest first (scanned backwards)
      CREATE INDEX deliveries_by_account ON ${s}.deliveries (account_id, id);
      -- deliveriesOfTrigger (read by every retry before it sends) and the trigger filter of listDeliveries
      CREATE INDEX deliveries_by_trigger ON ${s}.deliveries (account_id, trigger_id, id);
      -- the recipient filter of listDeliveries
      CREATE INDEX deliveries_by_recipient ON ${s}.deliveries (account_id, recipient, id) WHERE recipient IS NOT NULL;
      -- receipts, found by (provider, provider id), the latest first; the provider id leads so that the
      -- provider-id filter of listDeliveries (no provider given) uses it too. Not unique: a resend the
      -- provider deduplicated shares the first send's id.
      CREATE INDEX deliveries_by_provider_id ON ${s}.deliveries (provider_id, provider, id) WHERE provider_id IS NOT NULL;
      -- staleIntents: sends without an outcome, oldest first; an intent leaves the index once it moves
      CREATE INDEX deliveries_stale ON ${s}.deliveries (created_at, id) WHERE state = 'intent';
      -- retention: settled deliveries by state and age (intent and unknown are never purged)
      CREATE INDEX deliveries_settled ON ${s}.deliveries (state, updated_at) WHERE state IN ('accepted', 'refused', 'delivered', 'undelivered', 'bounced', 'failed', 'abandoned');
    `,
  },
  {
    component: 'rules',
    version: 2,
    name: 'entity keys, cancel events, concurrency and evaluation of rules',
    sql: (s) => `
      ALTER TABLE ${s}.rules
        ADD COLUMN IF NOT EXISTS trigger_key text,
        ADD COLUMN IF NOT EXISTS cancel_on jsonb,
        ADD COLUMN IF NOT EXISTS concurrency jsonb,
        ADD COLUMN IF NOT EXISTS evaluate jsonb,
        -- one element per cancelOn event name: account_id || ':' || name, so that the index finds one
        -- account's rules for a name, not every account's (lookups also match account_id, which makes
        -- the key exact whatever either part contains)
        ADD COLUMN IF NOT EXISTS cancel_event_keys text[] NOT NULL DEFAULT '{}';
      -- The keys derive from cancel_on, as insert and replace write them. No rule has a cancel_on before
      -- this migration, so on a version-1 table this backfill updates nothing.
      UPDATE ${s}.rules
      SET cancel_event_keys = ARRAY(SELECT DISTINCT account_id || ':' || (e->>'eventName') FROM jsonb_array_elements(cancel_on) AS e WHERE e ? 'eventName')
      WHERE cancel_on IS NOT NULL AND jsonb_typeof(cancel_on) = 'array';
      -- findRulesForEvent: the enabled rules a cancelling event names in their cancelOn
      CREATE INDEX IF NOT EXISTS rules_for_cancel_event ON ${s}.rules USING gin (cancel_event_keys) WHERE enabled;
      ${refuseInvalidIndexes(s, ['rules_for_cancel_event'])}
    `,
  },
  {
    component: 'triggers',
    version: 2,
    name: 'entity keys, pending slots and cancel requests of triggers',
    sql: (s) => `
      -- Nullable, no default: adding them rewrites nothing. IF NOT EXISTS (here and on the indexes): an
      -- operator may add the columns and build the indexes CONCURRENTLY beforehand on a large table,
      -- and this migration then only records them (see the README).
      ALTER TABLE ${s}.triggers
        ADD COLUMN IF NOT EXISTS entity_key text,
        ADD COLUMN IF NOT EXISTS first_event_at timestamptz,
        ADD COLUMN IF NOT EXISTS cancel_requested jsonb,
        -- the entity key while a trigger inserted with a concurrency mode is pending, else null
        ADD COLUMN IF NOT EXISTS pending_slot text;
      -- At most one pending trigger per (account, rule, entity) among those inserted with a concurrency
      -- mode, whichever process inserts them: intake takes the slot, claim, cancel and supersede free it.
      CREATE UNIQUE INDEX IF NOT EXISTS triggers_pending_slot ON ${s}.triggers (account_id, rule_id, pending_slot) WHERE pending_slot IS NOT NULL;
      -- cancelTriggers (account, rule, entity, status) and listTriggers by entity, with or without a rule:
      -- the entity before the rule so that both use it. Unkeyed triggers stay out of it.
      CREATE INDEX IF NOT EXISTS triggers_by_entity ON ${s}.triggers (account_id, entity_key, rule_id, status) WHERE entity_key IS NOT NULL;
      ${refuseInvalidIndexes(s, ['triggers_pending_slot', 'triggers_by_entity'])}
    `,
  },
  {
    component: 'rules',
    version: 3,
    name: 'schedules of rules',
    sql: (s) => `
      -- A rule's schedule (a time relative to a date in the event). Nullable, no default: adding it
      -- rewrites nothing; IF NOT EXISTS for an operator who added it beforehand.
      ALTER TABLE ${s}.rules ADD COLUMN IF NOT EXISTS schedule jsonb;
    `,
  },
  {
    component: 'triggers',
    version: 3,
    name: 'schedules of triggers',
    sql: (s) => `
      -- How a scheduled rule's due time was computed (zone, anchor, local time, notes). Nullable, no
      -- default: adding it rewrites nothing; IF NOT EXISTS for an operator who added it beforehand.
      ALTER TABLE ${s}.triggers ADD COLUMN IF NOT EXISTS schedule jsonb;
    `,
  },
  {
    component: 'contact',
    version: 1,
    name: 'contact policies, suppressions and cap counters',
    sql: (s) => `
      -- IF NOT EXISTS throughout: an operator may create them beforehand, and this migration then only records them.
      CREATE TABLE IF NOT EXISTS ${s}.contact_policies (
        account_id text PRIMARY KEY,
        -- the policy as the engine validated it (channels and whatever later versions add)
        policy jsonb NOT NULL,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE IF NOT EXISTS ${s}.suppressions (
        account_id text NOT NULL,
        channel text NOT NULL,
        recipient text NOT NULL,
        -- insertion order: listSuppressions pages newest first by it
        seq bigint GENERATED ALWAYS AS IDENTITY,
        reason text NOT NULL,
        source text NOT NULL,
        detail text,
        by_whom text,
        created_at timestamptz NOT NULL,
        -- one entry per recipient and channel: addSuppression is idempotent on it, across processes
        PRIMARY KEY (account_id, channel, recipient)
      );
      -- listSuppressions: an account's entries newest first, with or without a channel
      CREATE INDEX IF NOT EXISTS suppressions_by_account ON ${s}.suppressions (account_id, seq);
      CREATE INDEX IF NOT EXISTS suppressions_by_channel ON ${s}.suppressions (account_id, channel, seq);
      -- every add and remove, never updated or deleted by the store (the audit export)
      CREATE TABLE IF NOT EXISTS ${s}.suppression_changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id text NOT NULL,
        channel text NOT NULL,
        recipient text NOT NULL,
        action text NOT NULL CHECK (action IN ('added', 'removed')),
        reason text NOT NULL,
        source text NOT NULL,
        by_whom text,
        detail text,
        at timestamptz NOT NULL
      );
      -- suppressionChanges: oldest first, for an account or one recipient of it
      CREATE INDEX IF NOT EXISTS suppression_changes_by_account ON ${s}.suppression_changes (account_id, id);
      CREATE INDEX IF NOT EXISTS suppression_changes_by_recipient ON ${s}.suppression_changes (account_id, recipient, id);
      -- one row per cap bucket (the key names channel, recipient, period and its start); the holders are
      -- the sends counted in it, so a retry of the same send counts once
      CREATE TABLE IF NOT EXISTS ${s}.contact_counts (
        account_id text NOT NULL,
        bucket_key text NOT NULL,
        holders text[] NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, bucket_key)
      );
      -- the sweep of buckets past their expiry
      CREATE INDEX IF NOT EXISTS contact_counts_expiry ON ${s}.contact_counts (expires_at);
      -- Rewritten on every counted send: vacuum early, as for triggers.
      ALTER TABLE ${s}.contact_counts SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
      ${refuseInvalidIndexes(s, ['suppressions_by_account', 'suppressions_by_channel', 'suppression_changes_by_account', 'suppression_changes_by_recipient', 'contact_counts_expiry'])}
    `,
  },
  {
    component: 'contact',
    version: 2,
    name: 'send throttles',
    sql: (s) => `
      -- one token bucket per account and channel; updated_at_ms is epoch ms so the refill is the same
      -- float arithmetic as in the engine; a bucket past expires_at is full again and may be deleted
      CREATE TABLE IF NOT EXISTS ${s}.send_throttles (
        account_id text NOT NULL,
        channel text NOT NULL,
        tokens double precision NOT NULL,
        updated_at_ms bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, channel)
      );
      CREATE INDEX IF NOT EXISTS send_throttles_expiry ON ${s}.send_throttles (expires_at);
      -- Rewritten on every granted send: vacuum early, as for the counters.
      ALTER TABLE ${s}.send_throttles SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
      ${refuseInvalidIndexes(s, ['send_throttles_expiry'])}
    `,
  },
];

/**
 * A statement that fails the migration when one of `names` exists but is invalid: what a failed
 * `CREATE INDEX CONCURRENTLY` leaves behind, which `IF NOT EXISTS` would otherwise accept. Drop it and
 * build it again (or let the migration build it).
 */
function refuseInvalidIndexes(s: string, names: readonly string[]): string {
  const schema = s.replaceAll('"', '');
  return `DO $check$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = '${schema}' AND c.relname IN (${names.map((n) => `'${n}'`).join(', ')}) AND NOT i.indisvalid) THEN
          RAISE EXCEPTION 'an index of this migration exists but is invalid (a failed CREATE INDEX CONCURRENTLY?): drop it and run ensureSchema() again';
        END IF;
      END $check$;`;
}

/** One migration `ensureSchema()` applied. */
export interface AppliedMigration {
  component: SchemaComponent;
  version: number;
  name: string;
}

/** What `ensureSchema()` found and did. */
export interface SchemaReport {
  schema: string;
  /** Migrations applied by this call (empty when the schema was up to date). */
  applied: AppliedMigration[];
  /** The version of each component after the call. */
  versions: Partial<Record<SchemaComponent, number>>;
}

/**
 * Brings the schema's components up to date: creates the schema and the `schema_migrations` table,
 * then applies each missing migration with its bookkeeping row, all in one transaction under a
 * transaction-scoped advisory lock keyed by the schema name, so processes that start together wait
 * for the first one and then find nothing left to do.
 */
export async function ensureSchema(db: Database, components: readonly SchemaComponent[]): Promise<SchemaReport> {
  const s = `"${db.schema}"`;
  const client = await db.pool.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`crm-automation:schema:${db.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )`);
    const { rows } = await client.query<{ component: SchemaComponent; version: number }>(`SELECT component, version FROM ${s}.schema_migrations`);
    const done = new Set(rows.map((r) => `${r.component}:${r.version}`));
    const versions: Partial<Record<SchemaComponent, number>> = {};
    for (const r of rows) versions[r.component] = Math.max(versions[r.component] ?? 0, r.version);
    const applied: AppliedMigration[] = [];
    for (const m of MIGRATIONS) {
      if (!components.includes(m.component) || done.has(`${m.component}:${m.version}`)) continue;
      await client.query(m.sql(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (component, version, name) VALUES ($1, $2, $3)`, [m.component, m.version, m.name]);
      applied.push({ component: m.component, version: m.version, name: m.name });
      versions[m.component] = Math.max(versions[m.component] ?? 0, m.version);
    }
    await client.query('COMMIT');
    return { schema: db.schema, applied, versions: Object.fromEntries(components.map((c) => [c, versions[c] ?? 0])) };
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // A connection whose transaction failed halfway is not handed to anyone else.
    client.release(failed instanceof Error ? failed : undefined);
  }
}
