import { describe, expect, it } from 'vitest';
import { computeDueTime, type RuleSchedule } from '@crm-automation/core';

/** Intake before every anchor below (and within the 400-day horizon of each), so none is past. */
const NOW = new Date('2026-01-01T00:00:00Z');
const at = (anchor: unknown, timeZone = 'UTC') => {
  const schedule: RuleSchedule = { anchor: '$.when', timeZone };
  return computeDueTime(schedule, { timestamp: NOW, payload: { when: anchor } }, NOW);
};

describe('schedule anchors: which ISO 8601 texts are read, and as what', () => {
  it.each([
    ['2026-03-10T15:00:00Z', 'UTC', '2026-03-10T15:00:00.000Z'],
    ['2026-03-10t15:00:00z', 'UTC', '2026-03-10T15:00:00.000Z'],
    ['2026-03-10 15:00:00+05:30', 'UTC', '2026-03-10T09:30:00.000Z'],
    ['2026-03-10T15:00+0530', 'UTC', '2026-03-10T09:30:00.000Z'],
    ['2026-03-10T15:00:00-04', 'UTC', '2026-03-10T19:00:00.000Z'],
    ['2026-03-10T15:00:00.5Z', 'UTC', '2026-03-10T15:00:00.500Z'],
    ['2026-03-10T15:00:00,123456789Z', 'UTC', '2026-03-10T15:00:00.123Z'],
    ['  2026-03-10T15:00:00Z  ', 'UTC', '2026-03-10T15:00:00.000Z'],
    // With an offset the zone does not change the instant.
    ['2026-03-10T15:00:00-04:00', 'Asia/Kolkata', '2026-03-10T19:00:00.000Z'],
    // Without one, the text is a wall-clock time in the zone (EDT from 2026-03-08; IST is +05:30).
    ['2026-03-10T15:00', 'America/New_York', '2026-03-10T19:00:00.000Z'],
    ['2026-03-10', 'Asia/Kolkata', '2026-03-09T18:30:00.000Z'],
    ['2026-12-31T12:00:00Z', 'UTC', '2026-12-31T12:00:00.000Z'],
    ['2026-12-31T23:59:59.999+14:00', 'UTC', '2026-12-31T09:59:59.999Z'],
  ])('%s in %s is %s', (anchor, zone, utc) => {
    const due = at(anchor, zone);
    expect(due.ok).toBe(true);
    expect(due.evaluateAt?.toISOString()).toBe(utc);
  });

  it('a year below 100 is that year, not 19xx', () => {
    const due = at('0099-03-10T00:00:00Z');
    expect(due).toMatchObject({ ok: false, reason: 'past' });
    expect(due.evaluateAt?.toISOString()).toBe('0099-03-10T00:00:00.000Z');
  });

  it.each([
    ['2026-02-30'],
    ['2027-02-29T10:00:00Z'],
    ['2026-04-31T10:00:00+05:30'],
    ['2026-13-01'],
    ['2026-00-10'],
    ['2026-03-00'],
    ['2026-03-10T24:00'],
    ['2026-03-10T15:60'],
    ['2026-03-10T15:00:60Z'],
    ['2026-03-10T15:00:00+24:00'],
    ['2026-03-10T15:00:00+05:60'],
    ['2026-W10-2'],
    ['2026-069'],
    ['20260310'],
    ['2026-03-10T15'],
    ['2026-03-10T15:00:00Z junk'],
    ['next tuesday'],
    ['x'.repeat(100)],
    [12_345],
    [{ iso: '2026-03-10' }],
    [true],
    [''],
    [null],
  ])('%j is not an anchor: anchor-missing, with a message', (anchor) => {
    const due = at(anchor);
    expect(due).toMatchObject({ ok: false, reason: 'anchor-missing' });
    if (!due.ok) expect(due.message).toMatch(/\$\.when/);
  });
});
