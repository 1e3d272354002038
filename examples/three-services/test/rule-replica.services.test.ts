import type { Rule } from '@crm-automation/core';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleLookupUnavailableError } from '../src/trigger-service/rule-lookup/rule-lookup-error.js';
import { mongoRuleReplica, type RuleReplica } from '../src/trigger-service/rule-lookup/rule-replica.js';
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

describe('the pub/sub trigger service’s rule replica (Mongo-wire)', () => {
  let client: MongoClient;
  let replica: RuleReplica;
  const dbName = `replica_${Date.now().toString(36)}`;

  beforeAll(async () => {
    const { MONGODB_URI } = requireServerEnv('MONGODB_URI');
    client = new MongoClient(MONGODB_URI);
    replica = mongoRuleReplica(client.db(dbName));
    await replica.ensureIndexes();
    await replica.ensureIndexes(); // twice: only missing indexes are created
  });

  afterAll(async () => {
    await client?.db(dbName).dropDatabase().catch(() => {});
    await client?.close();
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
});
