import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { HistoryEntry, InsertedTrigger, NewTrigger, RuleDraft, TriggerConcurrency } from '@crm-automation/core';
import { createPostgresStore, MIGRATIONS, type PostgresStore } from '../src/index.js';
import { keyedStatements } from '../src/keyed-statements.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

// Issue 16 in the PostgreSQL store: entity keys, the pending slot of keyed concurrency modes,
// cancelTriggers, and rules found by their cancelOn event names.

const url = postgresUrl();
let pool: pg.Pool;
const schemas: string[] = [];
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const DELAY = 60_000;

const fresh = () => {
  const schema = uniqueSchema('crm_entities');
  schemas.push(schema);
  return schema;
};

async function storeOn(schema = fresh()): Promise<PostgresStore> {
  const store = createPostgresStore({ pool, schema });
  await store.ensureSchema();
  return store;
}

/** A trigger of rule-1 for job `key`, its event at `eventMs` after T0 and due DELAY later. */
const keyed = (eventId: string, eventMs: number, options: { key?: string; concurrency?: TriggerConcurrency; ruleId?: string } = {}): NewTrigger => ({
  accountId: 'acc_1',
  ruleId: options.ruleId ?? 'rule-1',
  ruleVersion: 1,
  evaluateAt: at(eventMs + DELAY),
  triggeringEvent: { id: eventId, name: 'job.updated', timestamp: at(eventMs), payload: { job: { id: options.key ?? 'job-1' } } },
  entityKey: options.key ?? 'job-1',
  ...(options.concurrency ? { concurrency: options.concurrency } : {}),
});
const supersede = (maxWaitMs?: number): TriggerConcurrency => (maxWaitMs === undefined ? { mode: 'supersede' } : { mode: 'supersede', maxWaitMs });
const skipIfPending: TriggerConcurrency = { mode: 'skipIfPending' };

async function insertOne(store: PostgresStore, trigger: NewTrigger, now: Date): Promise<InsertedTrigger> {
  const [inserted] = await store.insertTriggers([trigger], now);
  if (!inserted) throw new Error('insertTriggers answered nothing');
  return inserted;
}

const pendingOf = async (store: PostgresStore, key = 'job-1') => (await store.listTriggers('acc_1', { entityKey: key, status: 'pending' })).items;

const draft = (overrides: Partial<RuleDraft> = {}): RuleDraft => ({
  name: 'r',
  enabled: true,
  trigger: { eventName: 'job.updated', key: '$.job.id' },
  delay: { value: 5, unit: 'minutes' },
  conditions: { all: [] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }],
  ...overrides,
});

async function explain(schema: string, text: string, values: unknown[]): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Tiny tables are scanned whatever the indexes: forbid that, so only an unusable index shows.
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query(`EXPLAIN ${text}`, values);
    void schema;
    return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

describe.skipIf(!url)('postgres store: entities, concurrency and cancel (issue 16)', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(pool, schema).catch(() => undefined);
    await pool?.end();
  });

  describe('migration', () => {
    it('upgrades a version-1 schema in place: old rows read as before, new columns and indexes exist', async () => {
      const schema = fresh();
      const s = `"${schema}"`;
      await pool.query(`CREATE SCHEMA ${s}`);
      for (const m of MIGRATIONS.filter((x) => x.version === 1 && (x.component === 'rules' || x.component === 'triggers'))) await pool.query(m.sql(s));
      await pool.query(`CREATE TABLE ${s}.schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
      await pool.query(`INSERT INTO ${s}.schema_migrations (component, version, name) VALUES ('rules', 1, 'rules table'), ('triggers', 1, 'triggers table')`);
      await pool.query(`
        INSERT INTO ${s}.rules (account_id, name, enabled, event_name, delay_value, delay_unit, conditions, actions, version, created_at, updated_at)
        VALUES ('acc_1', 'old', true, 'job.updated', 5, 'minutes', '{"all":[]}', '[]', 1, now(), now())`);
      await pool.query(`
        INSERT INTO ${s}.triggers (account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, execution_history, sent_actions, created_at, updated_at)
        VALUES ('acc_1', '1', 1, 'e-old', 'pending', now(), 0, '{"id":"e-old","name":"job.updated","timestamp":"2030-01-01T00:00:00.000Z","payload":{}}', '[]', '{}', now(), now())`);

      const store = createPostgresStore({ pool, schema });
      const report = await store.ensureSchema();
      expect(report.applied.map((m) => `${m.component}:${m.version}`)).toEqual(['deliveries:1', 'rules:2', 'triggers:2', 'rules:3', 'triggers:3', 'contact:1', 'contact:2']);
      const [rule] = await store.findRulesForEvent('acc_1', 'job.updated');
      expect(rule).toMatchObject({ name: 'old', trigger: { eventName: 'job.updated' } });
      expect(rule).not.toHaveProperty('cancelOn');
      expect(rule?.trigger).not.toHaveProperty('key');
      const [trigger] = (await store.listTriggers('acc_1', {})).items;
      expect(trigger).toMatchObject({ status: 'pending', triggeringEvent: { id: 'e-old' } });
      expect(trigger).not.toHaveProperty('entityKey');
      expect(trigger).not.toHaveProperty('firstEventAt');
      expect(trigger).not.toHaveProperty('cancelRequested');
      expect(trigger).not.toHaveProperty('schedule');
      expect(rule).not.toHaveProperty('schedule');
      const { rows } = await pool.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`, [schema]);
      expect(rows.map((r: { indexname: string }) => r.indexname)).toEqual(expect.arrayContaining(['rules_for_cancel_event', 'triggers_pending_slot', 'triggers_by_entity']));
      expect((await store.ensureSchema()).applied).toEqual([]);
    });

    it('accepts indexes an operator built beforehand (CONCURRENTLY), and refuses one left invalid by a failed build', async () => {
      const schema = fresh();
      const s = `"${schema}"`;
      const v1 = createPostgresStore({ pool, schema });
      await pool.query(`CREATE SCHEMA ${s}`);
      await pool.query(`CREATE TABLE ${s}.schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
      for (const m of MIGRATIONS.filter((x) => x.version === 1 && (x.component === 'rules' || x.component === 'triggers'))) {
        await pool.query(m.sql(s));
        await pool.query(`INSERT INTO ${s}.schema_migrations (component, version, name) VALUES ($1, $2, $3)`, [m.component, m.version, m.name]);
      }
      await pool.query(`ALTER TABLE ${s}.triggers ADD COLUMN entity_key text, ADD COLUMN pending_slot text`);
      await pool.query(`CREATE INDEX CONCURRENTLY triggers_by_entity ON ${s}.triggers (account_id, entity_key, rule_id, status) WHERE entity_key IS NOT NULL`);
      // Two rows holding one slot: the unique build fails and leaves an invalid index behind.
      for (const id of ['a', 'b']) {
        await pool.query(
          `INSERT INTO ${s}.triggers (account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, execution_history, sent_actions, created_at, updated_at, pending_slot)
           VALUES ('acc_1', 'r', 1, $1, 'pending', now(), 0, '{}', '[]', '{}', now(), now(), 'job-1')`,
          [id],
        );
      }
      await expect(pool.query(`CREATE UNIQUE INDEX CONCURRENTLY triggers_pending_slot ON ${s}.triggers (account_id, rule_id, pending_slot) WHERE pending_slot IS NOT NULL`)).rejects.toThrow(/duplicate|unique/i);
      await expect(v1.ensureSchema()).rejects.toThrow(/invalid/);
      await pool.query(`DROP INDEX ${s}.triggers_pending_slot`);
      await pool.query(`UPDATE ${s}.triggers SET pending_slot = NULL WHERE event_id = 'b'`);
      const report = await v1.ensureSchema();
      expect(report.applied.map((m) => `${m.component}:${m.version}`)).toEqual(['deliveries:1', 'rules:2', 'triggers:2', 'rules:3', 'triggers:3', 'contact:1', 'contact:2']);
      const { rows } = await pool.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname IN ('triggers_by_entity', 'triggers_pending_slot') ORDER BY 1`, [schema]);
      expect(rows).toEqual([{ indexname: 'triggers_by_entity' }, { indexname: 'triggers_pending_slot' }]);
    });
  });

  describe('rules', () => {
    it('keep trigger.key, cancelOn, concurrency and evaluate, and are found by trigger or cancelOn name, once each', async () => {
      const store = await storeOn();
      const cancelOn = [{ eventName: 'job.cancelled' }, { eventName: 'job.updated', conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'open' }] }, key: '$.job.ref' }];
      const starting = await store.insertRule('acc_1', draft({ cancelOn, concurrency: { mode: 'supersede', maxWait: { value: 30, unit: 'minutes' } }, evaluate: { job: 'current' } }), T0);
      expect(starting).toMatchObject({ trigger: { eventName: 'job.updated', key: '$.job.id' }, cancelOn, concurrency: { mode: 'supersede', maxWait: { value: 30, unit: 'minutes' } }, evaluate: { job: 'current' } });
      expect(await store.getRule('acc_1', starting.id)).toEqual(starting);
      const cancelsOnly = await store.insertRule('acc_1', draft({ trigger: { eventName: 'job.created', key: '$.job.id' }, cancelOn: [{ eventName: 'job.cancelled' }], evaluate: 'current' }), T0);
      const plain = await store.insertRule('acc_1', draft({ trigger: { eventName: 'job.created' } }), T0);
      expect(plain).not.toHaveProperty('cancelOn');
      expect(plain).not.toHaveProperty('concurrency');
      expect(plain).not.toHaveProperty('evaluate');
      await store.insertRule('acc_1', draft({ enabled: false, cancelOn: [{ eventName: 'job.cancelled' }] }), T0);
      await store.insertRule('acc_2', draft({ cancelOn: [{ eventName: 'job.cancelled' }] }), T0);
      // An account whose id ends like another's event name: the keys still tell them apart.
      await store.insertRule('acc_1:job', draft({ cancelOn: [{ eventName: 'cancelled' }] }), T0);

      const ids = async (name: string, account = 'acc_1') => (await store.findRulesForEvent(account, name)).map((r) => r.id).sort();
      const [updated, cancelled, created] = await Promise.all([ids('job.updated'), ids('job.cancelled'), ids('job.created')]);
      expect(updated).toEqual([starting.id]);
      expect(cancelled).toEqual([starting.id, cancelsOnly.id].sort());
      expect(created).toEqual([cancelsOnly.id, plain.id].sort());
      expect(await ids('cancelled', 'acc_1')).toEqual([]);
      expect(await ids('job:cancelled', 'acc_1')).toEqual([]);

      const replaced = await store.replaceRule('acc_1', cancelsOnly.id, draft({ trigger: { eventName: 'job.created', key: '$.job.id' }, cancelOn: [{ eventName: 'job.closed' }] }), { now: at(1) });
      expect(replaced.ok).toBe(true);
      expect(await ids('job.cancelled')).toEqual([starting.id]);
      expect(await ids('job.closed')).toEqual([cancelsOnly.id]);
      const cleared = await store.replaceRule('acc_1', cancelsOnly.id, draft({ trigger: { eventName: 'job.created' } }), { now: at(2) });
      expect(cleared.ok && cleared.rule).not.toHaveProperty('cancelOn');
      expect(await ids('job.closed')).toEqual([]);
    });

    it('find cancelling rules through the GIN index of cancel event keys', async () => {
      const schema = fresh();
      const store = await storeOn(schema);
      await store.insertRule('acc_1', draft({ cancelOn: [{ eventName: 'job.cancelled' }] }), T0);
      // An account with many rules, few of which cancel on the name: the planner's choice on real statistics.
      await pool.query(`
        INSERT INTO "${schema}".rules (account_id, name, enabled, event_name, delay_value, delay_unit, conditions, actions, version, created_at, updated_at, cancel_event_keys)
        SELECT 'acc_1', 'r' || n, true, 'job.updated', 5, 'minutes', '{"all":[]}', '[]', 1, now(), now(), ARRAY['acc_1:other.' || n]
        FROM generate_series(1, 3000) AS n`);
      await pool.query(`ANALYZE "${schema}".rules`);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query(
          `EXPLAIN SELECT id FROM "${schema}".rules r JOIN unnest($1::text[], $2::text[]) AS w(account_id, event_name)
           ON r.cancel_event_keys @> ARRAY[w.account_id || ':' || w.event_name] AND r.account_id = w.account_id AND r.enabled`,
          [['acc_1'], ['job.cancelled']],
        );
        expect(rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')).toMatch(/rules_for_cancel_event/);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });
  });

  describe('keyed triggers without a concurrency mode', () => {
    it('store the entity key and first event time, take no pending slot, and are listed by entity', async () => {
      const store = await storeOn();
      const [a, b, other, unkeyed] = await store.insertTriggers(
        [keyed('e1', 0), keyed('e2', 10), keyed('e3', 20, { key: 'job-2' }), { ...keyed('e4', 30), entityKey: undefined }],
        at(100),
      );
      expect(a).toMatchObject({ created: true, outcome: 'created', trigger: { entityKey: 'job-1', firstEventAt: at(0), status: 'pending' } });
      expect(b?.trigger).toMatchObject({ entityKey: 'job-1', firstEventAt: at(10) });
      expect(unkeyed?.trigger).not.toHaveProperty('entityKey');
      expect(unkeyed?.trigger).not.toHaveProperty('firstEventAt');
      expect((await pendingOf(store)).map((t) => t.id)).toEqual([b?.trigger.id, a?.trigger.id]);
      expect((await store.listTriggers('acc_1', { entityKey: 'job-2' })).items.map((t) => t.id)).toEqual([other?.trigger.id]);
      expect((await store.listTriggers('acc_1', { entityKey: 'job-1', ruleId: 'rule-2' })).items).toEqual([]);
      expect(await store.getTrigger('acc_1', a?.trigger.id as string)).toEqual(a?.trigger);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${store.schema}".triggers WHERE pending_slot IS NOT NULL`);
      expect(rows[0].n).toBe(0);
    });

    it('are listed by entity and cancelled by entity through the entity index', async () => {
      const schema = fresh();
      await storeOn(schema);
      const sql = keyedStatements(`"${schema}"`);
      const cancelPlan = await explain(schema, sql.cancel.text, ['acc_1', 'job-1', 'rule-1', T0.toISOString(), '{"id":"c","name":"n"}', T0.toISOString(), 'w', T0.toISOString(), null]);
      expect(cancelPlan.match(/triggers_by_entity/g)).toHaveLength(2);
      // An account with many triggers over many entities: the planner's choice on real statistics.
      await pool.query(`
        INSERT INTO "${schema}".triggers (account_id, rule_id, rule_version, event_id, status, evaluate_at, attempt, triggering_event, execution_history, sent_actions, created_at, updated_at, entity_key)
        SELECT 'acc_1', 'rule-' || (n % 5), 1, 'e' || n, 'completed', now(), 1, '{}', '[]', '{}', now(), now(), 'job-' || (n % 2000)
        FROM generate_series(1, 20000) AS n`);
      await pool.query(`ANALYZE "${schema}".triggers`);
      const listPlan = await explain(schema, `SELECT id FROM "${schema}".triggers WHERE account_id = $1 AND entity_key = $2 ORDER BY id DESC LIMIT 51`, ['acc_1', 'job-1']);
      expect(listPlan).toMatch(/triggers_by_entity/);
      const slotPlan = await explain(schema, `SELECT id FROM "${schema}".triggers WHERE account_id = $1 AND rule_id = $2 AND pending_slot = $3 FOR UPDATE`, ['acc_1', 'rule-1', 'job-1']);
      expect(slotPlan).toMatch(/triggers_pending_slot/);
    });
  });

  describe('supersede', () => {
    it('replaces the pending trigger with a newer event, keeps the first event time, caps the due time at maxWait; an older event is stale; a redelivery changes nothing', async () => {
      const store = await storeOn();
      const maxWait = 150_000;
      const first = await insertOne(store, keyed('e1', 0, { concurrency: supersede(maxWait) }), at(1));
      expect(first).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', entityKey: 'job-1', firstEventAt: at(0), evaluateAt: at(DELAY) } });
      expect(first).not.toHaveProperty('pendingTriggerId');

      const second = await insertOne(store, keyed('e2', 50_000, { concurrency: supersede(maxWait) }), at(50_001));
      expect(second).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: first.trigger.id });
      expect(second.trigger).toMatchObject({ status: 'pending', firstEventAt: at(0), evaluateAt: at(50_000 + DELAY), executionHistory: [] });
      const replaced = await store.getTrigger('acc_1', first.trigger.id);
      expect(replaced?.status).toBe('cancelled');
      expect(replaced?.executionHistory).toEqual([
        { at: at(50_001), attempt: 0, outcome: 'superseded', reason: 'superseded', triggerId: second.trigger.id, event: { id: 'e2', name: 'job.updated' } },
      ]);

      // 120 s after the first event + 60 s delay is past the 150 s maxWait: capped.
      const third = await insertOne(store, keyed('e3', 120_000, { concurrency: supersede(maxWait) }), at(120_001));
      expect(third).toMatchObject({ outcome: 'superseded', pendingTriggerId: second.trigger.id, trigger: { firstEventAt: at(0), evaluateAt: at(maxWait) } });

      const late = await insertOne(store, keyed('e-late', 100_000, { concurrency: supersede(maxWait) }), at(130_000));
      expect(late).toMatchObject({ created: true, outcome: 'stale', pendingTriggerId: third.trigger.id, trigger: { status: 'cancelled' } });
      expect(late.trigger.executionHistory).toEqual([{ at: at(130_000), attempt: 0, outcome: 'superseded', reason: 'stale', triggerId: third.trigger.id }]);
      // As new as the pending one: stale too.
      expect((await insertOne(store, keyed('e-same', 120_000, { concurrency: supersede(maxWait) }), at(130_000))).outcome).toBe('stale');

      const again = await insertOne(store, keyed('e2', 50_000, { concurrency: supersede(maxWait) }), at(140_000));
      expect(again).toMatchObject({ created: false, outcome: 'redelivered', trigger: { id: second.trigger.id, status: 'cancelled' } });
      expect((await insertOne(store, keyed('e-late', 100_000, { concurrency: supersede(maxWait) }), at(140_000))).outcome).toBe('redelivered');

      expect((await pendingOf(store)).map((t) => t.id)).toEqual([third.trigger.id]);
      expect(await store.getTrigger('acc_1', third.trigger.id)).toEqual(third.trigger);
    });

    it('keeps entities, rules and accounts apart, and decides a batch for one entity in batch order', async () => {
      const store = await storeOn();
      const results = await store.insertTriggers(
        [
          keyed('a1', 0, { concurrency: supersede() }),
          keyed('b1', 0, { key: 'job-2', concurrency: supersede() }),
          keyed('a2', 10, { concurrency: supersede() }),
          keyed('r1', 0, { ruleId: 'rule-2', concurrency: supersede() }),
          { ...keyed('x1', 0, { concurrency: supersede() }), accountId: 'acc_2' },
          keyed('a0', 5, { concurrency: supersede() }),
          keyed('plain', 0),
        ],
        at(100),
      );
      expect(results.map((r) => r.outcome)).toEqual(['created', 'created', 'superseded', 'created', 'created', 'stale', 'created']);
      expect(results[2]?.pendingTriggerId).toBe(results[0]?.trigger.id);
      expect(results[5]?.pendingTriggerId).toBe(results[2]?.trigger.id);
      expect((await pendingOf(store)).map((t) => t.triggeringEvent.id).sort()).toEqual(['a2', 'plain', 'r1']);
    });

    it('starts a new pending trigger when the pending one was claimed (processing is not pending)', async () => {
      const store = await storeOn();
      const first = await insertOne(store, keyed('e1', 0, { concurrency: supersede() }), at(1));
      const [claimed] = await store.claimDueTriggers({ now: at(DELAY), limit: 10, leaseMs: 60_000, owner: 'w' });
      expect(claimed).toMatchObject({ id: first.trigger.id, entityKey: 'job-1', firstEventAt: at(0) });
      expect(claimed).not.toHaveProperty('cancelRequested');
      const second = await insertOne(store, keyed('e2', 10, { concurrency: supersede() }), at(DELAY + 1));
      expect(second).toMatchObject({ outcome: 'created', trigger: { status: 'pending', firstEventAt: at(10) } });
      // A retrying one is not pending either, and a failed one retried by hand takes no slot.
      expect(await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, { status: 'failed', sentActions: [], now: at(DELAY + 2), history: { at: at(DELAY + 2), attempt: 1, outcome: 'failed' } })).toBe(true);
      const retried = await store.transitionTrigger('acc_1', first.trigger.id, { from: ['failed'], to: 'pending', history: { at: at(DELAY + 3), attempt: 1, outcome: 'retry-requested', by: 'user' }, now: at(DELAY + 3) });
      expect(retried.ok).toBe(true);
      expect((await insertOne(store, keyed('e3', 20, { concurrency: supersede() }), at(DELAY + 4))).pendingTriggerId).toBe(second.trigger.id);
      expect((await pendingOf(store)).map((t) => t.triggeringEvent.id).sort()).toEqual(['e1', 'e3']);
    });

    it('frees a slot still held by a trigger an engine of the previous version claimed (rolling upgrade), merged or alone', async () => {
      const store = await storeOn();
      const s = `"${store.schema}"`;
      const oldClaim = (id: string) => pool.query(`UPDATE ${s}.triggers SET status = 'processing', attempt = 1, lease_token = 'old', lease_expires_at = $2 WHERE id = $1`, [id, at(600_000)]);
      const first = await insertOne(store, keyed('e1', 0, { concurrency: supersede() }), at(1));
      await oldClaim(first.trigger.id);
      const second = await insertOne(store, keyed('e2', 10, { concurrency: supersede() }), at(11));
      expect(second).toMatchObject({ created: true, outcome: 'created', trigger: { status: 'pending', firstEventAt: at(10) } });
      expect(second).not.toHaveProperty('pendingTriggerId');
      const held = await store.getTrigger('acc_1', first.trigger.id);
      expect(held).toMatchObject({ status: 'processing', attempt: 1, executionHistory: [] });
      // The statement that decides a trigger alone (after a conflict) does the same.
      await oldClaim(second.trigger.id);
      const sql = keyedStatements(s);
      const event = JSON.stringify({ id: 'e3', name: 'job.updated', timestamp: at(20), payload: {} });
      const { rows } = await pool.query(sql.insertKeyed.text, ['acc_1', 'rule-1', 'job-1', 'supersede', event, at(20 + DELAY).toISOString(), null, 1, null, at(21).toISOString(), 'nobody', at(21).toISOString(), null, false]);
      expect(rows[0]).toMatchObject({ outcome: 'created', pending_id: null, status: 'pending' });
      const slots = await pool.query(`SELECT event_id, status FROM ${s}.triggers WHERE pending_slot IS NOT NULL`);
      expect(slots.rows).toEqual([{ event_id: 'e3', status: 'pending' }]);
    });

    it('frees the slot when a user cancels the pending trigger', async () => {
      const store = await storeOn();
      const first = await insertOne(store, keyed('e1', 0, { concurrency: supersede() }), at(1));
      const cancelled = await store.transitionTrigger('acc_1', first.trigger.id, { from: ['pending', 'retrying'], to: 'cancelled', history: { at: at(2), attempt: 0, outcome: 'cancelled', by: 'user' }, now: at(2) });
      expect(cancelled.ok).toBe(true);
      // An older event than the cancelled one: nothing pending, so it is created.
      expect((await insertOne(store, keyed('e0', -10, { concurrency: supersede() }), at(3))).outcome).toBe('created');
    });
  });

  describe('skipIfPending', () => {
    it('records an event that arrives while one is pending as skipped, naming the pending trigger; a redelivery of either is recognised', async () => {
      const store = await storeOn();
      const first = await insertOne(store, keyed('e1', 0, { concurrency: skipIfPending }), at(1));
      expect(first.outcome).toBe('created');
      const second = await insertOne(store, keyed('e2', 10, { concurrency: skipIfPending }), at(11));
      expect(second).toMatchObject({ created: true, outcome: 'skipped', pendingTriggerId: first.trigger.id, trigger: { status: 'skipped', entityKey: 'job-1', firstEventAt: at(10) } });
      expect(second.trigger.executionHistory).toEqual([
        { at: at(11), attempt: 0, outcome: 'skipped', reason: 'pending-exists', triggerId: first.trigger.id, event: { id: 'e2', name: 'job.updated' } },
      ]);
      expect((await store.getTrigger('acc_1', first.trigger.id))?.executionHistory).toEqual([]);
      expect(await insertOne(store, keyed('e2', 10, { concurrency: skipIfPending }), at(12))).toMatchObject({ created: false, outcome: 'redelivered', trigger: { id: second.trigger.id } });
      expect(await insertOne(store, keyed('e1', 0, { concurrency: skipIfPending }), at(12))).toMatchObject({ created: false, outcome: 'redelivered', trigger: { id: first.trigger.id } });
      expect((await pendingOf(store)).map((t) => t.id)).toEqual([first.trigger.id]);
    });
  });

  describe('keyed intake of one store', () => {
    it('shares statements among the calls of one turn: triggers of one entity decided in call order, each call answered with its own', async () => {
      const store = await storeOn();
      // 60 calls at once, 2 triggers each, over 6 entities; event times grow with the call number.
      const calls = Array.from({ length: 60 }, (_, c) =>
        store.insertTriggers(
          [keyed(`m${c}a`, c * 10, { key: `job-${c % 6}`, concurrency: supersede() }), keyed(`m${c}b`, c * 10 + 1, { key: `job-${(c + 3) % 6}`, concurrency: skipIfPending, ruleId: 'rule-2' })],
          at(10_000),
        ),
      );
      const results = await Promise.all(calls);
      results.forEach((pair, c) => {
        expect(pair.map((r) => r.trigger.triggeringEvent.id)).toEqual([`m${c}a`, `m${c}b`]);
        // In call order: the first six calls find each slot empty, every later one finds it held.
        expect(pair[0]?.outcome).toBe(c < 6 ? 'created' : 'superseded');
        expect(pair[1]?.outcome).toBe(c < 6 ? 'created' : 'skipped');
      });
      for (let k = 0; k < 6; k++) {
        const pending = await store.listTriggers('acc_1', { entityKey: `job-${k}`, status: 'pending' });
        // The newest supersede event of the entity (call 54..59) and the first skipIfPending one (call 0..5).
        expect(pending.items.map((t) => t.triggeringEvent.id).sort()).toEqual([`m${54 + k}a`, `m${(k + 3) % 6}b`].sort());
      }
      // A redelivery within the same turn is recognised too.
      const [again, fresh] = await Promise.all([store.insertTriggers([keyed('m59a', 590, { key: 'job-5', concurrency: supersede() })], at(20_000)), store.insertTriggers([keyed('m60a', 600, { key: 'job-5', concurrency: supersede() })], at(20_000))]);
      expect(again[0]).toMatchObject({ created: false, outcome: 'redelivered' });
      expect(fresh[0]).toMatchObject({ created: true, outcome: 'superseded', pendingTriggerId: again[0]?.trigger.id });
    });

    it('fails only the call that carried a value PostgreSQL refuses, when calls share a statement', async () => {
      const store = await storeOn();
      const bad = keyed('bad', 0, { key: 'job-9', concurrency: supersede() });
      const [good, refused] = await Promise.allSettled([
        store.insertTriggers([keyed('good', 0, { concurrency: supersede() })], at(1)),
        store.insertTriggers([{ ...bad, triggeringEvent: { ...bad.triggeringEvent, payload: { note: 'a\u0000b' } } }], at(1)),
      ]);
      expect(good.status === 'fulfilled' && good.value[0]?.outcome).toBe('created');
      expect(refused.status === 'rejected' && (refused.reason as { code?: string }).code).toBe('CRM_ERR_EVENT_INVALID');
      expect((await store.listTriggers('acc_1', { entityKey: 'job-9' })).items).toEqual([]);
    });
  });

  describe('exactly one pending trigger under concurrent intake', () => {
    const race = async (concurrency: TriggerConcurrency, rounds: number) => {
      const schema = fresh();
      // Four engines: a store each, on a pool each, as separate processes would have.
      const pools = Array.from({ length: 4 }, () => testPool(url as string, 2));
      const stores = pools.map((p) => createPostgresStore({ pool: p, schema }));
      try {
        await Promise.all(stores.map((s) => s.ensureSchema()));
        const outcomes: InsertedTrigger[][] = [];
        for (let round = 0; round < rounds; round++) {
          const key = `job-${round}`;
          // Eight events for one entity, two per engine, all at once; event times shuffled against arrival.
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) => insertOne(stores[i % 4] as PostgresStore, keyed(`e${round}-${i}`, ((i * 5) % 8) * 1_000, { key, concurrency }), at(10_000))),
          );
          outcomes.push(results);
          const pending = await pendingOf(stores[0] as PostgresStore, key);
          expect(pending).toHaveLength(1);
          expect((await stores[0]?.listTriggers('acc_1', { entityKey: key }))?.items).toHaveLength(8);
        }
        return { outcomes, store: stores[0] as PostgresStore };
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await Promise.all(pools.map((p) => p.end()));
      }
    };

    it('supersede: 8 concurrent inserts through 4 stores leave one pending trigger, the newest event, and every other one cancelled with its reason', async () => {
      const { outcomes } = await race(supersede(), 6);
      for (const results of outcomes) {
        expect(results.every((r) => r.created)).toBe(true);
        const newest = results.find((r) => r.trigger.triggeringEvent.timestamp.getTime() === at(7_000).getTime());
        expect(newest?.trigger.status).toBe('pending');
        // Each insert's outcome is one of the decisions, and exactly one ended up holding the slot.
        expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
        for (const r of results) expect(['created', 'superseded', 'stale']).toContain(r.outcome);
        expect(results.filter((r) => r.outcome === 'stale').every((r) => r.trigger.status === 'cancelled' && r.pendingTriggerId !== undefined)).toBe(true);
      }
    });

    it('skipIfPending: 8 concurrent inserts through 4 stores leave one pending trigger and 7 skipped ones naming it', async () => {
      const { outcomes } = await race(skipIfPending, 6);
      for (const results of outcomes) {
        const created = results.filter((r) => r.outcome === 'created');
        expect(created).toHaveLength(1);
        const skipped = results.filter((r) => r.outcome === 'skipped');
        expect(skipped).toHaveLength(7);
        expect(skipped.every((r) => r.pendingTriggerId === created[0]?.trigger.id && r.trigger.status === 'skipped')).toBe(true);
      }
    });

    it('supersede with redeliveries: 8 inserts of 3 events at once make 3 triggers and one pending, the newest', async () => {
      const schema = fresh();
      const pools = Array.from({ length: 4 }, () => testPool(url as string, 2));
      const stores = pools.map((p) => createPostgresStore({ pool: p, schema }));
      try {
        await Promise.all(stores.map((s) => s.ensureSchema()));
        for (let round = 0; round < 4; round++) {
          const key = `job-${round}`;
          const results = await Promise.all(Array.from({ length: 8 }, (_, i) => insertOne(stores[i % 4] as PostgresStore, keyed(`e${round}-${i % 3}`, (i % 3) * 1_000, { key, concurrency: supersede() }), at(10_000))));
          expect(results.filter((r) => r.created)).toHaveLength(3);
          expect(results.filter((r) => !r.created).every((r) => r.outcome === 'redelivered')).toBe(true);
          const pending = await pendingOf(stores[0] as PostgresStore, key);
          expect(pending.map((t) => t.triggeringEvent.id)).toEqual([`e${round}-2`]);
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await Promise.all(pools.map((p) => p.end()));
      }
    });
  });

  describe('cancelTriggers', () => {
    const cancelBy = (eventMs: number, key = 'job-1') => ({
      accountId: 'acc_1',
      ruleId: 'rule-1',
      entityKey: key,
      eventTimestamp: at(eventMs),
      event: { id: `cancel-${eventMs}`, name: 'job.cancelled' },
      now: at(eventMs + 1),
      by: 'engine-a',
    });

    it('cancels pending and retrying triggers with an older event, marks processing ones, leaves newer events and other entities alone', async () => {
      const store = await storeOn();
      const [pendingOld, retryingOld, processingOld, pendingNew] = await store.insertTriggers([keyed('p', 0), keyed('r', 1_000), keyed('x', 2_000), keyed('n', 9_000)], at(10));
      await store.insertTriggers([keyed('other', 0, { key: 'job-2' }), keyed('other-rule', 0, { ruleId: 'rule-2' })], at(10));
      // Move r to retrying and x to processing: claim both (and nothing else) with an early clock.
      await pool.query(`UPDATE "${store.schema}".triggers SET evaluate_at = $1 WHERE event_id IN ('r', 'x')`, [at(-100_000)]);
      const claimed = await store.claimDueTriggers({ now: at(-50_000), limit: 10, leaseMs: 600_000, owner: 'w' });
      expect(claimed.map((c) => c.triggeringEvent.id).sort()).toEqual(['r', 'x']);
      const r = claimed.find((c) => c.triggeringEvent.id === 'r');
      const x = claimed.find((c) => c.triggeringEvent.id === 'x');
      expect(await store.finishAttempt(r?.id as string, r?.leaseToken as string, { status: 'retrying', evaluateAt: at(500_000), sentActions: [], now: at(-40_000), history: { at: at(-40_000), attempt: 1, outcome: 'retrying' } })).toBe(true);

      const result = await store.cancelTriggers(cancelBy(5_000));
      expect(result.cancelled.map((t) => t.id)).toEqual([pendingOld?.trigger.id, retryingOld?.trigger.id]);
      expect(result.requested.map((t) => t.id)).toEqual([processingOld?.trigger.id]);
      const history: HistoryEntry = { at: at(5_001), attempt: 0, outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'cancel-5000', name: 'job.cancelled' }, by: 'engine-a' };
      expect(result.cancelled[0]).toMatchObject({ status: 'cancelled', executionHistory: [history] });
      expect(result.cancelled[1]?.executionHistory.at(-1)).toEqual({ ...history, attempt: 1 });
      expect(result.requested[0]).toMatchObject({ status: 'processing', cancelRequested: { event: { id: 'cancel-5000', name: 'job.cancelled' }, at: at(5_001) } });
      expect((await store.getTrigger('acc_1', processingOld?.trigger.id as string))?.leaseExpiresAt).toEqual(x?.leaseExpiresAt);
      expect((await store.getTrigger('acc_1', pendingNew?.trigger.id as string))?.status).toBe('pending');
      expect((await store.listTriggers('acc_1', { entityKey: 'job-2', status: 'pending' })).items).toHaveLength(1);
      expect((await store.listTriggers('acc_1', { ruleId: 'rule-2', status: 'pending' })).items).toHaveLength(1);

      // A late, older cancel touches nothing newer; a second cancel keeps the first request.
      expect(await store.cancelTriggers(cancelBy(500))).toEqual({ cancelled: [], requested: [] });
      expect(await store.cancelTriggers(cancelBy(5_500))).toMatchObject({ cancelled: [], requested: [{ id: processingOld?.trigger.id, cancelRequested: { event: { id: 'cancel-5000' } } }] });

      // The worker holding x: a retry is stored cancelled (the engine may also end it cancelled itself).
      expect(await store.finishAttempt(x?.id as string, x?.leaseToken as string, { status: 'retrying', evaluateAt: at(600_000), sentActions: [0], now: at(6_000), history: { at: at(6_000), attempt: 1, outcome: 'retrying', by: 'w' } })).toBe(true);
      const after = await store.getTrigger('acc_1', x?.id as string);
      expect(after?.status).toBe('cancelled');
      expect(after?.sentActions).toEqual([0]);
      expect(after?.executionHistory).toEqual([
        { at: at(6_000), attempt: 1, outcome: 'retrying', by: 'w' },
        { at: at(6_000), attempt: 1, outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'cancel-5000', name: 'job.cancelled' }, by: 'w' },
      ]);
    });

    it('frees the pending slot: the next event for the entity starts a new pending trigger', async () => {
      const store = await storeOn();
      const first = await insertOne(store, keyed('e1', 0, { concurrency: supersede() }), at(1));
      expect((await store.cancelTriggers(cancelBy(100))).cancelled.map((t) => t.id)).toEqual([first.trigger.id]);
      expect(await insertOne(store, keyed('e2', 50, { concurrency: supersede() }), at(200))).toMatchObject({ outcome: 'created', trigger: { firstEventAt: at(50) } });
    });

    it('answers text it cannot hold with nothing cancelled', async () => {
      const store = await storeOn();
      expect(await store.cancelTriggers({ ...cancelBy(1), entityKey: 'a\u0000b' })).toEqual({ cancelled: [], requested: [] });
    });
  });

  describe('finishAttempt', () => {
    it('accepts cancelled as a final status, like any other', async () => {
      const store = await storeOn();
      await insertOne(store, keyed('e1', 0, { concurrency: supersede() }), at(1));
      const [claimed] = await store.claimDueTriggers({ now: at(DELAY), limit: 1, leaseMs: 60_000, owner: 'w' });
      const history: HistoryEntry = { at: at(DELAY + 1), attempt: 1, outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'c', name: 'job.cancelled' }, by: 'w' };
      expect(await store.finishAttempts([{ id: claimed?.id as string, leaseToken: claimed?.leaseToken as string, result: { status: 'cancelled', sentActions: [1], now: at(DELAY + 1), history } }])).toEqual([true]);
      expect(await store.getTrigger('acc_1', claimed?.id as string)).toMatchObject({ status: 'cancelled', sentActions: [1], executionHistory: [history] });
      expect(await store.nextDueAt()).toBeNull();
    });
  });
});
