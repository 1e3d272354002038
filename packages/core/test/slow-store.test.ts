import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type AutomationStore, type ChannelGateway } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from './design-doc-rules.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The memory store with `ms` of latency on every call, as a remote database under load would have. */
function slow(store: AutomationStore, ms: number): AutomationStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await sleep(ms);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

describe('claiming on a slow store', () => {
  it('sends every trigger with a short lease: batches sized to what can start within the lease, deferrals not counted as attempts', async () => {
    const store = slow(createMemoryStore(), 10);
    const recording = createRecordingChannel();
    // 80 ms per send: with 4 at a time, a batch of 100 would take 2 s, twice the lease.
    const sms: ChannelGateway = { send: async (command) => { await sleep(80); return recording.send(command); } };
    const claims: Array<{ size: number; limit: number }> = [];
    const engine = createAutomationEngine({
      store,
      channels: { sms },
      leaseMs: 1_000,
      sendTimeoutMs: 300,
      batchSize: 100,
      concurrency: 4,
      maxAttempts: 1,
      pollIntervalMs: 20,
    });
    engine.on('batch:claimed', ({ size, limit }) => claims.push({ size, limit }));
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    for (let i = 0; i < 60; i++) await engine.ingest({ id: `evt-${i}`, name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });

    await engine.start();
    const deadline = Date.now() + 30_000;
    while (recording.sent.length < 60 && Date.now() < deadline) await sleep(50);
    await engine.stop();

    expect(recording.sent).toHaveLength(60);
    expect(new Set(recording.sent.map((c) => c.metadata.triggerId)).size).toBe(60);
    const triggers = (await engine.triggers.list('acc_1', { limit: 100 })).items;
    expect(triggers.every((t) => t.status === 'completed')).toBe(true);
    // The claim limit came down from the first guess once the time per trigger was known.
    expect(Math.max(...claims.slice(1).map((c) => c.limit))).toBeLessThan(100);
    expect(claims.every((c) => c.size <= c.limit)).toBe(true);
  }, 40_000);

  it('hands back a claimed trigger whose lease ran short before it started, without spending an attempt', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const memory = createMemoryStore();
    // Every outcome takes 800 ms (engine time) to write: the second trigger of a batch of two starts
    // 800 ms into a 1,000 ms lease, too late for a 300 ms send.
    const { finishAttempts: _batched, ...oneByOne } = memory;
    const store: AutomationStore = { ...oneByOne, finishAttempt: async (...args) => { await clock.advance(800); return memory.finishAttempt(...args); } };
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store, clock, channels: { sms }, leaseMs: 1_000, sendTimeoutMs: 300, concurrency: 1, batchSize: 2, maxAttempts: 1 });
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    for (const id of ['a', 'b']) await engine.ingest({ id, name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });

    const first = await engine.runDue();
    expect(first).toMatchObject({ claimed: 3, completed: 2, retrying: 1, failed: 0 });
    expect(sms.sent).toHaveLength(2);
    const triggers = (await engine.triggers.list('acc_1')).items;
    const deferred = triggers.find((t) => t.attempt === 2);
    expect(deferred?.status).toBe('completed');
    expect(deferred?.executionHistory.map((h) => h.reason ?? h.outcome)).toEqual(['lease-deferred', 'completed']);
  });
});
