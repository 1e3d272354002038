import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AutomationError,
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
  DEFAULT_EVENT_TIME_WINDOW,
  EventValidationError,
  isAutomationError,
  type RuleInput,
} from '@crm-automation/core';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const rule = (delayDays: number): RuleInput => ({
  name: 'r',
  trigger: { eventName: 'job.created' },
  delay: { value: delayDays, unit: 'days' },
  conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }],
});

function setup() {
  const clock = createManualClock(new Date(NOW));
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms } });
  return { clock, sms, engine };
}

const outOfRange = [
  8.64e15,
  -8.64e15,
  '+275760-09-13T00:00:00Z',
  '-271821-04-20T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '1970-01-01T00:00:00Z',
  0,
  -1,
  NOW + DEFAULT_EVENT_TIME_WINDOW.maxFutureMs + 1,
  NOW - DEFAULT_EVENT_TIME_WINDOW.maxAgeMs - 1,
  new Date(8.64e15),
];
const invalid = [8.64e15 + 1, 1e20, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 'not a date', '', new Date(Number.NaN), '2026-13-45T99:00:00Z'];

describe('event timestamps', () => {
  it.each(outOfRange.map((t) => [String(t), t] as const))('refuses %s with a typed error on timestamp', async (_label, timestamp) => {
    const { engine } = setup();
    await engine.rules.create('acc', rule(365));
    const error = await engine.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventValidationError);
    expect((error as EventValidationError).issues).toEqual([expect.objectContaining({ path: 'timestamp', code: 'timestamp_out_of_range' })]);
  });

  it.each(invalid.map((t) => [String(t), t] as const))('refuses the invalid timestamp %s', async (_label, timestamp) => {
    const { engine } = setup();
    const error = await engine.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventValidationError);
    expect((error as EventValidationError).issues[0]?.path).toBe('timestamp');
  });

  it('gives every accepted timestamp a valid evaluateAt, for any delay', async () => {
    const { engine } = setup();
    await engine.rules.create('acc', rule(365));
    await engine.rules.create('acc', rule(0));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: NOW - 30 * 86_400_000, max: NOW + 30 * 86_400_000 }), async (t) => {
        const inWindow = t <= NOW + DEFAULT_EVENT_TIME_WINDOW.maxFutureMs && t >= NOW - DEFAULT_EVENT_TIME_WINDOW.maxAgeMs;
        const result = await engine.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp: t }).catch((e: unknown) => e);
        if (!inWindow) {
          expect(result).toBeInstanceOf(EventValidationError);
          return;
        }
        expect(Array.isArray(result)).toBe(true);
        for (const trigger of result as Array<{ evaluateAt: Date }>) expect(Number.isFinite(trigger.evaluateAt.getTime())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('takes the window from engine options, refusing unknown keys and bad values', () => {
    expect(() => createAutomationEngine({ store: createMemoryStore(), eventTimeWindow: { maxAgeMs: -1 } })).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    expect(() => createAutomationEngine({ store: createMemoryStore(), eventTimeWindow: { maxAge: 1 } as never })).toThrow(/maxAge.*did you mean "maxAgeMs"/);
  });

  it('keeps other accounts\' triggers in order when a store is handed a bad due time', async () => {
    const { clock, sms, engine } = setup();
    const store = engine.store;
    await engine.rules.create('good', { ...rule(0), delay: { value: 1, unit: 'minutes' } });
    await engine.ingest({ name: 'job.created', accountId: 'good', payload: { job: {} } });
    const bad = { accountId: 'bad', ruleId: 'r', ruleVersion: 1, triggeringEvent: { id: 'e', name: 'job.created', timestamp: new Date(NOW), payload: {} } };
    for (const evaluateAt of [new Date(Number.NaN), new Date(8.64e15 + 1), 'tomorrow' as unknown as Date]) {
      const error = await store.insertTriggers([{ ...bad, evaluateAt }], new Date(NOW)).catch((e: unknown) => e);
      expect(isAutomationError(error) && (error as AutomationError).code).toBe('CRM_ERR_CONFIG');
    }
    expect((await engine.runDue()).claimed).toBe(0);
    await clock.advance(60_000);
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(sms.sent).toHaveLength(1);
    expect(await store.nextDueAt()).toBeNull();
  });
});
