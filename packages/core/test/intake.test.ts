import { describe, expect, it, vi } from 'vitest';
import {
  createAutomationEngine,
  createManualClock,
  createMemoryBus,
  createMemoryStore,
  createRecordingChannel,
  EventValidationError,
} from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';

function setup() {
  const clock = createManualClock('2026-03-01T10:00:00Z');
  const store = createMemoryStore();
  const bus = createMemoryBus({ retryDelayMs: 1 });
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({ store, bus, clock, channels: { sms } });
  return { clock, store, bus, sms, engine };
}

describe('intake', () => {
  it('stores one pending trigger per matching enabled rule, due at event time + delay', async () => {
    const { engine } = setup();
    const five = await engine.rules.create(ACCOUNT, technicianSmsRule);
    const now = await engine.rules.create(ACCOUNT, { ...technicianSmsRule, delay: { value: 30, unit: 'seconds' } });
    await engine.rules.create(ACCOUNT, { ...technicianSmsRule, enabled: false });
    await engine.rules.create(ACCOUNT, { ...technicianSmsRule, trigger: { eventName: 'job.created' } });
    await engine.rules.create('acc_other', technicianSmsRule);

    const triggers = await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload, timestamp: '2026-03-01T09:59:00Z', id: 'evt-1' });
    expect(triggers.map((t) => [t.ruleId, t.evaluateAt.toISOString(), t.status, t.attempt])).toEqual([
      [five.id, '2026-03-01T10:04:00.000Z', 'pending', 0],
      [now.id, '2026-03-01T09:59:30.000Z', 'pending', 0],
    ]);
    expect(triggers[0]?.triggeringEvent).toEqual({ id: 'evt-1', name: 'job.status.changed', timestamp: new Date('2026-03-01T09:59:00Z'), payload: doneJobPayload });
    expect(triggers[0]?.executionHistory).toEqual([]);
  });

  it('looks rules up by (account, event name), never by listing all rules', async () => {
    const { engine, store } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    const find = vi.spyOn(store, 'findRulesForEvent');
    const list = vi.spyOn(store, 'listRules');
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
    expect(find).toHaveBeenCalledWith(ACCOUNT, 'job.status.changed');
    expect(list).not.toHaveBeenCalled();
  });

  it('the same event delivered twice creates no second trigger, and is not an error', async () => {
    const { engine, store } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    const event = { name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload, id: 'evt-42' };
    const first = await engine.ingest(event);
    const again = await engine.ingest(event);
    expect(again.map((t) => t.id)).toEqual(first.map((t) => t.id));
    expect(store.size.triggers).toBe(1);
    // The same id in another account is another event.
    await engine.rules.create('acc_2', technicianSmsRule);
    await engine.ingest({ ...event, accountId: 'acc_2' });
    expect(store.size.triggers).toBe(2);
  });

  it.each([
    ['no name', { accountId: ACCOUNT, payload: {} }, 'name'],
    ['no accountId', { name: 'job.created', payload: {} }, 'accountId'],
    ['a payload that is not an object', { name: 'job.created', accountId: ACCOUNT, payload: [1, 2] }, 'payload'],
    ['a string payload', { name: 'job.created', accountId: ACCOUNT, payload: 'job' }, 'payload'],
    ['a bad timestamp', { name: 'job.created', accountId: ACCOUNT, payload: {}, timestamp: 'yesterday' }, 'timestamp'],
  ])('rejects an event with %s with a typed error naming the field', async (_label, event, path) => {
    const { engine } = setup();
    for (const call of [() => engine.ingest(event as never), () => engine.publish(event as never)]) {
      const error = (await call().catch((e: unknown) => e)) as EventValidationError;
      expect(error).toBeInstanceOf(EventValidationError);
      expect(error.code).toBe('CRM_ERR_EVENT_INVALID');
      expect(error.retryable).toBe(false);
      expect(error.issues[0]?.path).toBe(path);
    }
  });

  it('rejects non-objects and oversized payloads', async () => {
    const { engine } = setup();
    await expect(engine.ingest(null as never)).rejects.toBeInstanceOf(EventValidationError);
    await expect(engine.ingest('job.created' as never)).rejects.toBeInstanceOf(EventValidationError);
    const big = { name: 'job.created', accountId: ACCOUNT, payload: { blob: 'x'.repeat(300_000) } };
    await expect(engine.ingest(big)).rejects.toMatchObject({ issues: [{ path: 'payload', code: 'too_large' }] });
  });

  it('publish on the memory bus resolves after intake stored the triggers', async () => {
    const { engine } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    const { id } = await engine.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
    const { items } = await engine.triggers.list(ACCOUNT);
    expect(items).toHaveLength(1);
    expect(items[0]?.triggeringEvent.id).toBe(id);
  });

  it('a malformed message on the bus is dead-lettered with its reason and the stream keeps flowing', async () => {
    const { engine, bus } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    await engine.start();
    try {
      await bus.publishRaw('{not json');
      await bus.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: 'nope' } as never);
      await bus.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
      await bus.idle();
      const dead = await bus.deadLetters.list();
      expect(dead.map((d) => d.reason)).toEqual(['message is not valid JSON', expect.stringContaining('payload') as string]);
      expect((await engine.triggers.list(ACCOUNT)).items).toHaveLength(1);
    } finally {
      await engine.stop();
    }
  });

  it('a transient intake failure is redelivered and the event is not lost', async () => {
    const { engine, store, bus } = setup();
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    const real = store.insertTriggers.bind(store);
    let failures = 2;
    vi.spyOn(store, 'insertTriggers').mockImplementation(async (...args) => {
      if (failures-- > 0) throw new Error('store unavailable');
      return real(...args);
    });
    await engine.start();
    try {
      await bus.publish({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
      await bus.idle();
      expect((await engine.triggers.list(ACCOUNT)).items).toHaveLength(1);
      expect(await bus.deadLetters.list()).toEqual([]);
    } finally {
      await engine.stop();
    }
  });
});

describe('templates and facts are safe', () => {
  it('cannot reach prototypes through templates or JSONPath', async () => {
    const clock = createManualClock(0);
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
    await engine.rules.create(ACCOUNT, {
      ...technicianSmsRule,
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [{ fact: 'job', path: '$.constructor', operator: 'equal', value: null }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: '[{{job.constructor}}][{{job.__proto__}}][{{lookup job "constructor"}}][{{job.name}}]' } }],
    });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: { name: 'Jane' } } });
    await engine.runDue();
    const { items } = await engine.triggers.list(ACCOUNT);
    // `$.constructor` resolves to undefined (own properties only), so `equal null` is false: skipped.
    expect(items[0]?.executionHistory[0]?.conditions?.[0]).toMatchObject({ factResult: undefined, result: false });

    await engine.rules.create(ACCOUNT, {
      ...technicianSmsRule,
      trigger: { eventName: 'x' },
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: '[{{job.constructor}}][{{job.__proto__}}][{{lookup job "constructor"}}][{{job.name}}]' } }],
    });
    await engine.ingest({ name: 'x', accountId: ACCOUNT, payload: { job: { name: 'Jane' } } });
    await engine.runDue();
    expect(sms.sent[0]?.params['message']).toBe('[][][][Jane]');
  });

  it('does not HTML-escape text messages', async () => {
    const clock = createManualClock(0);
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
    await engine.rules.create(ACCOUNT, { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' }, conditions: { all: [] } });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: { ...doneJobPayload.job, client: { name: "O'Brien & Sons <LLC>" } } } });
    await engine.runDue();
    expect(sms.sent[0]?.params['message']).toBe("Hi Jane Doe, job #J-5541 for O'Brien & Sons <LLC> has been completed.");
  });

  it('encodes values substituted into webhook URLs', async () => {
    const clock = createManualClock(0);
    const webhook = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { webhook } });
    await engine.rules.create(ACCOUNT, {
      ...technicianSmsRule,
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [] },
      actions: [{ type: 'webhook', params: { url: 'https://example.com/jobs/{{job.id}}?n={{job.number}}' } }],
    });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: { id: '../admin?x=1', number: 'J 1' } } });
    await engine.runDue();
    expect(webhook.sent[0]?.params['url']).toBe('https://example.com/jobs/..%2Fadmin%3Fx%3D1?n=J%201');
  });
});
