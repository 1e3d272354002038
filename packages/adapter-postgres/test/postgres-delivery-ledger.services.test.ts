import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createAutomationEngine, createRecordingChannel, isAutomationError, type NewDelivery } from '@crm-automation/core';
import { describeDeliveryLedgerContract, expectRacingWritersConsistent } from '@crm-automation/testing';
import { createPostgresDeliveryLedger, createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore, MALFORMED_IDS, type PostgresDeliveryLedger, type PostgresStoreOptions } from '../src/index.js';
import { deliveryStatements } from '../src/delivery-statements.js';
import { ACCOUNT, at, intent, T0, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { dropSchema, postgresUrl, testPool, uniqueSchema } from './postgres-server.js';
import { proxiedUrl, startTcpProxy } from './tcp-proxy.js';

const url = postgresUrl();
let pool: pg.Pool;
const schemas: string[] = [];
const opened: Array<{ close(): Promise<void> }> = [];

const fresh = (prefix = 'crm_ledger') => {
  const schema = uniqueSchema(prefix);
  schemas.push(schema);
  return schema;
};

/** A fresh schema per contract test, dropped after it; the ledgers share the file's pool and must not end it. */
function factoryOf<S extends { ensureSchema(): Promise<unknown>; close(): Promise<void> }>(make: (options: { pool: pg.Pool; schema: string }) => S) {
  return async () => {
    const schema = uniqueSchema('crm_ledger_contract');
    const store = make({ pool, schema });
    await store.ensureSchema();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(pool, schema);
      },
    };
  };
}

async function openLedger(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresDeliveryLedger> {
  const ledger = createPostgresDeliveryLedger({ pool, schema: fresh(), ...options });
  opened.push(ledger);
  await ledger.ensureSchema();
  return ledger;
}

const rowsOf = async (schema: string) =>
  (await pool.query<{ id: string; state: string; action_index: number; provider_id: string | null; recipient: string | null; events: unknown }>(`SELECT id, state, action_index, provider_id, recipient, events FROM "${schema}".deliveries ORDER BY id`)).rows;

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as Error & { code?: string; retryable?: boolean },
  );

describe.skipIf(!url)('postgres delivery ledger', () => {
  beforeAll(() => {
    pool = testPool(url as string);
  });
  afterAll(async () => {
    for (const ledger of opened.reverse()) await ledger.close().catch(() => undefined);
    for (const schema of schemas) await dropSchema(pool, schema).catch(() => undefined);
    await pool?.end();
  });

  // The ledger the engine finds on the combined store and on the trigger store, and the ledger on its own.
  describeDeliveryLedgerContract('postgres store', factoryOf(createPostgresStore), { malformedIds: MALFORMED_IDS });
  describeDeliveryLedgerContract('postgres trigger store', factoryOf(createPostgresTriggerStore), { malformedIds: MALFORMED_IDS });
  describeDeliveryLedgerContract('postgres delivery ledger', factoryOf(createPostgresDeliveryLedger), { malformedIds: MALFORMED_IDS });

  describe('rows and statements', () => {
    it('stores one row per intent with bigint ids in batch order, events as JSONB, absent fields as NULL', async () => {
      const ledger = await openLedger();
      const recorded = await ledger.recordIntents(Array.from({ length: 30 }, (_, i) => intent({ actionIndex: i, idempotencyKey: `trigger-1:${i}`, ...(i % 2 ? { recipient: undefined } : {}) })));
      expect(recorded.map((d) => d.actionIndex)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      const rows = await rowsOf(ledger.schema);
      expect(rows.map((r) => [r.id, r.action_index])).toEqual(recorded.map((d) => [d.id, d.actionIndex]));
      expect(rows[0]).toMatchObject({ state: 'intent', provider_id: null, recipient: '+15557654321', events: [{ at: T0.toISOString(), state: 'intent', source: 'engine' }] });
      expect(rows[1]?.recipient).toBeNull();
      // What recordIntents answers is what a read returns.
      expect(await ledger.getDelivery(ACCOUNT, recorded[1]?.id as string)).toEqual(recorded[1]);
    });

    it('stores text PostgreSQL cannot hold (U+0000, lone surrogates) as U+FFFD, writes and lookups alike, instead of failing the batch', async () => {
      const ledger = await openLedger();
      const [a] = await ledger.recordIntents([intent({ recipient: 'bad\u0000@example.com', triggerId: 't\uD800' })]);
      expect(a?.recipient).toBe('bad\uFFFD@example.com');
      const error = { code: 'CRM_ERR_GATEWAY', message: 'provider said \u0000\uDC00', retryable: false, ['odd\u0000key']: 'x' };
      expect(await ledger.recordOutcomes([{ id: a?.id as string, state: 'refused', error, providerId: 'SM\u0000', at: at(1) }])).toEqual([true]);
      const [stored] = await ledger.deliveriesOfTrigger(ACCOUNT, 't\uD800');
      expect(stored).toMatchObject({ state: 'refused', providerId: 'SM\uFFFD', error: { message: 'provider said \uFFFD\uFFFD', ['odd\uFFFDkey']: 'x' } });
      expect((await ledger.listDeliveries(ACCOUNT, { recipient: 'bad\u0000@example.com' })).items).toHaveLength(1);
    });

    it('applies several outcomes for one delivery in one call in the order given: the first that applies wins', async () => {
      const ledger = await openLedger();
      const [a, b] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 })]);
      const applied = await ledger.recordOutcomes([
        { id: a?.id as string, state: 'accepted', providerId: 'SM1', at: at(1) },
        { id: b?.id as string, state: 'unknown', at: at(1) },
        { id: a?.id as string, state: 'refused', at: at(2) },
        { id: b?.id as string, state: 'accepted', at: at(2), source: 'reconcile' },
        { id: b?.id as string, state: 'refused', at: at(3), source: 'reconcile' },
      ]);
      expect(applied).toEqual([true, true, false, true, false]);
      expect((await ledger.getDelivery(ACCOUNT, a?.id as string))?.events.map((e) => e.state)).toEqual(['intent', 'accepted']);
      expect((await ledger.getDelivery(ACCOUNT, b?.id as string))?.events.map((e) => [e.state, e.source])).toEqual([['intent', 'engine'], ['unknown', 'engine'], ['accepted', 'reconcile']]);
    });

    it('on the store, shares statements with attempt outcomes: each call its own answers, repeats in call order, a refused value fails only its call', async () => {
      const store = createPostgresStore({ pool, schema: fresh() });
      opened.push(store);
      await store.ensureSchema();
      const event = (id: string) => ({ accountId: ACCOUNT, ruleId: 'rule-1', ruleVersion: 1, evaluateAt: T0, triggeringEvent: { id, name: 'job.done', timestamp: T0, payload: {} } });
      await store.insertTriggers([event('e1'), event('e2')], T0);
      const claimed = await store.claimDueTriggers({ now: T0, limit: 2, leaseMs: 60_000, owner: 'w' });
      const [d0, d1] = await store.recordIntents([intent({ triggerId: claimed[0]?.id as string }), intent({ triggerId: claimed[1]?.id as string })]);
      const finish = (c: (typeof claimed)[number] | undefined, reason: string) =>
        store.finishAttempts([{ id: c?.id as string, leaseToken: c?.leaseToken as string, result: { status: 'completed', sentActions: [0], now: at(1), history: { at: at(1), attempt: 1, outcome: 'completed', reason } } }]);
      // All in one turn, as the claim loop and the ledger's recorder write them.
      const settled = await Promise.allSettled([
        finish(claimed[0], 'fine'),
        store.recordOutcomes([{ id: d0?.id as string, state: 'accepted', providerId: 'SM0', at: at(1) }]),
        // The same delivery again: written after the first, from which refused may not start.
        store.recordOutcomes([{ id: d0?.id as string, state: 'refused', at: at(1) }]),
        store.recordOutcomes([{ id: d1?.id as string, state: 'unknown', at: at(1) }]),
        finish(claimed[1], 'nul \u0000 here'),
      ]);
      expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([[true], [true], [false], [true], 'rejected']);
      expect((await store.getTrigger(ACCOUNT, claimed[0]?.id as string))?.status).toBe('completed');
      expect((await store.getTrigger(ACCOUNT, claimed[1]?.id as string))?.status).toBe('processing');
      expect((await store.getDelivery(ACCOUNT, d0?.id as string))?.events.map((e) => e.state)).toEqual(['intent', 'accepted']);
      expect((await store.getDelivery(ACCOUNT, d1?.id as string))?.state).toBe('unknown');
    });

    it('keeps one delivery consistent under racing writers: one outcome applies, receipts never move it back', async () => {
      const ledger = await openLedger();
      await expectRacingWritersConsistent(ledger);
    });

    it('finds receipts by our id only with a matching provider id, the latest send sharing a provider id, and ignores fields that are not strings', async () => {
      const ledger = await openLedger();
      const [a, resend] = await ledger.recordIntents([intent(), intent({ attempt: 2, at: at(5) })]);
      await ledger.recordOutcomes([{ id: a?.id as string, state: 'accepted', providerId: 'SM1', at: at(1) }, { id: resend?.id as string, state: 'accepted', providerId: 'SM1', at: at(6) }]);
      expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: a?.id as string, providerId: 'SM2', state: 'delivered', at: at(7) })).toEqual({ applied: false, reason: 'unknown-id' });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: { $ne: null } as unknown as string, state: 'delivered', at: at(7) })).toEqual({ applied: false, reason: 'unknown-id' });
      expect(await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'delivered', at: at(7) })).toMatchObject({ applied: true, delivery: { id: resend?.id } });
      expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: a?.id as string, providerId: 'SM1', state: 'bounced', at: at(8) })).toMatchObject({ applied: true, delivery: { id: a?.id, state: 'bounced' } });
      expect((await ledger.listDeliveries(ACCOUNT, { recipient: { $ne: null } as unknown as string })).items).toEqual([]);
    });

    it('counts an account\'s deliveries by state since a time', async () => {
      const ledger = await openLedger();
      const [a, b] = await ledger.recordIntents([intent(), intent({ actionIndex: 1 }), intent({ actionIndex: 2 })]);
      await ledger.recordIntents([intent({ accountId: 'acc_other' })]);
      await ledger.recordOutcomes([{ id: a?.id as string, state: 'accepted', at: at(10) }, { id: b?.id as string, state: 'refused', at: at(10) }]);
      expect(await ledger.countDeliveries(ACCOUNT, T0)).toEqual({ accepted: 1, refused: 1, intent: 1 });
      expect(await ledger.countDeliveries(ACCOUNT, at(5))).toEqual({ accepted: 1, refused: 1 });
    });

    it('reads through the index each query was made for (the partial-index predicates match the statements)', async () => {
      const ledger = await openLedger({ retention: { completedMs: 1_000, failedMs: 1_000 } });
      const sql = deliveryStatements(`"${ledger.schema}"`);
      const client = await pool.connect();
      const planOf = async (text: string, values: unknown[]) => (await client.query(`EXPLAIN ${text}`, values)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      try {
        await client.query('BEGIN');
        // Tiny tables are scanned whatever the indexes: forbid that, so only an unusable index shows.
        await client.query('SET LOCAL enable_seqscan = off');
        expect(await planOf(sql.stale.text, [T0.toISOString(), 10])).toMatch(/deliveries_stale/);
        expect(await planOf(sql.ofTrigger.text, [ACCOUNT, 'trigger-1'])).toMatch(/deliveries_by_trigger/);
        expect(await planOf(sql.receiptByProviderId.text, ['twilio', 'SM1', 'delivered', ['accepted'], T0.toISOString(), '{}'])).toMatch(/deliveries_by_provider_id/);
        expect(await planOf(sql.outcomes.text, [JSON.stringify([{ p: 0, id: '1', from_states: ['intent'], state: 'accepted', provider: null, provider_id: null, error: null, event: {}, at: T0.toISOString() }])])).toMatch(/deliveries_pkey/);
        expect(await planOf(`SELECT id FROM "${ledger.schema}".deliveries WHERE state IN ('accepted', 'delivered') AND updated_at < $1::timestamptz`, [T0.toISOString()])).toMatch(/deliveries_settled/);
        expect(await planOf(`SELECT id FROM "${ledger.schema}".deliveries WHERE account_id = $1 ORDER BY id DESC LIMIT 51`, [ACCOUNT])).toMatch(/deliveries_by_account/);
        expect(await planOf(`SELECT id FROM "${ledger.schema}".deliveries WHERE account_id = $1 AND recipient = $2 ORDER BY id DESC LIMIT 51`, [ACCOUNT, 'a@example.com'])).toMatch(/deliveries_by_recipient/);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });
  });

  describe('intent calls made together (group commit)', () => {
    it('share statements, and each call gets its own deliveries in its own order', async () => {
      const counted = testPool(url as string);
      let inserts = 0;
      const query = counted.query.bind(counted) as (...args: unknown[]) => unknown;
      (counted as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const config = args[0] as { text?: unknown } | string;
        if (/INSERT INTO \S+\.deliveries/.test(typeof config === 'string' ? config : String(config.text))) inserts += 1;
        return query(...args);
      };
      const ledger = createPostgresDeliveryLedger({ pool: counted, schema: fresh() });
      try {
        await ledger.ensureSchema();
        // 16 calls of 32 at once, as core flushes a wave of 512 sends: a few statements, not 16.
        const calls = Array.from({ length: 16 }, (_, c) => Array.from({ length: 32 }, (_, i) => intent({ triggerId: `t-${c}`, actionIndex: i, idempotencyKey: `t-${c}:${i}` })));
        const answers = await Promise.all(calls.map((batch) => ledger.recordIntents(batch)));
        expect(inserts).toBeGreaterThan(0);
        expect(inserts).toBeLessThanOrEqual(3);
        answers.forEach((deliveries, c) => {
          expect(deliveries.map((d) => [d.triggerId, d.actionIndex])).toEqual(calls[c]?.map((i) => [i.triggerId, i.actionIndex]));
        });
        // What each call answers is what a read returns.
        for (const [c, deliveries] of answers.entries()) expect(await ledger.deliveriesOfTrigger(ACCOUNT, `t-${c}`)).toEqual(deliveries);
        const ids = answers.flat().map((d) => BigInt(d.id));
        expect(new Set(ids).size).toBe(16 * 32);
      } finally {
        await ledger.close();
        await counted.end();
      }
    });

    it('a value the server refuses fails the call that carried it, not the calls sharing its statement', async () => {
      const ledger = await openLedger();
      await pool.query(`CREATE UNIQUE INDEX test_only_unique_key ON "${ledger.schema}".deliveries (idempotency_key)`);
      // Held back behind two inserts in flight, the next three calls share one statement.
      const first = [ledger.recordIntents([intent({ triggerId: 'a', idempotencyKey: 'a' })]), ledger.recordIntents([intent({ triggerId: 'b', idempotencyKey: 'b' })])];
      const good = ledger.recordIntents([intent({ triggerId: 'c', idempotencyKey: 'c1' }), intent({ triggerId: 'c', actionIndex: 1, idempotencyKey: 'c2' })]);
      const refused = errorOf(ledger.recordIntents([intent({ triggerId: 'd', idempotencyKey: 'd' }), intent({ triggerId: 'd', actionIndex: 1, idempotencyKey: 'd' })]));
      const alsoGood = ledger.recordIntents([intent({ triggerId: 'e', idempotencyKey: 'e' })]);
      await Promise.all(first);
      expect((await good).map((d) => d.idempotencyKey)).toEqual(['c1', 'c2']);
      expect((await alsoGood).map((d) => d.triggerId)).toEqual(['e']);
      const error = await refused;
      expect(error.code).toBe('23505');
      expect(error.retryable).toBeUndefined();
      expect((await pool.query<{ trigger_id: string }>(`SELECT trigger_id FROM "${ledger.schema}".deliveries ORDER BY id`)).rows.map((r) => r.trigger_id).sort()).toEqual(['a', 'b', 'c', 'c', 'e']);
    });

    it('a bad value in one call refuses that call at once, before anything is sent', async () => {
      const ledger = await openLedger();
      const [bad, ok] = await Promise.allSettled([ledger.recordIntents([intent(), intent({ at: new Date(Number.NaN) })]), ledger.recordIntents([intent({ triggerId: 'ok' })])]);
      expect(bad.status === 'rejected' && isAutomationError(bad.reason) && bad.reason.code).toBe('CRM_ERR_CONFIG');
      expect(ok.status === 'fulfilled' && ok.value.map((d) => d.triggerId)).toEqual(['ok']);
      expect((await rowsOf(ledger.schema)).length).toBe(1);
    });
  });

  describe('intent batches that fail', () => {
    it('writes nothing of a batch the server refuses, and does not call it retryable', async () => {
      const ledger = await openLedger();
      // A unique index the ledger does not have makes the second row of the batch fail at the server.
      await pool.query(`CREATE UNIQUE INDEX test_only_unique_key ON "${ledger.schema}".deliveries (idempotency_key)`);
      const error = await errorOf(ledger.recordIntents([intent({ idempotencyKey: 'k1' }), intent({ idempotencyKey: 'k1' }), intent({ idempotencyKey: 'k3' })]));
      expect(error.code).toBe('23505');
      expect(error.retryable).toBeUndefined();
      expect(await rowsOf(ledger.schema)).toEqual([]);
      // Before ensureSchema(): a configuration error, not a transient one.
      const missing = createPostgresDeliveryLedger({ pool, schema: fresh() });
      const config = await errorOf(missing.recordIntents([intent()]));
      expect(isAutomationError(config) && config.code).toBe('CRM_ERR_CONFIG');
      expect(isAutomationError(config) && config.retryable).toBe(false);
    });

    it('a lost reply after the insert committed: retryable, and its intents removed before any read sees them', async () => {
      const target = proxiedUrl(url as string);
      const proxy = await startTcpProxy(target);
      const schema = fresh();
      const ledger = createPostgresDeliveryLedger({ connectionString: target.via(proxy.port), schema, poolConfig: { max: 2, connectionTimeoutMillis: 2_000 } });
      opened.push(ledger);
      try {
        await ledger.ensureSchema();
        await ledger.recordIntents([intent({ triggerId: 'warm-up' })]);
        // The server commits the insert, its reply never arrives, then the connection dies and no new one can be made.
        proxy.muteReplies();
        const failing = errorOf(ledger.recordIntents([intent(), intent({ actionIndex: 1, idempotencyKey: 'trigger-1:1' })]));
        await waitFor('the insert to commit', async () => (await rowsOf(schema)).length === 3, 10_000, 20);
        await proxy.cut();
        const error = await failing;
        expect(error.retryable).toBe(true);
        // The removal could not run: the rows are still there, as the server wrote them.
        expect((await rowsOf(schema)).map((r) => r.state)).toEqual(['intent', 'intent', 'intent']);

        await proxy.restore();
        // The next read of the trigger's sends removes them first: the retry finds nothing sent.
        expect(await ledger.deliveriesOfTrigger(ACCOUNT, 'trigger-1')).toEqual([]);
        expect((await rowsOf(schema)).length).toBe(1);
        expect(await ledger.staleIntents(at(10 ** 9), 10)).toHaveLength(1);

        // When the server is reachable again at once, the failing call removes what it wrote itself.
        proxy.muteReplies();
        const second = errorOf(ledger.recordIntents([intent({ triggerId: 'trigger-2' })]));
        await waitFor('the second insert to commit', async () => (await rowsOf(schema)).length === 2, 10_000, 20);
        await proxy.cut();
        await proxy.restore();
        expect((await second).retryable).toBe(true);
        expect((await rowsOf(schema)).length).toBe(1);
      } finally {
        await proxy.close();
      }
    });

    it('a server that cannot be reached: retryable, nothing written', async () => {
      const target = proxiedUrl(url as string);
      const proxy = await startTcpProxy(target);
      const schema = fresh();
      const ledger = createPostgresDeliveryLedger({ connectionString: target.via(proxy.port), schema, poolConfig: { max: 1, connectionTimeoutMillis: 2_000 } });
      opened.push(ledger);
      try {
        await ledger.ensureSchema();
        await proxy.cut();
        const error = await errorOf(ledger.recordIntents([intent()]));
        expect(error.retryable).toBe(true);
        // An outcome write that fails the same way is marked too (core logs it; the intent is reconciled).
        expect((await errorOf(ledger.recordOutcomes([{ id: '1', state: 'accepted', at: at(1) }]))).retryable).toBe(true);
        await proxy.restore();
        expect(await rowsOf(schema)).toEqual([]);
        expect(await ledger.recordIntents([intent()])).toHaveLength(1);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('retention', () => {
    it('purges settled deliveries by the trigger policy\'s ages, from their last move; never intents or unknown sends', async () => {
      const ledger = await openLedger({ retention: { completedMs: 60_000, failedMs: 120_000 } });
      const [sent, refused, unknown, waiting, bounced, abandoned] = await ledger.recordIntents([0, 1, 2, 3, 4, 5].map((i) => intent({ actionIndex: i })));
      await ledger.recordOutcomes([
        { id: sent?.id as string, state: 'accepted', providerId: 'SM0', at: at(1_000) },
        { id: refused?.id as string, state: 'refused', at: at(1_000) },
        { id: unknown?.id as string, state: 'unknown', at: at(1_000) },
        { id: bounced?.id as string, state: 'accepted', providerId: 'SM4', at: at(1_000) },
        { id: abandoned?.id as string, state: 'unknown', at: at(1_000) },
      ]);
      // A receipt moves a send to an age of its own: a bounce is kept as long as a failed trigger, from the bounce.
      await ledger.applyReceipt({ provider: 'twilio', providerId: 'SM4', state: 'bounced', at: at(2_000) });
      // Cancelled triggers are kept by this policy: so is a send an operator gave up.
      await ledger.resolveDelivery(ACCOUNT, abandoned?.id as string, { as: 'resend', at: at(1_000), by: 'ops' });
      // As for triggers: kept while last moved no longer ago than the policy's age.
      expect(await ledger.purgeExpired(at(61_000))).toBe(0);
      expect(await ledger.purgeExpired(at(61_001))).toBe(1);
      expect(await ledger.getDelivery(ACCOUNT, sent?.id as string)).toBeNull();
      expect(await ledger.purgeExpired(at(121_001))).toBe(1);
      const handle = ledger.startRetention({ intervalMs: 20, now: () => at(10 ** 9) });
      await waitFor('the periodic purge to remove the bounced send', async () => (await rowsOf(ledger.schema)).length === 3, 10_000, 20);
      await handle.stop();
      expect((await rowsOf(ledger.schema)).map((r) => r.state).sort()).toEqual(['abandoned', 'intent', 'unknown']);
      expect(waiting?.state).toBe('intent');
      // Without a policy, nothing is purged.
      const keeper = await openLedger();
      await keeper.recordIntents([intent()]);
      expect(await keeper.purgeExpired(at(10 ** 12))).toBe(0);
    });

    it('is one purge of finished triggers and settled deliveries on the combined and trigger stores', async () => {
      for (const make of [createPostgresStore, createPostgresTriggerStore]) {
        const store = make({ pool, schema: fresh(), retention: { completedMs: 1_000 } });
        opened.push(store);
        await store.ensureSchema();
        const [d] = await store.recordIntents([intent()]);
        await store.recordOutcomes([{ id: d?.id as string, state: 'accepted', at: at(0) }]);
        expect(await store.purgeExpired(at(1_001))).toBe(1);
        expect(await store.getDelivery(ACCOUNT, d?.id as string)).toBeNull();
      }
    });
  });

  describe('engines', () => {
    it('is the ledger an engine on a PostgreSQL store uses: an intent before each send, accepted after; `ledger: false` keeps none', async () => {
      const schema = fresh('crm_ledger_engine');
      const store = createPostgresStore({ pool, schema });
      opened.push(store);
      await store.ensureSchema();
      const sms = createRecordingChannel({ respond: () => ({ id: 'SM-1' }) });
      const email = createRecordingChannel();
      const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: 'ledger' });
      const rule = await engine.rules.create(ACCOUNT, technicianRule());
      const [inserted] = await store.insertTriggers([dueTrigger(rule, 'evt_ledger', new Date(Date.now() - 1_000))], new Date());
      expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
      await engine.stop();
      const id = inserted?.trigger.id as string;
      const deliveries = await store.deliveriesOfTrigger(ACCOUNT, id);
      expect(deliveries.map((d) => [d.actionIndex, d.type, d.recipient, d.state, d.providerId, d.idempotencyKey])).toEqual([
        [0, 'sms', '+15557654321', 'accepted', 'SM-1', `${id}:0`],
        [1, 'email', 'manager@example.com', 'accepted', 'rec_1', `${id}:1`],
      ]);
      expect(sms.sent[0]?.metadata.deliveryId).toBe(deliveries[0]?.id);
      // A receipt reaches it through the engine.
      expect(await engine.deliveries.applyReceipt({ provider: sms.name ?? 'sms', providerId: 'SM-1', state: 'delivered', at: new Date() })).toMatchObject({ applied: true });

      const without = createAutomationEngine({ store, channels: { sms, email }, instanceId: 'no-ledger', ledger: false });
      await store.insertTriggers([dueTrigger(rule, 'evt_no_ledger', new Date(Date.now() - 1_000))], new Date());
      expect(await without.runDue()).toMatchObject({ claimed: 1, completed: 1 });
      await without.stop();
      expect((await rowsOf(schema)).length).toBe(2);
    });

    it('on split stores: the ledger sits with the triggers, the rule store has none', async () => {
      const triggerStore = createPostgresTriggerStore({ pool, schema: fresh('crm_ledger_split') });
      const ruleStore = createPostgresRuleStore({ pool, schema: fresh('crm_ledger_rules') });
      opened.push(triggerStore, ruleStore);
      await Promise.all([triggerStore.ensureSchema(), ruleStore.ensureSchema()]);
      const engine = createAutomationEngine({ ruleStore, triggerStore, channels: { sms: createRecordingChannel(), email: createRecordingChannel() }, instanceId: 'split' });
      const rule = await engine.rules.create(ACCOUNT, technicianRule());
      await triggerStore.insertTriggers([dueTrigger(rule, 'evt_split', new Date(Date.now() - 1_000))], new Date());
      expect(await engine.runDue()).toMatchObject({ completed: 1 });
      await engine.stop();
      expect((await rowsOf(triggerStore.schema)).map((r) => r.state)).toEqual(['accepted', 'accepted']);
      const tables = (await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [ruleStore.schema])).rows.map((r) => r.table_name);
      expect(tables).not.toContain('deliveries');
    });

    it('survives a new pool: a send cut off by a crash is reconciled to unknown by the next engine and not sent again', async () => {
      const schema = fresh('crm_ledger_crash');
      const LEASE_MS = 2_000;
      // Engine A: its SMS is at the provider (the gateway has not answered) when its process dies.
      const storeA = createPostgresStore({ connectionString: url as string, schema });
      await storeA.ensureSchema();
      let answer: (value: unknown) => void = () => undefined;
      const atProvider = new Promise((resolve) => {
        answer = resolve;
      });
      const smsA = createRecordingChannel({ name: 'twilio', respond: () => atProvider.then(() => ({ id: 'SM-late' })) });
      const engineA = createAutomationEngine({ store: storeA, channels: { sms: smsA, email: createRecordingChannel() }, instanceId: 'a', leaseMs: LEASE_MS, sendTimeoutMs: LEASE_MS - 500 });
      const rule = await engineA.rules.create(ACCOUNT, technicianRule());
      const [inserted] = await storeA.insertTriggers([dueTrigger(rule, 'evt_crash', new Date(Date.now() - 1_000))], new Date());
      const triggerId = inserted?.trigger.id as string;
      const runA = engineA.runDue().catch(() => undefined);
      await waitFor('engine A to call the SMS gateway', () => smsA.calls.length === 1, 10_000, 10);
      const [written] = await storeA.deliveriesOfTrigger(ACCOUNT, triggerId);
      expect(written).toMatchObject({ state: 'intent', provider: 'twilio', attempt: 1 });
      // The crash: A's pool is gone with its process.
      await storeA.close();

      // Engine B: another process, a pool of its own, after A's lease ran out.
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 100));
      const storeB = createPostgresStore({ connectionString: url as string, schema });
      opened.push(storeB);
      expect((await storeB.ensureSchema()).applied).toEqual([]);
      expect(await storeB.getDelivery(ACCOUNT, written?.id as string)).toEqual(written);
      const smsB = createRecordingChannel({ name: 'twilio' });
      const emailB = createRecordingChannel();
      const engineB = createAutomationEngine({ store: storeB, channels: { sms: smsB, email: emailB }, instanceId: 'b', leaseMs: LEASE_MS, sendTimeoutMs: LEASE_MS - 500 });
      expect(await engineB.deliveries.reconcile()).toBe(1);
      expect((await engineB.runDue()).claimed).toBe(1);
      await engineB.stop();
      // The SMS may have reached the provider, which cannot deduplicate it: held, not sent again. The email had not been tried: sent.
      expect(smsB.calls).toHaveLength(0);
      expect(emailB.sent).toHaveLength(1);
      const after = await storeB.deliveriesOfTrigger(ACCOUNT, triggerId);
      expect(after.map((d) => [d.actionIndex, d.attempt, d.state])).toEqual([
        [0, 1, 'unknown'],
        [1, 2, 'accepted'],
      ]);
      expect(after[0]?.events.map((e) => [e.state, e.source])).toEqual([['intent', 'engine'], ['unknown', 'reconcile']]);
      // An operator who saw it in the provider's console settles it.
      expect(await engineB.deliveries.resolve(ACCOUNT, written?.id as string, { as: 'sent', by: 'ops@example.com' })).toMatchObject({ state: 'accepted' });

      // A's gateway answers at last; its process is gone, so nothing it writes lands.
      answer(undefined);
      await runA;
      await engineA.stop().catch(() => undefined);
      expect(await storeB.getDelivery(ACCOUNT, written?.id as string)).toMatchObject({ state: 'accepted', events: [{ state: 'intent' }, { state: 'unknown' }, { state: 'accepted', source: 'operator' }] });
    }, 60_000);
  });
});
