import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type AutomationStore, type ChannelGateway } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

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
    // Reading a rule takes 450 ms and a send 250 ms (engine time): one at a time, the second trigger of
    // a batch of two would start 700 ms into its 1,000 ms lease, too late for a 300 ms send.
    const slowSource = { findRulesForEvent: memory.findRulesForEvent, getRule: async (a: string, id: string) => { await clock.advance(450); return memory.getRule(a, id); } };
    const recording = createRecordingChannel();
    const sms: ChannelGateway = { send: async (command) => { await clock.advance(250); return recording.send(command); } };
    const engine = createAutomationEngine({ store: memory, ruleSource: slowSource, clock, channels: { sms }, leaseMs: 1_000, sendTimeoutMs: 300, concurrency: 1, batchSize: 2, maxAttempts: 1 });
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await engine.rules.create('acc_1', { ...technicianSmsRule, name: 'second', delay: { value: 0, unit: 'minutes' } });
    await engine.ingest({ id: 'a', name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });

    const first = await engine.runDue();
    expect(first).toMatchObject({ claimed: 3, completed: 2, retrying: 1, failed: 0 });
    expect(recording.sent).toHaveLength(2);
    const triggers = (await engine.triggers.list('acc_1')).items;
    const deferred = triggers.find((t) => t.attempt === 2);
    expect(deferred?.status).toBe('completed');
    expect(deferred?.executionHistory.map((h) => h.reason ?? h.outcome)).toEqual(['lease-deferred', 'completed']);
  });

  it('stops handing back a trigger that can never finish within its lease: after a few free deferrals they count, and it fails', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const memory = createMemoryStore();
    // Every rule read takes longer than the lease allows for a send: no attempt can ever send.
    const slowSource = { findRulesForEvent: memory.findRulesForEvent, getRule: async (a: string, id: string) => { await clock.advance(800); return memory.getRule(a, id); } };
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: memory, ruleSource: slowSource, clock, channels: { sms }, leaseMs: 1_000, sendTimeoutMs: 300, maxAttempts: 2 });
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    let passes = 0;
    let failed = 0;
    while (failed === 0 && passes < 20) {
      failed += (await engine.runDue()).failed;
      passes += 1;
    }
    expect(failed).toBe(1);
    // 3 free deferrals, then the 2 attempts of the budget, then the claim that records the failure.
    expect(passes).toBe(6);
    const [trigger] = (await engine.triggers.list('acc_1')).items;
    expect(trigger?.status).toBe('failed');
    expect(trigger?.executionHistory.at(-1)?.reason).toBe('max-attempts');
    expect(sms.sent).toHaveLength(0);
  });
});

describe('claiming ahead', () => {
  it('claims the next batch while a quick one runs, and a claim that fails meanwhile is the pass error, not an unhandled rejection', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const memory = createMemoryStore();
    let claims = 0;
    const store: AutomationStore = {
      ...memory,
      claimDueTriggers: async (request) => {
        claims += 1;
        if (claims === 4) throw new Error('store went away');
        return memory.claimDueTriggers(request);
      },
    };
    const recording = createRecordingChannel();
    // Sends that take a turn of the event loop, as real I/O does.
    const sms: ChannelGateway = { send: async (command) => { await new Promise((resolve) => setImmediate(resolve)); return recording.send(command); } };
    const engine = createAutomationEngine({ store, clock, channels: { sms }, batchSize: 5, concurrency: 5 });
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    for (let i = 0; i < 30; i++) await engine.ingest({ id: `e${i}`, name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(engine.runDue()).rejects.toThrow('store went away');
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // Batches 1-3 ran (the third claimed while the second ran); the 4th claim failed.
    expect(recording.sent.length).toBe(15);
    // The next pass picks up the rest.
    expect(await engine.runDue()).toMatchObject({ completed: 15 });
    expect(recording.sent.length).toBe(30);
  });
});
