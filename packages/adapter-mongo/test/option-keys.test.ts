import { describe, expect, it } from 'vitest';
import { typosOf } from '@crm-automation/testing';
import { createMongoDeliveryLedger, createMongoIdempotencyStore, createMongoRuleStore, createMongoStore, createMongoTriggerStore } from '../src/index.js';

// Nothing listens here; every case is refused before a connection is opened.
const URI = 'mongodb://127.0.0.1:1/options_test';
const RETENTION_KEYS = ['completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'mode', 'intervalMs'];

const FACTORIES: Array<[name: string, make: (o: Record<string, unknown>) => unknown, base: Record<string, unknown>, keys: string[]]> = [
  ['createMongoStore', (o) => createMongoStore(o as never), { uri: URI }, ['client', 'uri', 'clientOptions', 'dbName', 'collections', 'retention', 'autoIndex', 'logger']],
  ['createMongoStore: collections', (o) => createMongoStore({ uri: URI, collections: o as never }), { rules: 'r' }, ['rules', 'triggers', 'deliveries', 'contactPolicies', 'suppressions', 'suppressionChanges', 'contactCounters', 'sendThrottles']],
  ['createMongoStore: retention', (o) => createMongoStore({ uri: URI, retention: o as never }), { completedMs: 1000 }, RETENTION_KEYS],
  ['createMongoRuleStore', (o) => createMongoRuleStore(o as never), { uri: URI }, ['client', 'uri', 'clientOptions', 'dbName', 'collections', 'autoIndex']],
  ['createMongoTriggerStore', (o) => createMongoTriggerStore(o as never), { uri: URI }, ['client', 'uri', 'clientOptions', 'dbName', 'collections', 'retention', 'autoIndex', 'logger']],
  ['createMongoTriggerStore: collections', (o) => createMongoTriggerStore({ uri: URI, collections: o as never }), { triggers: 't' }, ['triggers', 'deliveries']],
  ['createMongoTriggerStore: retention', (o) => createMongoTriggerStore({ uri: URI, retention: o as never }), { completedMs: 1000 }, RETENTION_KEYS],
  ['createMongoDeliveryLedger', (o) => createMongoDeliveryLedger(o as never), { uri: URI }, ['client', 'uri', 'clientOptions', 'dbName', 'collections', 'retention', 'autoIndex', 'logger']],
  ['createMongoDeliveryLedger: collections', (o) => createMongoDeliveryLedger({ uri: URI, collections: o as never }), { deliveries: 'd' }, ['deliveries']],
  ['createMongoDeliveryLedger: retention', (o) => createMongoDeliveryLedger({ uri: URI, retention: o as never }), { completedMs: 1000 }, RETENTION_KEYS],
  ['createMongoIdempotencyStore', (o) => createMongoIdempotencyStore(o as never), { uri: URI }, ['client', 'uri', 'clientOptions', 'dbName', 'collection', 'now', 'autoIndex']],
];

describe.each(FACTORIES)('%s refuses unknown option keys', (name, make, base, keys) => {
  it.each(keys.flatMap((key) => typosOf(key).map((typo) => [typo, key])))('"%s" is refused, suggesting "%s"', (typo, key) => {
    let thrown: unknown;
    try {
      make({ ...base, [typo]: 1 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect((thrown as Error).message).toContain(name);
    expect((thrown as Error).message).toContain(`"${typo}" (did you mean "${key}"?)`);
  });
});
