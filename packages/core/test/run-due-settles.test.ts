import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type DeliveryLedger } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The memory store's ledger, with outcome writes that take `ms` of real time (a remote database). */
function slowOutcomes(ledger: DeliveryLedger, ms: number): DeliveryLedger {
  return new Proxy(ledger, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== 'recordOutcomes' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await sleep(ms);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

describe('runDue', () => {
  it('resolves once its pass’s ledger outcomes are written, so they read back at once', async () => {
    const store = createMemoryStore();
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store, ledger: slowOutcomes(store, 100), channels: { sms }, clock });
    await engine.rules.create('acc_1', technicianSmsRule);
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    const deliveries = await store.deliveriesOfTrigger('acc_1', trigger?.id as string);
    expect(deliveries.map((d) => [d.state, d.events.map((e) => e.state).join()])).toEqual([['accepted', 'intent,accepted']]);
  });
});
