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

/** Every spelling an outside caller might send, with what it must read as (ISO text) or the issue code. */
const spellings: Array<[label: string, timestamp: unknown, expected: string]> = [
  ['epoch ms', NOW, '2026-06-01T12:00:00.000Z'],
  ['fractional ms', NOW + 0.75, '2026-06-01T12:00:00.000Z'],
  ['epoch seconds (1970)', NOW / 1000, 'timestamp_out_of_range'],
  ['-0', -0, 'timestamp_out_of_range'],
  ['NaN', Number.NaN, 'invalid_timestamp'],
  ['Infinity', Number.POSITIVE_INFINITY, 'invalid_timestamp'],
  ['-Infinity', Number.NEGATIVE_INFINITY, 'invalid_timestamp'],
  ['8.64e15', 8.64e15, 'timestamp_out_of_range'],
  ['8.64e15 + 1', 8.64e15 + 1, 'invalid_timestamp'],
  ['-8.64e15 - 1', -8.64e15 - 1, 'invalid_timestamp'],
  ['Z', '2026-06-01T11:00:00Z', '2026-06-01T11:00:00.000Z'],
  ['lowercase t and z', '2026-06-01t11:00:00z', '2026-06-01T11:00:00.000Z'],
  ['space separator', '2026-06-01 11:00:00Z', '2026-06-01T11:00:00.000Z'],
  ['no seconds', '2026-06-01T11:00Z', '2026-06-01T11:00:00.000Z'],
  ['fraction', '2026-06-01T11:00:00.5Z', '2026-06-01T11:00:00.500Z'],
  ['comma fraction', '2026-06-01T11:00:00,25Z', '2026-06-01T11:00:00.250Z'],
  ['nine fraction digits', '2026-06-01T11:00:00.123456789Z', '2026-06-01T11:00:00.123Z'],
  ['+14:00', '2026-06-02T01:00:00+14:00', '2026-06-01T11:00:00.000Z'],
  ['-12:00', '2026-05-31T23:00:00-12:00', '2026-06-01T11:00:00.000Z'],
  ['+0530', '2026-06-01T16:30:00+0530', '2026-06-01T11:00:00.000Z'],
  ['+05', '2026-06-01T16:00:00+05', '2026-06-01T11:00:00.000Z'],
  ['no zone: UTC', '2026-06-01T11:00:00', '2026-06-01T11:00:00.000Z'],
  ['date only: UTC midnight', '2026-06-01', '2026-06-01T00:00:00.000Z'],
  ['24:00 is the next midnight', '2026-05-31T24:00:00Z', '2026-06-01T00:00:00.000Z'],
  ['extended year', '+002026-06-01T11:00:00Z', '2026-06-01T11:00:00.000Z'],
  ['surrounding spaces', '  2026-06-01T11:00:00Z\n', '2026-06-01T11:00:00.000Z'],
  ['RFC 2822', 'Mon, 01 Jun 2026 11:00:00 GMT', '2026-06-01T11:00:00.000Z'],
  ['RFC 2822 offset', 'Mon, 01 Jun 2026 13:00:00 +0200', '2026-06-01T11:00:00.000Z'],
  ['toUTCString()', new Date(NOW).toUTCString(), '2026-06-01T12:00:00.000Z'],
  ['toISOString()', new Date(NOW).toISOString(), '2026-06-01T12:00:00.000Z'],
  ['Date', new Date(NOW), '2026-06-01T12:00:00.000Z'],
  ['+275760-09-13', '+275760-09-13T00:00:00Z', 'timestamp_out_of_range'],
  ['-271821-04-20', '-271821-04-20T00:00:00Z', 'timestamp_out_of_range'],
  ['+275760-09-14', '+275760-09-14T00:00:00Z', 'invalid_timestamp'],
  ['2026-02-30', '2026-02-30', 'invalid_timestamp'],
  ['2026-02-29 (not a leap year)', '2026-02-29T10:00:00Z', 'invalid_timestamp'],
  ['2026-04-31', '2026-04-31T10:00:00Z', 'invalid_timestamp'],
  ['2026-13-01', '2026-13-01', 'invalid_timestamp'],
  ['2026-00-10', '2026-00-10', 'invalid_timestamp'],
  ['day 00', '2026-06-00', 'invalid_timestamp'],
  ['leap second', '2026-05-31T23:59:60Z', 'invalid_timestamp'],
  ['24:30', '2026-05-31T24:30:00Z', 'invalid_timestamp'],
  ['offset +24:00', '2026-06-01T11:00:00+24:00', 'invalid_timestamp'],
  ['-000000', '-000000-01-01T00:00:00Z', 'invalid_timestamp'],
  ['week date', '2026-W23-1', 'invalid_timestamp'],
  ['ordinal date', '2026-152', 'invalid_timestamp'],
  ['numeric text', String(NOW), 'invalid_timestamp'],
  ['"1" (Date.parse: 2001)', '1', 'invalid_timestamp'],
  ['prose (Date.parse: 2026-01-01)', 'foo 2026', 'invalid_timestamp'],
  ['"June 1" (Date.parse: 2001)', 'June 1', 'invalid_timestamp'],
  ['RFC 2822 on 31 June', 'Wed, 31 Jun 2026 11:00:00 GMT', 'invalid_timestamp'],
  ['empty', '', 'invalid_timestamp'],
  ['white space', ' \t ', 'invalid_timestamp'],
  ['too long', `2026-06-01T11:00:00Z${' '.repeat(10)}x`.padEnd(200, 'x'), 'invalid_timestamp'],
  ['invalid Date', new Date(Number.NaN), 'invalid_timestamp'],
  ['null', null, 'invalid_timestamp'],
  ['boolean', true, 'invalid_timestamp'],
  ['object', { at: NOW }, 'invalid_timestamp'],
  ['array', [NOW], 'invalid_timestamp'],
  ['bigint', BigInt(NOW), 'invalid_timestamp'],
  ['boxed number', new Number(NOW), 'invalid_timestamp'],
  ['date-like object', { getTime: () => NOW }, 'invalid_timestamp'],
];

describe('event timestamp spellings', () => {
  it.each(spellings)('%s', async (_label, timestamp, expected) => {
    const { engine } = setup();
    await engine.rules.create('acc', rule(1));
    const result = await engine.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp: timestamp as never }).catch((e: unknown) => e);
    if (expected.includes('T')) {
      expect(Array.isArray(result), String(result)).toBe(true);
      const [trigger] = result as Array<{ triggeringEvent: { timestamp: Date }; evaluateAt: Date }>;
      expect(trigger?.triggeringEvent.timestamp.toISOString()).toBe(expected);
      expect(trigger?.evaluateAt.getTime()).toBe(Date.parse(expected) + 86_400_000);
    } else {
      expect(result).toBeInstanceOf(EventValidationError);
      expect((result as EventValidationError).issues).toEqual([expect.objectContaining({ path: 'timestamp', code: expected })]);
    }
    // The dry run reads a sample's timestamp the same way.
    const dry = await engine.rules.dryRun('acc', rule(1), { payload: { job: {} }, timestamp: timestamp as never }).catch((e: unknown) => e);
    if (expected.includes('T')) expect(dry).toMatchObject({ evaluateAt: new Date(Date.parse(expected) + 86_400_000) });
    else expect(dry).toMatchObject({ code: 'CRM_ERR_EVENT_INVALID', issues: [expect.objectContaining({ path: 'timestamp', code: expected })] });
  });

  it("reads a date-time without an offset as UTC, whatever the server's time zone", async () => {
    const before = process.env.TZ;
    try {
      for (const tz of ['America/New_York', 'Asia/Kolkata', 'Pacific/Kiritimati']) {
        process.env.TZ = tz;
        const { engine } = setup();
        await engine.rules.create('acc', rule(0));
        const [trigger] = await engine.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp: '2026-06-01T11:00:00' });
        expect(trigger?.triggeringEvent.timestamp.toISOString(), tz).toBe('2026-06-01T11:00:00.000Z');
      }
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it('reads every ISO 8601 spelling of a calendar date-time as the instant it names, and refuses days the month does not have', () => {
    const { engine: e } = setup();
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    return fc.assert(
      fc.asyncProperty(
        fc.record({ day: fc.integer({ min: -9, max: 1 }), d: fc.integer({ min: 1, max: 31 }), h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }), ms: fc.integer({ min: 0, max: 999 }), offset: fc.integer({ min: -12 * 60, max: 14 * 60 }) }),
        fc.constantFrom('T', 't', ' '),
        fc.constantFrom('colon', 'compact', 'zulu'),
        async ({ day, d, h, mi, s, ms, offset }, sep, zone) => {
          // A month near NOW; the day may be one it does not have.
          const month = new Date(NOW + day * 86_400_000 * 3);
          const y = month.getUTCFullYear();
          const m = month.getUTCMonth() + 1;
          const off = zone === 'zulu' ? 0 : offset;
          const sign = off < 0 ? '-' : '+';
          const zoneText = zone === 'zulu' ? 'Z' : zone === 'colon' ? `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}` : `${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
          const text = `${y}-${pad(m)}-${pad(d)}${sep}${pad(h)}:${pad(mi)}:${pad(s)}.${pad(ms, 3)}${zoneText}`;
          const exists = d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
          const instant = Date.UTC(y, m - 1, d, h, mi, s, ms) - off * 60_000;
          const result = await e.rules.dryRun('acc', rule(0), { payload: { job: {} }, timestamp: text }).catch((x: unknown) => x);
          if (!exists) {
            expect(result, text).toMatchObject({ issues: [expect.objectContaining({ path: 'timestamp', code: 'invalid_timestamp' })] });
          } else if (instant > NOW + DEFAULT_EVENT_TIME_WINDOW.maxFutureMs || instant < NOW - DEFAULT_EVENT_TIME_WINDOW.maxAgeMs) {
            expect(result, text).toMatchObject({ issues: [expect.objectContaining({ path: 'timestamp', code: 'timestamp_out_of_range' })] });
          } else {
            expect((result as { evaluateAt: Date }).evaluateAt.getTime(), text).toBe(instant);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('gives every accepted timestamp valid due times for any delay and event.timestamp schedule, however wide the window', async () => {
    const schedules: RuleInput[] = [
      { ...rule(0), name: 'max delay', delay: { value: 365, unit: 'days' } },
      { ...rule(0), name: 'schedule +400 days', delay: undefined, schedule: { anchor: 'event.timestamp', offset: { value: 400, unit: 'days' }, ifPast: 'now' } },
      { ...rule(0), name: 'schedule -400 days', delay: undefined, schedule: { anchor: 'event.timestamp', offset: { value: -400, unit: 'days' }, at: '23:59', timeZone: 'Pacific/Kiritimati', ifPast: 'now', window: { from: '22:00', to: '06:00', days: ['sat'] } } },
      { ...rule(0), name: 'schedule months', delay: undefined, schedule: { anchor: 'event.timestamp', offset: { value: 12, unit: 'months' }, timeZone: 'Etc/GMT+12' } },
    ];
    const edge = fc.constantFrom(8.64e15, -8.64e15, 8.64e15 - 1, -8.64e15 + 1, 8.64e15 - 366 * 86_400_000, 8.64e15 - 402 * 86_400_000, -8.64e15 + 402 * 86_400_000);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(edge, fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }), fc.integer({ min: NOW - 10 * 86_400_000, max: NOW + 2 * 86_400_000 })),
        fc.constantFrom<Partial<{ maxFutureMs: number; maxAgeMs: number }>>({}, { maxFutureMs: 1.8e16, maxAgeMs: 1.8e16 }, { maxFutureMs: 8.64e15 }, { maxAgeMs: 8.64e15 }),
        fc.constantFrom('number', 'Date', 'ISO text'),
        async (t, window, form) => {
          const clock = createManualClock(new Date(NOW));
          const e = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms: createRecordingChannel() }, eventTimeWindow: window });
          for (const r of schedules) await e.rules.create('acc', r);
          const timestamp = form === 'number' ? t : form === 'Date' ? new Date(t) : new Date(Math.trunc(t)).toISOString();
          const result = await e.ingest({ name: 'job.created', accountId: 'acc', payload: { job: {} }, timestamp }).catch((x: unknown) => x);
          if (result instanceof EventValidationError) {
            expect(result.issues).toEqual([expect.objectContaining({ path: 'timestamp', code: expect.stringMatching(/^(invalid_timestamp|timestamp_out_of_range)$/) })]);
            return;
          }
          expect(Array.isArray(result), String(result)).toBe(true);
          for (const trigger of result as Array<{ evaluateAt: Date }>) expect(Number.isFinite(trigger.evaluateAt.getTime())).toBe(true);
          const listed = await e.triggers.list('acc', {});
          for (const trigger of listed.items) expect(Number.isFinite(trigger.evaluateAt.getTime())).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
