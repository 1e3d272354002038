import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { isAutomationError } from '@crm-automation/core';
import { expectRetentionResolution, typosOf } from '@crm-automation/testing';
import { createPostgresDeliveryLedger, createPostgresIdempotencyStore, createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore } from '../src/index.js';
import { ledgerJson, ledgerText } from '../src/delivery-rows.js';
import { isTransientFailure, markTransient, serverRefused } from '../src/transient-errors.js';
import { isStoreId, MALFORMED_IDS } from '../src/ids.js';
import { timestampParam } from '../src/dates.js';
import { DEFAULT_RETENTION_MS, deliveryPurgeGroups, purgeGroups, resolveRetention } from '../src/retention.js';

// Nothing listens here; every case is decided before a connection is opened.
const URL = 'postgres://postgres@127.0.0.1:1/options_test';
const STORE_KEYS = ['pool', 'connectionString', 'poolConfig', 'schema', 'retention', 'logger'];

const FACTORIES: Array<[name: string, make: (o: Record<string, unknown>) => { close(): Promise<void> }, base: Record<string, unknown>, keys: string[]]> = [
  ['createPostgresStore', (o) => createPostgresStore(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresRuleStore', (o) => createPostgresRuleStore(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresTriggerStore', (o) => createPostgresTriggerStore(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresDeliveryLedger', (o) => createPostgresDeliveryLedger(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresDeliveryLedger: retention', (o) => createPostgresDeliveryLedger({ connectionString: URL, retention: o as never }), { completedMs: 1000 }, ['completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'intervalMs']],
  ['createPostgresStore: retention', (o) => createPostgresStore({ connectionString: URL, retention: o as never }), { completedMs: 1000 }, ['completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'intervalMs']],
  ['createPostgresIdempotencyStore', (o) => createPostgresIdempotencyStore(o as never), { connectionString: URL }, ['pool', 'connectionString', 'poolConfig', 'schema', 'ttlMs', 'now', 'logger']],
];

const configError = (make: () => unknown): Error & { code?: string } => {
  try {
    make();
  } catch (error) {
    if (isAutomationError(error)) return error;
    throw error;
  }
  throw new Error('expected a CRM_ERR_CONFIG error, got none');
};

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, base, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
    const error = configError(() => make({ ...base, [typo]: 1 }));
    expect(error.code).toBe('CRM_ERR_CONFIG');
    expect(error.message).toContain(name);
    expect(error.message).toContain(`"${typo}" (did you mean "${key}"?)`);
  });

  it('accepts its own keys', async () => {
    await make(base).close();
  });
});

describe('connection options', () => {
  it('needs exactly one of pool and connectionString, and poolConfig only with a connection string', () => {
    const pool = new pg.Pool({ connectionString: URL });
    expect(configError(() => createPostgresStore({})).message).toMatch(/pool or a connectionString/);
    expect(configError(() => createPostgresStore({ pool, connectionString: URL })).message).toMatch(/either pool or connectionString/);
    expect(configError(() => createPostgresStore({ pool, poolConfig: { max: 2 } })).message).toMatch(/poolConfig/);
    expect(configError(() => createPostgresStore(undefined as never)).message).toMatch(/needs an options object/);
    void pool.end();
  });

  it('takes lowercase schema names short enough for the NOTIFY channel', async () => {
    for (const bad of ['', 'Crm', 'crm-automation', '1crm', 'a'.repeat(49), 'crm"; DROP TABLE x; --', 'public.x']) {
      expect(configError(() => createPostgresStore({ connectionString: URL, schema: bad })).code).toBe('CRM_ERR_CONFIG');
    }
    const store = createPostgresStore({ connectionString: URL, schema: 'a'.repeat(48) });
    expect(store.schema).toBe('a'.repeat(48));
    await store.close();
    const fallback = createPostgresStore({ connectionString: URL });
    expect(fallback.schema).toBe('crm_automation');
    await fallback.close();
  });

  it('opens no connection until used, and close() is idempotent', async () => {
    const store = createPostgresStore({ connectionString: URL, poolConfig: { max: 3 } });
    expect(store.pool.totalCount).toBe(0);
    await Promise.all([store.close(), store.close()]);
    expect(store.pool.ended).toBe(true);
  });

  it('leaves a handed pool open', async () => {
    const pool = new pg.Pool({ connectionString: URL });
    const store = createPostgresStore({ pool });
    await store.close();
    expect(pool.ended).toBe(false);
    await pool.end();
  });
});

describe('ids', () => {
  it('are bigint identity values as decimal text; anything else is malformed', () => {
    for (const id of ['1', '42', '9223372036854775807', '1000000000000000000']) expect(isStoreId(id)).toBe(true);
    for (const id of [...MALFORMED_IDS, '', '123abc', 'nope', 1, null, undefined, { $ne: null }]) expect(isStoreId(id)).toBe(false);
  });
});

describe('timestamps', () => {
  it('are ISO text for the years 1 to 9999; anything else is a CRM_ERR_CONFIG', () => {
    expect(timestampParam(new Date('2030-01-01T00:00:00.123Z'), 'now')).toBe('2030-01-01T00:00:00.123Z');
    expect(timestampParam(new Date('0001-01-01T00:00:00.000Z'), 'now')).toBe('0001-01-01T00:00:00.000Z');
    for (const bad of [new Date(Number.NaN), new Date('+010000-01-01T00:00:00Z'), new Date('-000001-01-01T00:00:00Z'), '2030-01-01', 0, null, undefined]) {
      expect(configError(() => timestampParam(bad, 'evaluateAt')).code).toBe('CRM_ERR_CONFIG');
    }
  });
});

describe('retention policy', () => {
  it('is off unless given, keeps completed and skipped triggers 7 days by default, refuses bad ages; purge groups', () => {
    const policy = expectRetentionResolution(resolveRetention, DEFAULT_RETENTION_MS);
    expect(purgeGroups(policy)).toEqual([{ statuses: ['completed', 'skipped'], ageMs: DEFAULT_RETENTION_MS }]);
    const custom = resolveRetention({ completedMs: 1_000, failedMs: 1_000, skippedMs: 5 });
    expect(custom && purgeGroups(custom)).toEqual([
      { statuses: ['completed', 'failed'], ageMs: 1_000 },
      { statuses: ['skipped'], ageMs: 5 },
    ]);
  });
});

describe('delivery ledger options', () => {
  it('refuses what the other factories refuse, before any connection is opened', async () => {
    expect(configError(() => createPostgresDeliveryLedger({})).message).toMatch(/createPostgresDeliveryLedger: needs a pool or a connectionString/);
    expect(configError(() => createPostgresDeliveryLedger(undefined as never)).message).toMatch(/createPostgresDeliveryLedger needs an options object/);
    expect(configError(() => createPostgresDeliveryLedger({ connectionString: URL, schema: 'Bad-Name' })).code).toBe('CRM_ERR_CONFIG');
    expect(configError(() => createPostgresDeliveryLedger({ connectionString: URL, retention: { completedMs: -1 } })).message).toMatch(/retention.completedMs/);
    const ledger = createPostgresDeliveryLedger({ connectionString: URL, poolConfig: { max: 2 } });
    expect(ledger.schema).toBe('crm_automation');
    expect(ledger.pool.totalCount).toBe(0);
    await ledger.close();
    expect(ledger.pool.ended).toBe(true);
  });

  it('checks intents, outcomes, receipts and resolutions before sending anything', async () => {
    // The pool points at a port nothing listens on: a check that let a call through would fail with ECONNREFUSED instead.
    const ledger = createPostgresDeliveryLedger({ connectionString: URL });
    const intent = { accountId: 'a', triggerId: '1', ruleId: 'r', actionIndex: 0, attempt: 1, type: 'sms', provider: 'twilio', idempotencyKey: '1:0', dedupes: false, at: new Date() };
    const refused = async (call: () => Promise<unknown>) => {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
      return error as Error;
    };
    expect((await refused(() => ledger.recordIntents([intent, { ...intent, at: new Date(Number.NaN) }]))).message).toMatch(/intents\[1\]\.at/);
    expect((await refused(() => ledger.recordIntents([{ ...intent, attempt: 1.5 }]))).message).toMatch(/intents\[0\]\.attempt/);
    expect((await refused(() => ledger.recordIntents([{ ...intent, actionIndex: -1 }]))).message).toMatch(/actionIndex/);
    expect((await refused(() => ledger.recordIntents([{ ...intent, provider: 7 as never }]))).message).toMatch(/intents\[0\]\.provider must be a string/);
    expect((await refused(() => ledger.recordOutcomes([{ id: '1', state: 'delivered' as never, at: new Date() }]))).message).toMatch(/accepted, refused or unknown/);
    await refused(() => ledger.recordOutcomes([{ id: '1', state: 'accepted', at: new Date(), source: 'somebody' as never }]));
    await refused(() => ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'refused' as never, at: new Date() }));
    await refused(() => ledger.applyReceipt({ provider: 'twilio', providerId: 'SM1', state: 'delivered', at: new Date('+010000-01-01T00:00:00Z') }));
    await refused(() => ledger.resolveDelivery('a', '1', { as: 'maybe' as never, at: new Date(), by: 'ops' }));
    await refused(() => ledger.staleIntents(new Date(Number.NaN), 10));
    await refused(() => ledger.countDeliveries('a', 'yesterday' as never));
    await refused(() => ledger.purgeExpired(new Date(Number.NaN)));
    // Answered without a query: nothing to write, ids this ledger could not have issued, a receipt that names nothing.
    expect(await ledger.recordIntents([])).toEqual([]);
    expect(await ledger.recordOutcomes([{ id: 'nope', state: 'accepted', at: new Date() }])).toEqual([false]);
    expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: 'nope', state: 'delivered', at: new Date() })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await ledger.getDelivery('a', '0')).toBeNull();
    expect(await ledger.resolveDelivery('a', 'x', { as: 'sent', at: new Date(), by: 'ops' })).toBeNull();
    expect(await ledger.listDeliveries('a', { cursor: 'nope' })).toEqual({ items: [] });
    expect(await ledger.listDeliveries('a', { state: 'sent' as never })).toEqual({ items: [] });
    expect(await ledger.staleIntents(new Date(), 0)).toEqual([]);
    expect(await ledger.purgeExpired(new Date())).toBe(0);
    await ledger.close();
  });
});

describe('delivery retention', () => {
  it('keeps deliveries by the age of the trigger status they match, never intents or unknown sends', () => {
    expect(deliveryPurgeGroups(resolveRetention({}) as NonNullable<ReturnType<typeof resolveRetention>>)).toEqual([{ states: ['accepted', 'delivered'], ageMs: DEFAULT_RETENTION_MS }]);
    const all = resolveRetention({ completedMs: 1, failedMs: 2, cancelledMs: 2 }) as NonNullable<ReturnType<typeof resolveRetention>>;
    expect(deliveryPurgeGroups(all)).toEqual([
      { states: ['accepted', 'delivered'], ageMs: 1 },
      { states: ['refused', 'undelivered', 'bounced', 'failed', 'abandoned'], ageMs: 2 },
    ]);
  });
});

describe('ledger text', () => {
  it('is what PostgreSQL text and JSONB can hold: U+0000 and lone surrogates become U+FFFD, pairs stay', () => {
    expect(ledgerText('a\u0000b\uD800c\uDC00d\uD83D\uDE00')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00');
    expect(ledgerJson({ ['k\u0000']: ['x\u0000', 1, null, { y: '\uDFFF' }], n: 2 })).toEqual({ ['k\uFFFD']: ['x\uFFFD', 1, null, { y: '\uFFFD' }], n: 2 });
  });
});

describe('transient failures', () => {
  it('are lost connections, rolled-back transactions, exhausted resources and timeouts; a refusal by the server is not', async () => {
    // A real driver error: nothing listens on the port.
    const client = new pg.Client({ connectionString: URL });
    const refusedConnection = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTransientFailure(refusedConnection)).toBe(true);
    expect(serverRefused(refusedConnection)).toBe(false);
    const serverError = (code: string) => Object.assign(new pg.DatabaseError('from the server', 0, 'error'), { code });
    for (const code of ['40001', '40P01', '53300', '57014', '55P03', '57P01', '08006']) expect(isTransientFailure(serverError(code))).toBe(true);
    for (const code of ['23505', '22P05', '42P01', '42501']) {
      expect(isTransientFailure(serverError(code))).toBe(false);
      expect(serverRefused(serverError(code))).toBe(true);
    }
    expect(serverRefused(serverError('57P01'))).toBe(false);
    const marked = markTransient(serverError('40001'));
    expect((marked as { retryable?: unknown }).retryable).toBe(true);
    expect(Object.keys(marked)).not.toContain('retryable');
    expect((markTransient(serverError('23505')) as { retryable?: unknown }).retryable).toBeUndefined();
  });
});
