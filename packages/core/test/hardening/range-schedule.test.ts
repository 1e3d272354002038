import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeDueTime, isAutomationError, type RuleSchedule } from '@crm-automation/core';

// computeDueTime is exported for other tools (docs/schedules.md): for any instant in JavaScript's date
// range, any zone and any offset (even one rule validation would refuse), it gives a valid due time or
// a skip with its reason, never a RangeError from an invalid date (the text of a note included); an
// argument that is not a date at all is a typed CRM_ERR_CONFIG.

const edges = [8.64e15, -8.64e15, 8.64e15 - 1, -8.64e15 + 1, 8.64e15 - 11 * 86_400_000, -8.64e15 + 11 * 86_400_000, 0, Date.parse('2026-06-01T12:00:00Z')];
const instant = fc.oneof(fc.constantFrom(...edges), fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: Date.parse('2026-01-01'), max: Date.parse('2027-01-01') }));
const scheduleArb: fc.Arbitrary<RuleSchedule> = fc.record(
  {
    anchor: fc.constantFrom('event.timestamp', '$.at'),
    offset: fc.record({
      value: fc.oneof(fc.integer({ min: -400, max: 400 }), fc.constantFrom(1e20, -1e20, Number.MAX_SAFE_INTEGER, 0.5)),
      unit: fc.constantFrom('seconds', 'minutes', 'hours', 'days', 'weeks', 'months'),
    }),
    at: fc.constantFrom('00:00', '09:00', '23:59'),
    timeZone: fc.constantFrom('UTC', 'America/New_York', 'Pacific/Kiritimati', 'Etc/GMT+12', 'Asia/Kolkata', 'Australia/Lord_Howe', '$.tz'),
    fallbackTimeZone: fc.constant('Europe/London'),
    window: fc.record({ from: fc.constantFrom('09:00', '22:00'), to: fc.constantFrom('10:00', '06:00'), days: fc.constantFrom(['sat'], ['mon', 'fri']) }, { requiredKeys: ['from', 'to'] }),
    ifPast: fc.constantFrom('skip', 'now'),
  },
  { requiredKeys: ['anchor'] },
) as fc.Arbitrary<RuleSchedule>;
const payloadAnchor = fc.oneof(
  fc.constantFrom('9999-12-31T23:59:59Z', '0000-01-01', '+275760-09-13T00:00:00Z', '2026-02-30', '2026-06-01T24:00:00Z', '2026-06-01t09:00:00z', ''),
  instant.map((ms) => new Date(Math.max(-62_167_219_200_000, Math.min(253_402_300_799_999, ms))).toISOString()),
);

describe('computeDueTime over the whole date range', () => {
  it('gives a valid due time or a skip for any instant, zone and offset', () => {
    fc.assert(
      fc.property(scheduleArb, instant, instant, payloadAnchor, fc.constantFrom('Asia/Tokyo', 'bogus', undefined), (schedule, timestampMs, nowMs, at, tz) => {
        let result: ReturnType<typeof computeDueTime>;
        try {
          result = computeDueTime(schedule, { timestamp: new Date(timestampMs), payload: { at, tz } }, new Date(nowMs));
        } catch (error) {
          // Only an argument outside the range schedules compute in is refused, and typed.
          expect(isAutomationError(error) && (error as { code: string }).code, String(error)).toBe('CRM_ERR_CONFIG');
          expect(Math.abs(timestampMs) > 8.64e15 - 10 * 86_400_000 || Math.abs(nowMs) > 8.64e15 - 10 * 86_400_000).toBe(true);
          return;
        }
        if (result.ok) {
          expect(Number.isFinite(result.evaluateAt.getTime())).toBe(true);
          expect(result.evaluateAt.getTime() - nowMs).toBeLessThanOrEqual(400 * 86_400_000);
          expect(typeof result.schedule.local).toBe('string');
        } else {
          expect(['anchor-missing', 'zone-unknown', 'past', 'beyond-horizon']).toContain(result.reason);
          if (result.evaluateAt !== undefined) expect(Number.isFinite(result.evaluateAt.getTime())).toBe(true);
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('refuses a timestamp or now that is not a date with CRM_ERR_CONFIG', () => {
    const schedule: RuleSchedule = { anchor: 'event.timestamp', offset: { value: 1, unit: 'days' } };
    for (const bad of [new Date(Number.NaN), '2026-06-01', Date.now(), null, undefined, new Date(8.64e15)]) {
      expect(() => computeDueTime(schedule, { timestamp: bad as Date, payload: {} }, new Date())).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
      expect(() => computeDueTime(schedule, { timestamp: new Date(), payload: {} }, bad as Date)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
    }
  });
});
