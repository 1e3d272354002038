import type { Rule } from '@crm-automation/core';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleLookupUnavailableError } from '../src/trigger-service/rule-lookup/rule-lookup-error.js';
import { mongoRuleReplica, postgresRuleReplica, type RuleReplica } from '../src/trigger-service/rule-lookup/rule-replica.js';
import { requireServerEnv } from './support/server-env.js';

const rule = (id: string, version: number, overrides: Partial<Rule> = {}): Rule => ({
  id,
  accountId: 'acc_1',
  name: `rule ${id} v${version}`,
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  // A key with a dollar sign and a dot: the replica must keep any rule document intact.
  conditions: { all: [{ fact: 'job', path: '$.total', operator: 'greaterThan', value: version }] },
  actions: [{ type: 'webhook', params: { url: 'https://example.com/x', payload: { '$weird.key': '{{job.id}}' } } }],
  version,
  createdAt: new Date('2025-01-01T00:00:00Z'),
  updatedAt: new Date(`2025-01-0${version}T00:00:00Z`),
  ...overrides,
});

interface ReplicaFixture {
  replica: RuleReplica;
  cleanup(): Promise<void>;
}

const run = `replica_${Date.now().toString(36)}`;

// The same behaviour from both replicas: the one in the trigger service's MongoDB and the one in its PostgreSQL.
const STORES: Array<[name: string, open: () => Promise<ReplicaFixture>]> = [
  [
    'MongoDB',
    async () => {
      const { MONGODB_URI } = requireServerEnv('MONGODB_URI');
      const client = new MongoClient(MONGODB_URI);
      return { replica: mongoRuleReplica(client.db(run)), cleanup: async () => { await client.db(run).dropDatabase().catch(() => {}); await client.close(); } };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const { POSTGRES_URL } = requireServerEnv('POSTGRES_URL');
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
      return { replica: postgresRuleReplica(pool, run), cleanup: async () => { await pool.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`).catch(() => {}); await pool.end(); } };
    },
  ],
];

describe.each(STORES)('the pub/sub trigger service’s rule replica (%s)', (_name, open) => {
  let fixture: ReplicaFixture | undefined;
  let replica: RuleReplica;

  beforeAll(async () => {
    fixture = await open();
    replica = fixture.replica;
    // Twice, and twice at once: safe to repeat, from several trigger services starting together.
    await replica.ensureStorage();
    await Promise.all([replica.ensureStorage(), replica.ensureStorage()]);
  });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('keeps the newest version whatever order updates arrive in', async () => {
    await replica.upsert([rule('r1', 2)]);
    await replica.applyChange('acc_1', 'r1', rule('r1', 1));
    expect(await replica.getRule('acc_1', 'r1')).toEqual(rule('r1', 2));
    await replica.applyChange('acc_1', 'r1', rule('r1', 3, { enabled: false }));
    expect(await replica.getRule('acc_1', 'r1')).toEqual(rule('r1', 3, { enabled: false }));
    expect(await replica.findRulesForEvent('acc_1', 'job.created')).toEqual([]);
  });

  it('treats a deletion as final: a late rules_found does not bring the rule back', async () => {
    await replica.upsert([rule('r2', 1)]);
    await replica.applyChange('acc_1', 'r2', null);
    await replica.upsert([rule('r2', 1)]);
    expect(await replica.getRule('acc_1', 'r2')).toBeNull();
  });

  it('hides rules of other accounts, and says "not yet" (retryable) for a rule it has never seen', async () => {
    await replica.upsert([rule('r3', 1)]);
    expect(await replica.getRule('acc_other', 'r3')).toBeNull();
    expect(await replica.findRulesForEvent('acc_1', 'job.created')).toEqual([rule('r3', 1)]);
    const unseen = replica.getRule('acc_1', 'never-seen');
    await expect(unseen).rejects.toBeInstanceOf(RuleLookupUnavailableError);
    await expect(unseen).rejects.toMatchObject({ retryable: true });
  });

  it('keeps a rule document exactly, U+0000 and all, and finds only enabled rules of the event', async () => {
    const odd = rule('r4', 1, { name: 'nul \u0000 and emoji 🙂', trigger: { eventName: 'job.odd' } });
    await replica.upsert([odd, rule('r5', 1, { enabled: false, trigger: { eventName: 'job.odd' } })]);
    expect(await replica.findRulesForEvent('acc_1', 'job.odd')).toEqual([odd]);
    expect(await replica.getRule('acc_1', 'r4')).toEqual(odd);
  });

  it('finds a keyed rule by its cancelOn events too, with every entity-aware part kept; a newer version without them drops them', async () => {
    const keyed = rule('r6', 1, {
      trigger: { eventName: 'appointment.booked', key: '$.appointment.id' },
      cancelOn: [{ eventName: 'appointment.cancelled' }, { eventName: 'appointment.moved', conditions: { all: [{ fact: 'appointment', path: '$.notify', operator: 'equal', value: false }] } }],
      concurrency: { mode: 'supersede', maxWait: { value: 1, unit: 'hours' } },
      evaluate: { appointment: 'current' },
    });
    await replica.upsert([keyed]);
    for (const eventName of ['appointment.booked', 'appointment.cancelled', 'appointment.moved']) expect(await replica.findRulesForEvent('acc_1', eventName), eventName).toEqual([keyed]);
    expect(await replica.findRulesForEvent('acc_other', 'appointment.cancelled')).toEqual([]);
    const { cancelOn: _dropped, ...withoutCancel } = keyed;
    await replica.applyChange('acc_1', 'r6', { ...withoutCancel, version: 2 });
    expect(await replica.findRulesForEvent('acc_1', 'appointment.cancelled')).toEqual([]);
    expect(await replica.findRulesForEvent('acc_1', 'appointment.booked')).toEqual([{ ...withoutCancel, version: 2 }]);
  });
});
