import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { isAutomationError } from '@crm-automation/core';
import { createPostgresIdempotencyStore, createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore } from '../src/index.js';
import { isStoreId, MALFORMED_IDS } from '../src/ids.js';
import { timestampParam } from '../src/dates.js';
import { DEFAULT_RETENTION_MS, purgeGroups, resolveRetention } from '../src/retention.js';

/** Misspellings a person makes: a plural, a dropped letter, two letters swapped. */
function typosOf(key: string): string[] {
  const typos = new Set([key.endsWith('s') ? key.slice(0, -1) : `${key}s`, key.slice(0, -1)]);
  if (key.length >= 5) typos.add(key.slice(0, 2) + (key[3] ?? '') + (key[2] ?? '') + key.slice(4));
  typos.delete(key);
  return [...typos].filter((t) => t.length >= 2);
}

// Nothing listens here; every case is decided before a connection is opened.
const URL = 'postgres://postgres@127.0.0.1:1/options_test';
const STORE_KEYS = ['pool', 'connectionString', 'poolConfig', 'schema', 'retention', 'logger'];

const FACTORIES: Array<[name: string, make: (o: Record<string, unknown>) => { close(): Promise<void> }, base: Record<string, unknown>, keys: string[]]> = [
  ['createPostgresStore', (o) => createPostgresStore(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresRuleStore', (o) => createPostgresRuleStore(o as never), { connectionString: URL }, STORE_KEYS],
  ['createPostgresTriggerStore', (o) => createPostgresTriggerStore(o as never), { connectionString: URL }, STORE_KEYS],
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
  it('is off unless given, and then keeps completed and skipped triggers 7 days by default', () => {
    expect(resolveRetention(undefined)).toBeUndefined();
    expect(resolveRetention(false)).toBeUndefined();
    const policy = resolveRetention({});
    expect(policy?.ages).toEqual({ completed: DEFAULT_RETENTION_MS, skipped: DEFAULT_RETENTION_MS });
    expect(policy && purgeGroups(policy)).toEqual([{ statuses: ['completed', 'skipped'], ageMs: DEFAULT_RETENTION_MS }]);
    const custom = resolveRetention({ completedMs: 1_000, failedMs: 1_000, skippedMs: 5 });
    expect(custom && purgeGroups(custom)).toEqual([
      { statuses: ['completed', 'failed'], ageMs: 1_000 },
      { statuses: ['skipped'], ageMs: 5 },
    ]);
  });

  it('refuses negative ages and bad intervals with a config error', () => {
    for (const bad of [{ completedMs: -1 }, { skippedMs: Number.NaN }, { intervalMs: 0 }, { intervalMs: 1.5 }]) {
      expect(configError(() => resolveRetention(bad)).code).toBe('CRM_ERR_CONFIG');
    }
  });
});
