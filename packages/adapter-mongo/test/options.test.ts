import { describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { isAutomationError } from '@crm-automation/core';
import { parseObjectId } from '../src/documents.js';
import { DEFAULT_RETENTION_MS, deliveryExpireAt, expireAtFor, resolveRetention } from '../src/retention.js';
import { createMongoDeliveryLedger, createMongoRuleStore, createMongoStore, createMongoTriggerStore } from '../src/index.js';
import { expectRetentionResolution } from '@crm-automation/testing';
import { MALFORMED_MONGO_IDS } from './mongo-server.js';

describe('retention policy', () => {
  it('is off unless given, keeps completed and skipped triggers 7 days by default, refuses bad ages; mode auto', () => {
    const policy = expectRetentionResolution(resolveRetention, DEFAULT_RETENTION_MS);
    expect(policy.mode).toBe('auto');
    const now = new Date('2030-01-01T00:00:00Z');
    expect(expireAtFor(policy, 'completed', now)).toEqual(new Date(now.getTime() + DEFAULT_RETENTION_MS));
    expect(expireAtFor(policy, 'failed', now)).toBeUndefined();
    expect(expireAtFor(undefined, 'completed', now)).toBeUndefined();
    expect(expireAtFor(resolveRetention({ failedMs: 0 }), 'failed', now)).toEqual(now);
  });
});

describe('delivery retention', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const policy = resolveRetention({ completedMs: 1_000, failedMs: 2_000, cancelledMs: 3_000 });

  it('stamps a delivery by the age of the trigger status it corresponds to', () => {
    expect(deliveryExpireAt(policy, 'accepted', now)).toEqual(new Date(now.getTime() + 1_000));
    expect(deliveryExpireAt(policy, 'delivered', now)).toEqual(new Date(now.getTime() + 1_000));
    for (const state of ['refused', 'undelivered', 'bounced', 'failed'] as const) expect(deliveryExpireAt(policy, state, now)).toEqual(new Date(now.getTime() + 2_000));
    expect(deliveryExpireAt(policy, 'abandoned', now)).toEqual(new Date(now.getTime() + 3_000));
  });

  it('never stamps intents or unknown sends, which hold back a second send, nor anything without a policy', () => {
    expect(deliveryExpireAt(policy, 'intent', now)).toBeUndefined();
    expect(deliveryExpireAt(policy, 'unknown', now)).toBeUndefined();
    expect(deliveryExpireAt(undefined, 'delivered', now)).toBeUndefined();
    // The defaults keep what failed triggers keep: bounces and refusals stay until a failed age is set.
    expect(deliveryExpireAt(resolveRetention({}), 'bounced', now)).toBeUndefined();
    expect(deliveryExpireAt(resolveRetention({}), 'accepted', now)).toEqual(new Date(now.getTime() + DEFAULT_RETENTION_MS));
  });
});

describe('ids', () => {
  it('accepts only the lowercase 24-hex ObjectIds the store hands out', () => {
    expect(parseObjectId('64a5b8e8f1b2c3d4e5f6a7b1')).toEqual(new ObjectId('64a5b8e8f1b2c3d4e5f6a7b1'));
    for (const bad of ['', ...MALFORMED_MONGO_IDS, 42, null, { $ne: null }]) expect(parseObjectId(bad)).toBeNull();
  });
});

describe('factory options', () => {
  const factories = [
    ['createMongoStore', (o: Record<string, unknown>) => createMongoStore(o as never)],
    ['createMongoRuleStore', (o: Record<string, unknown>) => createMongoRuleStore(o as never)],
    ['createMongoTriggerStore', (o: Record<string, unknown>) => createMongoTriggerStore(o as never)],
    ['createMongoDeliveryLedger', (o: Record<string, unknown>) => createMongoDeliveryLedger(o as never)],
  ] as const;

  it.each(factories)('%s needs exactly one of client and uri', (_name, make) => {
    expect(() => make({})).toThrow(/client or a uri/);
  });

  it.each(factories)('%s names the database after the URI, else crm_automation, and opens no connection until used', async (_name, make) => {
    const fromUri = make({ uri: 'mongodb://127.0.0.1:1/tenant_db' });
    expect(fromUri.db.databaseName).toBe('tenant_db');
    const fallback = make({ uri: 'mongodb://127.0.0.1:1' });
    expect(fallback.db.databaseName).toBe('crm_automation');
    const named = make({ uri: 'mongodb://127.0.0.1:1', dbName: 'x' });
    expect(named.db.databaseName).toBe('x');
    await Promise.all([fromUri.close(), fallback.close(), named.close()]);
  });

  it('refuses the options of the removed FerretDB support', () => {
    expect(() => createMongoStore({ uri: 'mongodb://127.0.0.1:1', dialect: 'ferretdb' } as never)).toThrow(/unknown option "dialect"/);
    expect(() => createMongoStore({ uri: 'mongodb://127.0.0.1:1', collections: { claims: 'trigger_claims' } } as never)).toThrow(/unknown option "claims"/);
  });

  it('keeps each split store to the options that apply to it', () => {
    expect(() => createMongoRuleStore({ uri: 'mongodb://127.0.0.1:1', retention: {} } as never)).toThrow(/createMongoRuleStore: unknown option "retention"/);
    expect(() => createMongoRuleStore({ uri: 'mongodb://127.0.0.1:1', collections: { triggers: 't' } } as never)).toThrow(/unknown option "triggers"/);
    expect(() => createMongoTriggerStore({ uri: 'mongodb://127.0.0.1:1', collections: { rules: 'r' } } as never)).toThrow(/unknown option "rules"/);
  });
});

describe('delivery ledger without a server', () => {
  // Nothing listens here: every case is answered or refused before a connection would be used.
  const URI = 'mongodb://127.0.0.1:1/ledger_unit';
  const T = new Date('2030-01-01T00:00:00Z');
  const intent = { accountId: 'acc', triggerId: 't', ruleId: 'r', actionIndex: 0, attempt: 1, type: 'sms', provider: 'twilio', idempotencyKey: 't:0', dedupes: false, at: T };

  it('refuses a batch with one invalid date before writing, naming the intent', async () => {
    const ledger = createMongoDeliveryLedger({ uri: URI, autoIndex: false });
    const error = await ledger.recordIntents([intent, { ...intent, at: new Date(Number.NaN) }]).catch((e: unknown) => e);
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_CONFIG');
    expect((error as Error).message).toContain('intents[1].at');
    const outcome = await ledger.recordOutcomes([{ id: 'x', state: 'delivered' as never, at: T }]).catch((e: unknown) => e);
    expect(isAutomationError(outcome) && outcome.code).toBe('CRM_ERR_CONFIG');
    await ledger.close();
  });

  it('answers malformed ids, operator objects and empty requests without asking the server', async () => {
    const ledger = createMongoDeliveryLedger({ uri: URI, autoIndex: false, clientOptions: { serverSelectionTimeoutMS: 200 } });
    expect(await ledger.recordIntents([])).toEqual([]);
    expect(await ledger.recordOutcomes([])).toEqual([]);
    for (const id of ['', 'nope', ...MALFORMED_MONGO_IDS]) {
      expect(await ledger.getDelivery('acc', id)).toBeNull();
      expect(await ledger.resolveDelivery('acc', id, { as: 'sent', at: T, by: 'ops' })).toBeNull();
      expect(await ledger.recordOutcomes([{ id, state: 'accepted', at: T }])).toEqual([false]);
    }
    expect(await ledger.applyReceipt({ provider: 'twilio', providerId: { $ne: null } as never, state: 'delivered', at: T })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await ledger.applyReceipt({ provider: 'twilio', deliveryId: 'nope', state: 'delivered', at: T })).toEqual({ applied: false, reason: 'unknown-id' });
    expect(await ledger.listDeliveries('acc', { triggerId: { $gt: '' } as never })).toEqual({ items: [] });
    expect(await ledger.listDeliveries('acc', { state: 'sent' as never })).toEqual({ items: [] });
    expect(await ledger.listDeliveries('acc', { cursor: 'nope' })).toEqual({ items: [] });
    expect(await ledger.staleIntents(T, 0)).toEqual([]);
    expect(await ledger.deliveriesOfTrigger('acc', { $ne: null } as never)).toEqual([]);
    await ledger.close();
  });
});
