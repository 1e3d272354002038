import { describe, expect, it } from 'vitest';
import { isAutomationError } from '@crm-automation/core';
import { createMemoryDeliveryLedger, createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { declareInProcessStore, withStoreDeadlines } from '../src/engine/store-deadlines.js';

describe('store deadlines and in-process stores', () => {
  it('hands the memory stores back as they are: no timer or promise of its own per request', () => {
    for (const store of [createMemoryStore(), createMemoryTriggerStore(), createMemoryRuleStore(), createMemoryDeliveryLedger()]) {
      expect(withStoreDeadlines(store, 50, 'store')).toBe(store);
    }
  });

  it('still bounds a copy of a memory store and a proxy in front of one: either may lose a request', async () => {
    const store = createMemoryStore();
    const never = () => new Promise<never>(() => undefined);
    const copy = withStoreDeadlines({ ...store, getRule: never }, 50, 'ruleStore');
    const proxy = withStoreDeadlines(new Proxy(store, { get: (target, key) => (key === 'getRule' ? never : Reflect.get(target, key)) }), 50, 'ruleStore');
    for (const bounded of [copy, proxy]) {
      const error: unknown = await bounded.getRule('acc', 'x').catch((e: unknown) => e);
      expect(isAutomationError(error) && error.code === 'CRM_ERR_STORE_TIMEOUT' && error.retryable).toBe(true);
    }
  });

  it('is declared per object: another store object of the same shape is bounded', async () => {
    const declared = declareInProcessStore({ read: () => new Promise<never>(() => undefined) });
    const other = { read: () => new Promise<never>(() => undefined) };
    expect(withStoreDeadlines(declared, 50, 'x')).toBe(declared);
    const error: unknown = await withStoreDeadlines(other, 50, 'x').read().catch((e: unknown) => e);
    expect(isAutomationError(error) && error.code === 'CRM_ERR_STORE_TIMEOUT').toBe(true);
  });
});
