import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore, createRecordingChannel, isAutomationError, type AutomationStore } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The memory store, except that the first call of `method` never settles (a request a driver lost). */
function losingFirst(store: AutomationStore, method: keyof AutomationStore): { store: AutomationStore; lost: () => number } {
  let lost = 0;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== method || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (lost === 0) {
          lost += 1;
          return new Promise(() => undefined);
        }
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { store: proxy, lost: () => lost };
}

function engineOn(store: AutomationStore, options: { storeTimeoutMs?: number } = {}) {
  const sms = createRecordingChannel();
  const errors: unknown[] = [];
  const engine = createAutomationEngine({ store, channels: { sms }, leaseMs: 1_500, sendTimeoutMs: 500, pollIntervalMs: 20, ...options });
  engine.on('loop:error', (error) => errors.push(error));
  return { engine, sms, errors };
}

describe('store requests that never answer', () => {
  for (const method of ['finishAttempts', 'claimDueTriggers', 'getRule'] as const) {
    it(`a lost ${method} fails the pass with CRM_ERR_STORE_TIMEOUT and the loop goes on: every trigger sent once`, async () => {
      const { store, lost } = losingFirst(createMemoryStore(), method);
      const { engine, sms, errors } = engineOn(store, { storeTimeoutMs: 300 });
      await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
      for (let i = 0; i < 5; i++) await engine.ingest({ id: `evt-${i}`, name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
      await engine.start();
      const deadline = Date.now() + 20_000;
      const done = async () => (await engine.triggers.list('acc_1', { status: 'completed', limit: 10 })).items.length;
      while ((await done()) < 5 && Date.now() < deadline) await sleep(50);
      await engine.stop();

      expect(lost()).toBe(1);
      expect(await done()).toBe(5);
      expect(new Set(sms.sent.map((c) => c.metadata.triggerId)).size).toBe(5);
      // A lost outcome write leaves its send done; the retry after the lease finds it in the ledger.
      expect(sms.sent).toHaveLength(5);
      // A lost claim fails the pass itself (a lost outcome write leaves that trigger unsaved, a lost rule read fails that trigger's attempt).
      if (method === 'claimDueTriggers') {
        expect(errors.some((e) => isAutomationError(e) && e.code === 'CRM_ERR_STORE_TIMEOUT' && e.retryable)).toBe(true);
      }
    }, 30_000);
  }

  it('refuses a storeTimeoutMs that is not a positive integer', () => {
    expect(() => createAutomationEngine({ store: createMemoryStore(), storeTimeoutMs: 0 })).toThrow(/storeTimeoutMs must be a positive integer/);
  });
});
