import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { isAutomationError, type NewTrigger, type RuleDraft } from '@crm-automation/core';
import { createPostgresDeliveryLedger, createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore, type PostgresStore } from '../src/index.js';
import { triggerStatements } from '../src/trigger-statements.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';

const url = postgresUrl();
let pool: pg.Pool;
const schemas: string[] = [];
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const fresh = (prefix = 'crm_store') => {
  const schema = uniqueSchema(prefix);
  schemas.push(schema);
  return schema;
};

const trigger = (eventId: string, evaluateAt: Date, payload: Record<string, unknown> = { job: { id: eventId } }): NewTrigger => ({
  accountId: 'acc_1',
  ruleId: 'rule-1',
  ruleVersion: 1,
  evaluateAt,
  triggeringEvent: { id: eventId, name: 'job.created', timestamp: T0, payload },
});

const draft = (overrides: Partial<RuleDraft> = {}): RuleDraft => ({
  name: 'r',
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }],
  ...overrides,
});

async function errorOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAutomationError(error)) throw new Error(`expected an AutomationError, got ${String(error)}`);
  return error;
}

const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe.skipIf(!url)('postgres store', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(pool, schema).catch(() => undefined);
    await pool?.end();
  });

  describe('ensureSchema', () => {
    it('applies each migration once, and reports nothing to do the second time', async () => {
      const schema = fresh();
      const store = createPostgresStore({ pool, schema });
      const first = await store.ensureSchema();
      expect(first).toEqual({
        schema,
        applied: [
          { component: 'rules', version: 1, name: 'rules table' },
          { component: 'triggers', version: 1, name: 'triggers table' },
          { component: 'deliveries', version: 1, name: 'deliveries table' },
          { component: 'rules', version: 2, name: 'entity keys, cancel events, concurrency and evaluation of rules' },
          { component: 'triggers', version: 2, name: 'entity keys, pending slots and cancel requests of triggers' },
          { component: 'rules', version: 3, name: 'schedules of rules' },
          { component: 'triggers', version: 3, name: 'schedules of triggers' },
          { component: 'contact', version: 1, name: 'contact policies, suppressions and cap counters' },
          { component: 'contact', version: 2, name: 'send throttles' },
        ],
        versions: { rules: 3, triggers: 3, deliveries: 1, contact: 2 },
      });
      const second = await store.ensureSchema();
      expect(second).toEqual({ schema, applied: [], versions: { rules: 3, triggers: 3, deliveries: 1, contact: 2 } });
      const { rows } = await pool.query(`SELECT component, version FROM "${schema}".schema_migrations ORDER BY component, version`);
      expect(rows).toEqual([
        { component: 'contact', version: 1 },
        { component: 'contact', version: 2 },
        { component: 'deliveries', version: 1 },
        { component: 'rules', version: 1 },
        { component: 'rules', version: 2 },
        { component: 'rules', version: 3 },
        { component: 'triggers', version: 1 },
        { component: 'triggers', version: 2 },
        { component: 'triggers', version: 3 },
      ]);
    });

    it('is serialized when 4 processes call it at once: one applies the migrations, the others find them applied', async () => {
      const schema = fresh();
      // One pool each, as separate processes would have.
      const pools = Array.from({ length: 4 }, () => testPool(url as string, 2));
      try {
        const reports = await Promise.all(pools.map((p) => createPostgresStore({ pool: p, schema }).ensureSchema()));
        expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, 9]);
        expect(reports.every((r) => r.versions.rules === 3 && r.versions.triggers === 3 && r.versions.deliveries === 1 && r.versions.contact === 2)).toBe(true);
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
        expect(rows[0].n).toBe(9);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it('creates only the tables of the stores that ask: rules, triggers, deliveries, contact policy and idempotency keys are separate components', async () => {
      const schema = fresh();
      const tables = async () => (await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])).rows.map((r) => r.table_name);
      expect((await createPostgresRuleStore({ pool, schema }).ensureSchema()).applied.map((m) => m.component)).toEqual(['rules', 'rules', 'rules']);
      expect(await tables()).toEqual(['rules', 'schema_migrations']);
      expect((await createPostgresTriggerStore({ pool, schema }).ensureSchema()).applied.map((m) => m.component)).toEqual(['triggers', 'deliveries', 'triggers', 'triggers']);
      expect(await tables()).toEqual(['deliveries', 'rules', 'schema_migrations', 'triggers']);
      // The whole store adds only what the two did not need: the contact policy tables.
      expect((await createPostgresStore({ pool, schema }).ensureSchema()).applied.map((m) => m.component)).toEqual(['contact', 'contact']);
      expect(await tables()).toEqual(['contact_counts', 'contact_policies', 'deliveries', 'rules', 'schema_migrations', 'send_throttles', 'suppression_changes', 'suppressions', 'triggers']);
      // A ledger on its own (a receipts service) finds the trigger store's deliveries table in place.
      expect((await createPostgresDeliveryLedger({ pool, schema }).ensureSchema()).applied).toEqual([]);
      const alone = fresh();
      expect((await createPostgresDeliveryLedger({ pool, schema: alone }).ensureSchema()).applied.map((m) => m.component)).toEqual(['deliveries']);
    });

    it('dropSchema() removes the schema and everything in it', async () => {
      const schema = fresh();
      const store = createPostgresStore({ pool, schema });
      await store.ensureSchema();
      await store.dropSchema();
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = $1`, [schema]);
      expect(rows[0].n).toBe(0);
      await store.dropSchema();
      expect((await store.ensureSchema()).applied).toHaveLength(9);
    });

    it('says to call ensureSchema() when the tables are missing', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      const error = await errorOf(store.insertRule('acc_1', draft(), T0));
      expect(error.code).toBe('CRM_ERR_CONFIG');
      expect(error.message).toMatch(/ensureSchema\(\)/);
      expect((await errorOf(store.claimDueTriggers({ now: T0, limit: 10, leaseMs: 1_000, owner: 'w' }))).code).toBe('CRM_ERR_CONFIG');
    });
  });

  describe('pools', () => {
    it('never ends a handed pool; ends the pool it opened from a connection string', async () => {
      const handed = testPool(url as string, 2);
      const schema = fresh();
      const store = createPostgresStore({ pool: handed, schema });
      await store.ensureSchema();
      const unwatch = await store.watchDue(() => undefined);
      await store.close();
      expect(handed.ended).toBe(false);
      expect((await handed.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      // The LISTEN connection went back to the pool on close().
      expect(handed.totalCount - handed.idleCount).toBe(0);
      await unwatch();
      await handed.end();

      const owned = createPostgresStore({ connectionString: url as string, schema });
      await owned.getRule('acc_1', '1');
      await owned.close();
      expect(owned.pool.ended).toBe(true);
    });

    it('keeps the prepared statements of stores on different schemas apart on one pool', async () => {
      const a = createPostgresStore({ pool, schema: fresh() });
      const b = createPostgresStore({ pool, schema: fresh() });
      await Promise.all([a.ensureSchema(), b.ensureSchema()]);
      const ruleA = await a.insertRule('acc_1', draft({ name: 'in a' }), T0);
      const ruleB = await b.insertRule('acc_1', draft({ name: 'in b' }), T0);
      expect(ruleA.id).toBe('1');
      expect(ruleB.id).toBe('1');
      for (let i = 0; i < 3; i++) {
        expect((await a.getRule('acc_1', '1'))?.name).toBe('in a');
        expect((await b.getRule('acc_1', '1'))?.name).toBe('in b');
      }
    });
  });

  describe('claims', () => {
    it('read the due and lease partial indexes (the predicates match the statement)', async () => {
      const schema = fresh();
      const store = createPostgresStore({ pool, schema });
      await store.ensureSchema();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // Tiny tables are scanned whatever the indexes: forbid that, so only an unusable index shows.
        await client.query('SET LOCAL enable_seqscan = off');
        const { rows } = await client.query(`EXPLAIN ${triggerStatements(`"${schema}"`).claim.text}`, [T0.toISOString(), 100, at(1_000).toISOString(), 'w']);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).toMatch(/Index Scan using triggers_due/);
        expect(plan).toMatch(/Index Scan using triggers_leases/);
        expect(plan).toMatch(/LockRows/);
        const next = (await client.query(`EXPLAIN ${triggerStatements(`"${schema}"`).nextDue.text}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(next).toMatch(/triggers_due/);
        expect(next).toMatch(/triggers_leases/);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });

    it('return a batch in claim order (expired leases by expiry, then due triggers by time, then id) with the values stored', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      await store.insertTriggers([trigger('e1', T0), trigger('e2', T0)], T0);
      const leased = await store.claimDueTriggers({ now: T0, limit: 2, leaseMs: 1_000, owner: 'w' });
      expect(leased).toHaveLength(2);
      const traced = { ...trigger('d1', at(500)), trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } };
      await store.insertTriggers([traced, trigger('d2', at(500)), trigger('d3', at(200))], at(100));
      const claimed = await store.claimDueTriggers({ now: at(2_000), limit: 10, leaseMs: 60_000, owner: 'w2' });
      expect(claimed.map((c) => c.triggeringEvent.id)).toEqual(['e1', 'e2', 'd3', 'd1', 'd2']);
      expect(claimed.map((c) => c.attempt)).toEqual([2, 2, 1, 1, 1]);
      const [, , d3, d1] = claimed;
      expect(d3).toMatchObject({ accountId: 'acc_1', ruleId: 'rule-1', ruleVersion: 1, status: 'processing', evaluateAt: at(200), createdAt: at(100), updatedAt: at(2_000), leaseExpiresAt: at(62_000), executionHistory: [], sentActions: [] });
      expect(d3?.triggeringEvent).toEqual({ id: 'd3', name: 'job.created', timestamp: T0, payload: { job: { id: 'd3' } } });
      expect(d3 && 'trace' in d3).toBe(false);
      expect(d1?.trace).toEqual(traced.trace);
      expect(new Set(claimed.map((c) => c.leaseToken)).size).toBe(5);
      expect(claimed.every((c) => /^\d+$/.test(c.id))).toBe(true);
    });

    it('keep instants to the millisecond, before 1970 and after 2038 too', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      const dues = [new Date('1969-12-31T23:59:59.999Z'), new Date('0001-01-01T00:00:00.001Z'), new Date('2106-02-07T06:28:15.123Z')];
      await store.insertTriggers(dues.map((d, i) => trigger(`t${i}`, d)), new Date('1900-06-30T12:00:00.457Z'));
      const claimed = await store.claimDueTriggers({ now: new Date('2200-01-01T00:00:00Z'), limit: 10, leaseMs: 1_000, owner: 'w' });
      expect(claimed.map((c) => c.evaluateAt)).toEqual([dues[1], dues[0], dues[2]]);
      expect(claimed.map((c) => c.createdAt)).toEqual(dues.map(() => new Date('1900-06-30T12:00:00.457Z')));
    });

    it('use the engine time given, not the server clock', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      // Due in the year 2999 by the server's clock; the engine says it is 3000.
      await store.insertTriggers([trigger('future', new Date('2999-06-01T00:00:00Z'))], T0);
      expect(await store.claimDueTriggers({ now: new Date('2999-05-31T00:00:00Z'), limit: 10, leaseMs: 1_000, owner: 'w' })).toEqual([]);
      const [claimed] = await store.claimDueTriggers({ now: new Date('3000-01-01T00:00:00Z'), limit: 10, leaseMs: 1_000, owner: 'w' });
      expect(claimed?.leaseExpiresAt).toEqual(new Date('3000-01-01T00:00:01Z'));
    });
  });

  describe('outcomes', () => {
    it('reach the rows by primary key whatever the planner guesses of the input', async () => {
      const schema = fresh();
      const store = createPostgresStore({ pool, schema });
      await store.ensureSchema();
      for (let i = 0; i < 5_000; i += 1_000) await store.insertTriggers(Array.from({ length: 1_000 }, (_, k) => trigger(`p${i + k}`, T0)), T0);
      const claimed = await store.claimDueTriggers({ now: T0, limit: 2, leaseMs: 60_000, owner: 'w' });
      await pool.query(`ANALYZE "${schema}".triggers`);
      const outcomes = claimed.map((c, p) => ({ p, id: c.id, token: c.leaseToken, status: 'completed', evaluate_at: null, updated_at: T0.toISOString(), history: { at: T0 }, sent: [] }));
      const plan = (await pool.query(`EXPLAIN ${triggerStatements(`"${schema}"`).finish.text}`, [JSON.stringify(outcomes)])).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/triggers_pkey/);
      expect(plan).not.toMatch(/Seq Scan on triggers/);
    });

    it('are written one statement at a time per store: calls made meanwhile share the next one, each answered with its own results', async () => {
      const own = testPool(url as string);
      let inFlight = 0;
      let mostInFlight = 0;
      let statements = 0;
      const query = own.query.bind(own) as (config: { text?: string }) => Promise<unknown>;
      // Observes the finish statements the store sends through its pool.
      (own as unknown as { query: typeof query }).query = async (config) => {
        const isFinish = typeof config === 'object' && config.text?.includes('jsonb_to_recordset') === true;
        if (!isFinish) return query(config);
        statements += 1;
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await query(config);
        } finally {
          inFlight -= 1;
        }
      };
      try {
        const store = createPostgresStore({ pool: own, schema: fresh() });
        await store.ensureSchema();
        await store.insertTriggers(Array.from({ length: 300 }, (_, i) => trigger(`w${i}`, T0)), T0);
        const claimed = await store.claimDueTriggers({ now: T0, limit: 300, leaseMs: 60_000, owner: 'w' });
        const result = (i: number) => ({ status: 'completed' as const, sentActions: [0], now: at(1), history: { at: at(1), attempt: 1, outcome: 'completed' as const, reason: `r${i}` } });
        const requests = claimed.map((c, i) => ({ id: c.id, leaseToken: c.leaseToken, result: result(i) }));
        // One turn: 5 calls, one statement. A call's own answers, in its order (an unknown token and a malformed id are false).
        const first = requests.slice(0, 100);
        const calls = [0, 1, 2, 3, 4].map((k) => first.slice(k * 20, k * 20 + 20));
        const mixed = [...(calls[2] as typeof first)];
        mixed.splice(1, 0, { ...(mixed[0] as (typeof first)[number]), leaseToken: 'not-a-token' }, { ...(mixed[0] as (typeof first)[number]), id: 'x1' });
        calls[2] = mixed;
        const answers = await Promise.all(calls.map((c) => store.finishAttempts(c)));
        expect(statements).toBe(1);
        expect(answers.map((a) => a.length)).toEqual([20, 20, 22, 20, 20]);
        expect(answers[2]?.slice(0, 4)).toEqual([true, false, false, true]);
        expect(answers.flat().filter(Boolean)).toHaveLength(100);
        // Calls spread over many turns while statements run: never two statements at once, and fewer statements than calls.
        const rest = requests.slice(100);
        const spread = [];
        for (let k = 0; k < rest.length; k += 10) {
          spread.push(store.finishAttempts(rest.slice(k, k + 10)));
          await new Promise((resolve) => setImmediate(resolve));
        }
        const later = await Promise.all(spread);
        expect(later.flat()).toEqual(rest.map(() => true));
        expect(mostInFlight).toBe(1);
        expect(statements).toBeLessThan(1 + spread.length);
        const stored = await store.getTrigger('acc_1', claimed[150]?.id as string);
        expect(stored?.executionHistory.map((h) => h.reason)).toEqual(['r150']);
        expect(stored?.status).toBe('completed');
      } finally {
        await own.end();
      }
    });

    it('fail only the call that carried a refused value, or an invalid outcome, when calls share a statement', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      await store.insertTriggers(['o1', 'o2', 'o3', 'o4'].map((id) => trigger(id, T0)), T0);
      const claimed = await store.claimDueTriggers({ now: T0, limit: 4, leaseMs: 60_000, owner: 'w' });
      const finish = (c: (typeof claimed)[number] | undefined, reason: string, status = 'completed') =>
        store.finishAttempts([{ id: c?.id as string, leaseToken: c?.leaseToken as string, result: { status: status as 'completed', sentActions: [], now: at(1), history: { at: at(1), attempt: 1, outcome: 'completed', reason } } }]);
      const settled = await Promise.allSettled([finish(claimed[0], 'fine'), finish(claimed[1], 'nul \u0000 here'), finish(claimed[2], 'fine'), finish(claimed[3], 'fine', 'processing')]);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect(settled[0]?.status === 'fulfilled' && settled[0].value).toEqual([true]);
      expect(settled[2]?.status === 'fulfilled' && settled[2].value).toEqual([true]);
      expect(settled[3]?.status === 'rejected' && isAutomationError(settled[3].reason) && settled[3].reason.code).toBe('CRM_ERR_CONFIG');
      const statuses = await Promise.all(claimed.map(async (c) => (await store.getTrigger('acc_1', c.id))?.status));
      expect(statuses).toEqual(['completed', 'processing', 'completed', 'processing']);
    });

    it('keep sent action indexes sorted and without repeats', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      await store.insertTriggers([trigger('s', T0)], T0);
      const [first] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 1_000, owner: 'w' });
      const history = { at: T0, attempt: 1, outcome: 'retrying' as const };
      expect(await store.finishAttempt(first?.id as string, first?.leaseToken as string, { status: 'retrying', evaluateAt: at(10), sentActions: [2, 0, 2], now: T0, history })).toBe(true);
      const [second] = await store.claimDueTriggers({ now: at(10), limit: 1, leaseMs: 1_000, owner: 'w' });
      expect(second?.sentActions).toEqual([0, 2]);
      expect(second?.executionHistory).toEqual([history]);
      expect(await store.finishAttempt(second?.id as string, second?.leaseToken as string, { status: 'completed', sentActions: [3, 1, 0], now: at(20), history: { ...history, at: at(20), attempt: 2, outcome: 'completed' } })).toBe(true);
      expect((await store.getTrigger('acc_1', first?.id as string))?.sentActions).toEqual([0, 1, 2, 3]);
    });
  });

  describe('intake', () => {
    it('creates one trigger when 8 processes (pools of their own) ingest the same event at once', async () => {
      const schema = fresh();
      const pools = Array.from({ length: 8 }, () => testPool(url as string, 1));
      try {
        const stores = pools.map((p) => createPostgresStore({ pool: p, schema }));
        await stores[0]?.ensureSchema();
        for (let round = 0; round < 5; round++) {
          const results = (await Promise.all(stores.map((s) => s.insertTriggers([trigger(`race_${round}`, T0), trigger(`solo_${round}_${Math.random()}`, T0)], T0)))).map((r) => r[0]);
          expect(results.filter((r) => r?.created)).toHaveLength(1);
          expect(new Set(results.map((r) => r?.trigger.id)).size).toBe(1);
          const first = results.find((r) => r?.created)?.trigger;
          expect(results.every((r) => r?.trigger.createdAt.getTime() === first?.createdAt.getTime())).toBe(true);
        }
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".triggers WHERE event_id LIKE 'race_%'`);
        expect(rows[0].n).toBe(5);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it('merges concurrent calls into statements of at most 5,000 rows, each call answered with its own triggers in order', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      const calls = [0, 1, 2].map((c) => store.insertTriggers(Array.from({ length: 3_000 }, (_, i) => trigger(`c${c}_${i}`, at(i))), T0));
      const results = await Promise.all(calls);
      results.forEach((inserted, c) => {
        expect(inserted).toHaveLength(3_000);
        expect(inserted.every((r, i) => r.created && r.trigger.triggeringEvent.id === `c${c}_${i}` && r.trigger.evaluateAt.getTime() === at(i).getTime())).toBe(true);
      });
      const ids = results.flat().map((r) => Number(r.trigger.id));
      expect(new Set(ids).size).toBe(9_000);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${store.schema}".triggers`);
      expect(rows[0].n).toBe(9_000);
      // Within a call, ids follow the batch order.
      for (const inserted of results) {
        const callIds = inserted.map((r) => Number(r.trigger.id));
        expect(callIds).toEqual([...callIds].sort((a, b) => a - b));
      }
    });
  });

  describe('what PostgreSQL cannot store', () => {
    let store: PostgresStore;
    beforeAll(async () => {
      store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
    });

    it('refuses U+0000 in an event with CRM_ERR_EVENT_INVALID and stores nothing of the batch', async () => {
      const error = await errorOf(store.insertTriggers([trigger('fine', T0), trigger('nul', T0, { text: 'a\u0000b' })], T0));
      expect(error.code).toBe('CRM_ERR_EVENT_INVALID');
      expect((await store.listTriggers('acc_1', {})).items.filter((t) => ['fine', 'nul'].includes(t.triggeringEvent.id))).toEqual([]);
    });

    it('fails only the call that carried it when concurrent intakes share a statement', async () => {
      const calls = ['m1', 'm2', 'm_bad', 'm3'].map((id) => store.insertTriggers([trigger(id, T0, id === 'm_bad' ? { text: '\u0000' } : { ok: true })], T0));
      const settled = await Promise.allSettled(calls);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(settled[2]?.status === 'rejected' && isAutomationError(settled[2].reason) && settled[2].reason.code).toBe('CRM_ERR_EVENT_INVALID');
      const stored = (await store.listTriggers('acc_1', {})).items.map((t) => t.triggeringEvent.id).sort();
      expect(stored).toEqual(['m1', 'm2', 'm3']);
      // Each call got its own triggers back.
      const ids = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value.map((i) => i.trigger.triggeringEvent.id) : []));
      expect(ids).toEqual(['m1', 'm2', 'm3']);
    });

    it('refuses U+0000 in a rule with CRM_ERR_RULE_INVALID', async () => {
      expect((await errorOf(store.insertRule('acc_1', draft({ name: 'a\u0000b' }), T0))).code).toBe('CRM_ERR_RULE_INVALID');
      const rule = await store.insertRule('acc_1', draft(), T0);
      expect((await errorOf(store.replaceRule('acc_1', rule.id, draft({ conditions: { all: [{ fact: 'x', operator: 'equal', value: '\u0000' }] } }), { now: at(1) }))).code).toBe('CRM_ERR_RULE_INVALID');
      expect((await store.getRule('acc_1', rule.id))?.version).toBe(1);
    });

    it('answers lookups by text it cannot hold as not found', async () => {
      expect(await store.getRule('acc\u0000', '1')).toBeNull();
      expect(await store.findRulesForEvent('acc_1', 'job\u0000')).toEqual([]);
      expect((await store.listRules('acc\u0000', {})).items).toEqual([]);
      expect((await store.listTriggers('acc_1', { ruleId: 'r\u0000' })).items).toEqual([]);
      expect(await store.finishAttempt('1', 'to\u0000ken', { status: 'completed', sentActions: [], now: T0, history: { at: T0, attempt: 1, outcome: 'completed' } })).toBe(false);
    });

    it('answers a lease token with a lone surrogate (which it could not have issued) false, like any unknown token', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      const [created] = await store.insertTriggers([trigger('lone', T0)], T0);
      const [claimed] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 60_000, owner: 'w' });
      expect(claimed?.id).toBe(created?.trigger.id);
      const result = { status: 'completed' as const, sentActions: [], now: T0, history: { at: T0, attempt: 1, outcome: 'completed' as const } };
      expect(await store.finishAttempts([{ id: claimed?.id as string, leaseToken: `${claimed?.leaseToken as string}\uD800`, result }, { id: claimed?.id as string, leaseToken: claimed?.leaseToken as string, result }])).toEqual([false, true]);
    });

    it('refuses due times outside the years 1 to 9999 with CRM_ERR_CONFIG', async () => {
      for (const bad of [new Date('+010000-01-01T00:00:00Z'), new Date('-000001-01-01T00:00:00Z')]) {
        expect((await errorOf(store.insertTriggers([trigger(`far_${bad.getTime()}`, bad)], T0))).code).toBe('CRM_ERR_CONFIG');
      }
    });
  });

  describe('retention', () => {
    it('purges finished triggers by status and age as the policy says, and leaves the rest', async () => {
      const store = createPostgresStore({ pool, schema: fresh(), retention: { completedMs: 60_000, skippedMs: 1_000 } });
      await store.ensureSchema();
      await store.insertTriggers(['c_old', 'c_new', 's_old', 'f_old', 'p'].map((id) => trigger(id, T0)), T0);
      const claimed = await store.claimDueTriggers({ now: T0, limit: 4, leaseMs: 600_000, owner: 'w' });
      const byEvent = new Map(claimed.map((c) => [c.triggeringEvent.id, c]));
      const finish = (eventId: string, status: 'completed' | 'skipped' | 'failed', when: Date) => {
        const c = byEvent.get(eventId);
        if (!c) throw new Error(`not claimed: ${eventId}`);
        return store.finishAttempt(c.id, c.leaseToken, { status, sentActions: [], now: when, history: { at: when, attempt: 1, outcome: status } });
      };
      await finish('c_old', 'completed', T0);
      await finish('c_new', 'completed', at(100_000));
      await finish('s_old', 'skipped', T0);
      await finish('f_old', 'failed', T0);
      expect(await store.purgeExpired(at(120_000))).toBe(2);
      const left = (await store.listTriggers('acc_1', { limit: 10 })).items.map((t) => t.triggeringEvent.id).sort();
      expect(left).toEqual(['c_new', 'f_old', 'p']);
      // startRetention runs the same purge on its own.
      const handle = store.startRetention({ intervalMs: 20, now: () => at(10_000_000) });
      await waitFor('the periodic purge', async () => (await store.listTriggers('acc_1', {})).items.length === 2);
      await handle.stop();
      await store.close();
      expect(await createPostgresStore({ pool, schema: fresh() }).purgeExpired()).toBe(0);
    });
  });

  describe('wake-ups', () => {
    it('reach a watcher on another pool (another process), and survive the LISTEN connection being killed', async () => {
      const schema = fresh();
      const listenerPool = testPool(url as string, 2);
      const watching = createPostgresStore({ pool: listenerPool, schema });
      const writing = createPostgresStore({ pool, schema });
      await writing.ensureSchema();
      const seen: Date[] = [];
      const unwatch = await watching.watchDue((dueAt) => seen.push(dueAt));
      try {
        await writing.insertTriggers([trigger('a', at(5_000)), trigger('b', at(3_000))], T0);
        await waitFor('the first notification', () => seen.length > 0);
        expect(seen).toEqual([at(3_000)]);
        // A redelivery creates nothing and notifies nothing.
        await writing.insertTriggers([trigger('a', at(5_000))], T0);

        const killed = await pool.query(`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`, [`LISTEN "${schema}_due"`]);
        expect(killed.rows).toEqual([{ killed: true }]);
        // After reconnecting, the watcher reports the earliest due time it may have missed.
        await waitFor('the catch-up after reconnecting', () => seen.length >= 2);
        expect(seen[1]).toEqual(at(3_000));
        await writing.insertTriggers([trigger('c', at(1_000))], T0);
        await waitFor('a notification on the new connection', () => seen.some((d) => d.getTime() === at(1_000).getTime()));
      } finally {
        await unwatch();
        await watching.close();
        await listenerPool.end();
      }
      // Unwatched: the connection is gone from the server.
      const listening = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${schema}_due"`]);
      expect(listening.rows[0].n).toBe(0);
    });

    it('notify a manual retry (back to pending) like an intake', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      await store.ensureSchema();
      const [inserted] = await store.insertTriggers([trigger('x', T0)], T0);
      const [claimed] = await store.claimDueTriggers({ now: T0, limit: 1, leaseMs: 60_000, owner: 'w' });
      await store.finishAttempt(claimed?.id as string, claimed?.leaseToken as string, { status: 'failed', sentActions: [], now: at(1), history: { at: at(1), attempt: 1, outcome: 'failed' } });
      const seen: Date[] = [];
      const unwatch = await store.watchDue((d) => seen.push(d));
      seen.length = 0;
      const retried = await store.transitionTrigger('acc_1', inserted?.trigger.id as string, { from: ['failed'], to: 'pending', evaluateAt: at(7_000), now: at(2), history: { at: at(2), attempt: 1, outcome: 'retry-requested', by: 'user' } });
      expect(retried.ok).toBe(true);
      await waitFor('the retry notification', () => seen.length > 0);
      expect(seen).toEqual([at(7_000)]);
      await unwatch();
      await store.close();
    });
  });
});
