import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type AutomationEngine, type EngineEvents } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { cancellableReminderRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const START = '2026-03-01T10:00:00Z';

const booked = { id: 'e1', name: 'appointment.booked', accountId: ACCOUNT, payload: { appointment: { id: 'apt-1' } }, timestamp: START };
const cancelled = (id: string, timestamp: string) => ({ id, name: 'appointment.cancelled', accountId: ACCOUNT, payload: { appointment: { id: 'apt-1' } }, timestamp });

function setup(onSms?: (engine: AutomationEngine<'sms' | 'email'>) => Promise<void>) {
  const clock = createManualClock(START);
  let engine!: AutomationEngine<'sms' | 'email'>;
  const sms = createRecordingChannel({
    respond: async () => {
      await onSms?.(engine);
      return { id: 'sms-1' };
    },
  });
  const email = createRecordingChannel();
  engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, email }, backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 }, instanceId: 'engine-a' });
  const seen: EngineEvents['trigger:cancelled'][0][] = [];
  engine.on('trigger:cancelled', (info) => seen.push(info));
  return { clock, sms, email, engine, seen };
}

describe('cancel during processing', () => {
  it('a cancel that lands between action 1 and 2 stops the run: the SMS stays sent, the email is not attempted', async () => {
    let summary: unknown;
    const { sms, email, engine, seen } = setup(async (e) => {
      // The appointment is cancelled while the SMS is being sent.
      summary = (await e.ingest(cancelled('e2', '2026-03-01T10:00:01Z'))).summary;
    });
    await engine.rules.create(ACCOUNT, cancellableReminderRule);
    const [trigger] = await engine.ingest(booked);
    const counts = await engine.runDue();
    expect(counts).toMatchObject({ claimed: 1, cancelled: 1, completed: 0 });
    expect(summary).toMatchObject({ cancelled: 0, cancelRequested: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(email.calls).toHaveLength(0);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.status).toBe('cancelled');
    expect(stored?.sentActions).toEqual([0]);
    expect(stored?.executionHistory.at(-1)).toMatchObject({
      outcome: 'cancelled',
      reason: 'cancelled-by-event',
      event: { id: 'e2', name: 'appointment.cancelled' },
      actions: [expect.objectContaining({ index: 0, status: 'sent' }), expect.objectContaining({ index: 1, status: 'not-attempted' })],
    });
    expect(seen).toEqual([expect.objectContaining({ stage: 'processing', reason: 'cancelled-by-event', event: { id: 'e2', name: 'appointment.cancelled' } })]);
  });

  it('a cancel requested while a failing run processes is honoured instead of writing retrying', async () => {
    const { clock, sms, email, engine } = setup(async (e) => {
      await e.ingest(cancelled('e2', '2026-03-01T10:00:01Z'));
      throw Object.assign(new Error('503'), { retryable: true });
    });
    const { actions: _both, ...rest } = cancellableReminderRule;
    await engine.rules.create(ACCOUNT, { ...rest, actions: [{ type: 'sms', params: { recipient: '+15550001111', message: 'See you tomorrow' } }] });
    const [trigger] = await engine.ingest(booked);
    expect(await engine.runDue()).toMatchObject({ cancelled: 1, retrying: 0 });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.status).toBe('cancelled');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'e2' } });
    await clock.advance(60_000);
    expect((await engine.runDue()).claimed).toBe(0);
    expect(sms.sent).toHaveLength(0);
    expect(email.calls).toHaveLength(0);
  });

  it('an older cancel arriving during processing does not stop a newer run', async () => {
    const { sms, email, engine } = setup(async (e) => {
      await e.ingest(cancelled('e0', '2026-03-01T09:59:00Z'));
    });
    await engine.rules.create(ACCOUNT, cancellableReminderRule);
    await engine.ingest(booked);
    expect(await engine.runDue()).toMatchObject({ completed: 1, cancelled: 0 });
    expect(sms.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(1);
  });

  it('rules without cancelOn do not re-read the trigger between actions', async () => {
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, channels: { sms: createRecordingChannel(), email: createRecordingChannel() } });
    const { cancelOn: _none, ...plain } = cancellableReminderRule;
    await engine.rules.create(ACCOUNT, { ...plain, trigger: { eventName: 'appointment.booked' } });
    await engine.ingest({ ...booked, timestamp: undefined });
    let reads = 0;
    const get = store.getTrigger.bind(store);
    store.getTrigger = async (...args) => {
      reads += 1;
      return get(...args);
    };
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(reads).toBe(0);
  });
});
