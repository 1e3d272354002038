import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type AutomationStore } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Counts the claim and nextDueAt queries a store receives. */
function counting(store: AutomationStore, withWakeUps: boolean) {
  const calls = { claims: 0, nextDueAt: 0 };
  const { watchDue, ...rest } = store;
  const counted: AutomationStore = {
    ...rest,
    claimDueTriggers: (request) => ((calls.claims += 1), store.claimDueTriggers(request)),
    nextDueAt: () => ((calls.nextDueAt += 1), store.nextDueAt()),
    ...(withWakeUps && watchDue ? { watchDue } : {}),
  };
  return { store: counted, calls };
}

async function idleFor(ms: number, clock: ReturnType<typeof createManualClock>) {
  for (let t = 0; t < ms; t += 1_000) {
    await clock.advance(1_000);
    await flush();
  }
}

describe('an idle claim loop', () => {
  it('sleeps until the next due time when the store announces new triggers, polling only as a backstop', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const { store, calls } = counting(createMemoryStore(), true);
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store, clock, channels: { sms } });
    await engine.rules.create('acc_1', technicianSmsRule); // 5 minutes' delay
    await engine.start();
    await flush();
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    const before = { ...calls };
    await idleFor(4 * 60_000, clock);
    // Four idle minutes cost a handful of queries (the 30 s backstop), not two every 500 ms.
    expect(calls.claims - before.claims).toBeLessThanOrEqual(10);
    expect(calls.nextDueAt - before.nextDueAt).toBeLessThanOrEqual(10);
    expect(sms.sent).toHaveLength(0);
    await idleFor(61_000, clock);
    expect(sms.sent).toHaveLength(1);
    await engine.stop();
  });

  it('polls at pollIntervalMs when the store cannot announce triggers', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const { store, calls } = counting(createMemoryStore(), false);
    const engine = createAutomationEngine({ store, clock, channels: { sms: createRecordingChannel() } });
    await engine.start();
    await flush();
    const before = { ...calls };
    await idleFor(10_000, clock);
    expect(calls.claims - before.claims).toBeGreaterThanOrEqual(10);
    await engine.stop();
  });

  it('wakes for a trigger another engine stored, at once, through the shared store', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const shared = createMemoryStore();
    const smsA = createRecordingChannel();
    const smsB = createRecordingChannel();
    const a = createAutomationEngine({ store: shared, clock, channels: { sms: smsA } });
    const b = createAutomationEngine({ store: shared, clock, channels: { sms: smsB } });
    await a.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await a.start();
    await flush();
    await idleFor(3_000, clock); // A is now asleep on its 30 s backstop.
    // B only ingests (it does not run a loop): A must pick the trigger up without waiting 30 s.
    await b.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    await flush();
    await clock.advance(0);
    for (let i = 0; i < 5 && smsA.sent.length === 0; i++) await flush();
    expect(smsA.sent).toHaveLength(1);
    expect(smsB.sent).toHaveLength(0);
    await a.stop();
  });
});
