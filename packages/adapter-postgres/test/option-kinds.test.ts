import { describe, expect, it } from 'vitest';
import { createPostgresContactStore, createPostgresDeliveryLedger, createPostgresIdempotencyStore, createPostgresRuleStore, createPostgresStore, createPostgresTriggerStore } from '@crm-automation/adapter-postgres';

/*
 * Every PostgreSQL factory refuses a wrong kind of value for a connection or shared option with
 * CRM_ERR_CONFIG naming it (a pool that is not one, poolConfig that is not an object, a logger without
 * its methods), where it used to fail later with a TypeError. Nothing connects.
 */

const URL = 'postgres://postgres@127.0.0.1:1/crm_kinds';
type Make = (options: Record<string, unknown>) => { close(): Promise<void> };
const FACTORIES: Array<[string, Make, string[]]> = [
  ['createPostgresStore', (o) => createPostgresStore(o as never), ['logger']],
  ['createPostgresRuleStore', (o) => createPostgresRuleStore(o as never), ['logger']],
  ['createPostgresTriggerStore', (o) => createPostgresTriggerStore(o as never), ['logger']],
  ['createPostgresDeliveryLedger', (o) => createPostgresDeliveryLedger(o as never), ['logger']],
  ['createPostgresContactStore', (o) => createPostgresContactStore(o as never), ['logger']],
  ['createPostgresIdempotencyStore', (o) => createPostgresIdempotencyStore(o as never), ['logger', 'now']],
];
const WRONG: Record<string, Array<[string, unknown]>> = {
  connectionString: [['a number', 42], ['an object', {}]],
  poolConfig: [['a string', 'max=10'], ['a number', 42], ['an array', []]],
  pool: [['a string', 'postgres://x'], ['an empty object', {}]],
  logger: [['a string', 'x'], ['an empty object', {}], ['console.log', console.log]],
  now: [['a number', 1], ['a string', 'now']],
};

function thrownBy(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(FACTORIES)('%s refuses wrong kinds of values', (name, make, own) => {
  const keys = ['connectionString', 'poolConfig', 'pool', ...own];
  it.each(keys.flatMap((key) => (WRONG[key] ?? []).map(([label, value]) => [key, label, value] as const)))('%s: %s', (key, _label, value) => {
    const base = key === 'pool' || key === 'connectionString' ? {} : { connectionString: URL };
    const error = thrownBy(() => make({ ...base, [key]: value }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(name) as string });
    expect((error as Error).message).toContain(key);
  });

  it('accepts a connection string (connecting only on the first query)', async () => {
    const store = make({ connectionString: URL });
    await store.close();
  });
});
