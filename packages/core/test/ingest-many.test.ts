import { describe, expect, it, vi } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, EventValidationError } from '@crm-automation/core';
import { doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';

describe('ingestMany', () => {
  it('stores the triggers of many events with one store call and one rule lookup per (account, event name); a bad event is refused alone', async () => {
    const store = createMemoryStore();
    const insert = vi.spyOn(store, 'insertTriggers');
    const lookup = vi.spyOn(store, 'findRulesForEvent');
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const webhook = createRecordingChannel();
    const engine = createAutomationEngine({ store, clock, channels: { sms, email, webhook } });
    await engine.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    await engine.rules.create('acc_1', highValueJobRule);
    await engine.rules.create('acc_2', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });

    const events = [
      { id: 'e1', name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload },
      { id: 'e2', name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload },
      { id: 'bad', name: 'job.status.changed', accountId: 'acc_1', payload: 'not an object' },
      { id: 'e3', name: 'job.created', accountId: 'acc_1', payload: highValueJobPayload(2500, 'Commercial') },
      { id: 'e4', name: 'job.status.changed', accountId: 'acc_2', payload: doneJobPayload },
      { id: 'e5', name: 'nothing.matches', accountId: 'acc_1', payload: {} },
      { id: 'late', name: 'job.created', accountId: 'acc_1', payload: {}, timestamp: '2020-01-01T00:00:00Z' },
    ] as never[];
    const results = await engine.ingestMany(events);
    expect(results.map((r) => (r.ok ? r.triggers.length : r.error.constructor.name))).toEqual([1, 1, 'EventValidationError', 1, 1, 0, 'EventValidationError']);
    expect(results[2]?.ok === false && results[2].error).toBeInstanceOf(EventValidationError);
    expect(insert).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledTimes(4);

    // A redelivered batch creates nothing new and hands back the same triggers.
    const again = await engine.ingestMany(events.slice(0, 2));
    expect(again.map((r) => r.ok && r.triggers[0]?.id)).toEqual(results.slice(0, 2).map((r) => r.ok && r.triggers[0]?.id));

    expect(await engine.runDue()).toMatchObject({ completed: 4 });
    expect(sms.sent).toHaveLength(3);
    expect(email.sent).toHaveLength(1);
    await expect(engine.ingestMany('x' as never)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect(await engine.ingestMany([])).toEqual([]);
  });
});

describe('ingestMany, lists it cannot take', () => {
  const engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z') });
  const revoked = Proxy.revocable([] as unknown[], {});
  revoked.revoke();
  const throwingLength = new Proxy([] as unknown[], { get: (target, key) => (key === 'length' ? (() => { throw new Error('no length'); })() : Reflect.get(target, key)) });

  it.each([
    ['a revoked proxy of an array', revoked.proxy],
    ['a proxy whose length throws', throwingLength],
    ['a sparse array of a billion slots', new Array(1_000_000_000)],
    ['100,001 events', new Array(100_001).fill({ name: 'e', accountId: 'a', payload: {} })],
  ])('refuses %s with CRM_ERR_CONFIG, at once', async (_, list) => {
    await expect(engine.ingestMany(list as never)).rejects.toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });
});
