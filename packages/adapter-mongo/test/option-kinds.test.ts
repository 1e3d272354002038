import { describe, expect, it } from 'vitest';
import { createMongoContactStore, createMongoDeliveryLedger, createMongoIdempotencyStore, createMongoRuleStore, createMongoStore, createMongoTriggerStore } from '@crm-automation/adapter-mongo';

/*
 * Every MongoDB factory refuses a wrong kind of value for a connection or shared option with
 * CRM_ERR_CONFIG naming it: a URI the driver cannot parse (its MongoParseError, typed), clientOptions
 * that are not an object (a TypeError inside the driver before), a client that is not one, a logger
 * without its methods. Nothing connects: the address points nowhere.
 */

const URI = 'mongodb://127.0.0.1:1/crm_kinds';
type Make = (options: Record<string, unknown>) => { close(): Promise<void> };
const FACTORIES: Array<[string, Make, string[]]> = [
  ['createMongoStore', (o) => createMongoStore(o as never), ['logger', 'autoIndex']],
  ['createMongoRuleStore', (o) => createMongoRuleStore(o as never), ['autoIndex']],
  ['createMongoTriggerStore', (o) => createMongoTriggerStore(o as never), ['logger', 'autoIndex']],
  ['createMongoDeliveryLedger', (o) => createMongoDeliveryLedger(o as never), ['logger', 'autoIndex']],
  ['createMongoIdempotencyStore', (o) => createMongoIdempotencyStore(o as never), ['now', 'autoIndex', 'collection']],
  ['createMongoContactStore', (o) => createMongoContactStore(o as never), ['autoIndex']],
];
const WRONG: Record<string, Array<[string, unknown]>> = {
  uri: [['not a mongodb URI', 'postgres://x'], ['a number', 42], ['an object', {}]],
  clientOptions: [['null', null], ['a string', 'x'], ['a number', 42], ['an array', []], ['an option the driver does not know', { notAnOption: 1 }]],
  client: [['a string', 'mongodb://x'], ['an empty object', {}]],
  dbName: [['a number', 1], ['an empty string', ''], ['an object', {}]],
  logger: [['a string', 'x'], ['an empty object', {}], ['console.log', console.log]],
  autoIndex: [['a string', 'yes'], ['a number', 1]],
  now: [['a number', 1], ['a string', 'now']],
  collection: [['a number', 1], ['an empty string', '']],
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
  const keys = ['uri', 'clientOptions', 'client', 'dbName', ...own];
  it.each(keys.flatMap((key) => (WRONG[key] ?? []).map(([label, value]) => [key, label, value] as const)))('%s: %s', (key, _label, value) => {
    const base = key === 'client' ? {} : { uri: URI };
    const error = thrownBy(() => make({ ...base, [key]: value }));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(name) as string });
    expect((error as Error).message).toMatch(new RegExp(key === 'clientOptions' && _label.includes('driver') ? 'uri or clientOptions' : key));
  });

  it('accepts a URI (connecting only on the first operation)', async () => {
    const store = make({ uri: URI });
    await store.close();
  });
});
