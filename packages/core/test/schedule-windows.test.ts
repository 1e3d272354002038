import { describe, expect, it } from 'vitest';
import { computeDueTime, type ScheduleWindow } from '@crm-automation/core';
import { eventOf, expectDue, intlLocal, intlWeekday, scheduleOf, type DueCase } from './schedule-expectations.js';

// Expected instants worked out by hand from the tz rules (see schedule-time-zones.test.ts for the
// transitions). Weeks used: 2026-03-02 (Mon) to 03-08 (Sun, New York springs forward at 02:00) and
// on to 03-13 (Fri); London's 2026-10-25 (Sun, falls back); Sydney's 2027-04-04 (Sun, DST ends).
// None of those weeks holds a public holiday of the zone's country (Easter 2027 is a week earlier),
// so "the next business day" is the next Monday to Friday: the window knows no holiday calendar.

const NY = 'America/New_York';
const LONDON = 'Europe/London';
const SYDNEY = 'Australia/Sydney';
const KOLKATA = 'Asia/Kolkata';

const NOW_2026 = '2026-01-01T00:00:00Z';
const BUSINESS_HOURS: ScheduleWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' };
const threeDaysAfterAt10 = (timeZone: string) => ({ timeZone, offset: { value: 3, unit: 'days' as const }, at: '10:00', window: BUSINESS_HOURS });
const threeDaysAfter = (timeZone: string) => ({ timeZone, offset: { value: 3, unit: 'days' as const }, window: BUSINESS_HOURS });

type WindowCase = DueCase & { weekday: string };

const businessDayCases: WindowCase[] = [
  { case: 'New York, Mon + 3 days is Thu 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-02T15:00:00-05:00', now: NOW_2026, utc: '2026-03-05T15:00:00.000Z', local: '2026-03-05T10:00:00.000-05:00', weekday: 'Thu' },
  { case: 'New York, Tue + 3 days is Fri 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-03T15:00:00-05:00', now: NOW_2026, utc: '2026-03-06T15:00:00.000Z', local: '2026-03-06T10:00:00.000-05:00', weekday: 'Fri' },
  { case: 'New York, Wed + 3 days is Sat: Monday 10:00, after spring forward', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-04T15:00:00-05:00', now: NOW_2026, utc: '2026-03-09T14:00:00.000Z', local: '2026-03-09T10:00:00.000-04:00', notes: ['window'], weekday: 'Mon' },
  { case: 'New York, Thu + 3 days is Sun (the DST day): Monday 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-05T15:00:00-05:00', now: NOW_2026, utc: '2026-03-09T14:00:00.000Z', local: '2026-03-09T10:00:00.000-04:00', notes: ['window'], weekday: 'Mon' },
  { case: 'New York, Fri + 3 days is Mon 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-06T15:00:00-05:00', now: NOW_2026, utc: '2026-03-09T14:00:00.000Z', local: '2026-03-09T10:00:00.000-04:00', weekday: 'Mon' },
  { case: 'New York, Sat + 3 days is Tue 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-07T15:00:00-05:00', now: NOW_2026, utc: '2026-03-10T14:00:00.000Z', local: '2026-03-10T10:00:00.000-04:00', weekday: 'Tue' },
  { case: 'New York, Sun + 3 days is Wed 10:00', schedule: threeDaysAfterAt10(NY), startsAt: '2026-03-08T15:00:00-04:00', now: NOW_2026, utc: '2026-03-11T14:00:00.000Z', local: '2026-03-11T10:00:00.000-04:00', weekday: 'Wed' },
  { case: 'London, Wed + 3 days is Sat: Monday 10:00 GMT, after fall back', schedule: threeDaysAfterAt10(LONDON), startsAt: '2026-10-21T12:00:00+01:00', now: NOW_2026, utc: '2026-10-26T10:00:00.000Z', local: '2026-10-26T10:00:00.000Z', notes: ['window'], weekday: 'Mon' },
  { case: 'London, Thu + 3 days is Sun (the DST day): Monday 10:00 GMT', schedule: threeDaysAfterAt10(LONDON), startsAt: '2026-10-22T12:00:00+01:00', now: NOW_2026, utc: '2026-10-26T10:00:00.000Z', local: '2026-10-26T10:00:00.000Z', notes: ['window'], weekday: 'Mon' },
  { case: 'London, Fri + 3 days is Mon 10:00 GMT', schedule: threeDaysAfterAt10(LONDON), startsAt: '2026-10-23T12:00:00+01:00', now: NOW_2026, utc: '2026-10-26T10:00:00.000Z', local: '2026-10-26T10:00:00.000Z', weekday: 'Mon' },
  { case: 'Sydney, Wed + 3 days is Sat: Monday 10:00 AEST, after DST ends', schedule: threeDaysAfterAt10(SYDNEY), startsAt: '2027-03-31T12:00:00+11:00', now: '2027-01-01T00:00:00Z', utc: '2027-04-05T00:00:00.000Z', local: '2027-04-05T10:00:00.000+10:00', notes: ['window'], weekday: 'Mon' },
  { case: 'Sydney, Thu + 3 days is Sun (the DST day): Monday 10:00 AEST', schedule: threeDaysAfterAt10(SYDNEY), startsAt: '2027-04-01T12:00:00+11:00', now: '2027-01-01T00:00:00Z', utc: '2027-04-05T00:00:00.000Z', local: '2027-04-05T10:00:00.000+10:00', notes: ['window'], weekday: 'Mon' },
  { case: 'Kolkata, Wed + 3 days is Sat: Monday 10:00 IST', schedule: threeDaysAfterAt10(KOLKATA), startsAt: '2026-03-04T12:00:00+05:30', now: NOW_2026, utc: '2026-03-09T04:30:00.000Z', local: '2026-03-09T10:00:00.000+05:30', notes: ['window'], weekday: 'Mon' },
  // Without `at`, a time outside the hours moves to the next opening, 08:00.
  { case: 'New York, no at: Sun 15:00 moves to Mon 08:00 EDT', schedule: threeDaysAfter(NY), startsAt: '2026-03-05T15:00:00-05:00', now: NOW_2026, utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['window'], weekday: 'Mon' },
  { case: 'New York, no at: Fri 19:00 moves to Mon 08:00 EDT', schedule: threeDaysAfter(NY), startsAt: '2026-03-03T19:00:00-05:00', now: NOW_2026, utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['window'], weekday: 'Mon' },
  { case: 'New York, no at: Thu 07:00 moves to Thu 08:00', schedule: threeDaysAfter(NY), startsAt: '2026-03-02T07:00:00-05:00', now: NOW_2026, utc: '2026-03-05T13:00:00.000Z', local: '2026-03-05T08:00:00.000-05:00', notes: ['window'], weekday: 'Thu' },
  { case: 'New York, no at: Thu 18:00 (the end is exclusive) moves to Fri 08:00', schedule: threeDaysAfter(NY), startsAt: '2026-03-02T18:00:00-05:00', now: NOW_2026, utc: '2026-03-06T13:00:00.000Z', local: '2026-03-06T08:00:00.000-05:00', notes: ['window'], weekday: 'Fri' },
  { case: 'New York, no at: Thu 17:59 stays', schedule: threeDaysAfter(NY), startsAt: '2026-03-02T17:59:00-05:00', now: NOW_2026, utc: '2026-03-05T22:59:00.000Z', local: '2026-03-05T17:59:00.000-05:00', weekday: 'Thu' },
  { case: 'New York, at 07:00 (before the hours) moves to 08:00 that day', schedule: { ...threeDaysAfter(NY), at: '07:00' }, startsAt: '2026-03-02T15:00:00-05:00', now: NOW_2026, utc: '2026-03-05T13:00:00.000Z', local: '2026-03-05T08:00:00.000-05:00', notes: ['window'], weekday: 'Thu' },
  { case: 'New York, at 19:00 (after the hours) on Sun moves to Mon 08:00', schedule: { ...threeDaysAfter(NY), at: '19:00' }, startsAt: '2026-03-05T15:00:00-05:00', now: NOW_2026, utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['window'], weekday: 'Mon' },
];

const FRI_SAT_NIGHTS: ScheduleWindow = { days: ['fri', 'sat'], from: '22:00', to: '06:00' };
const WEEKDAY_NIGHTS: ScheduleWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '22:00', to: '06:00' };
const EVERY_NIGHT: ScheduleWindow = { from: '22:00', to: '06:00' };
const dayAfterAt = (window: ScheduleWindow, at: string) => ({ timeZone: NY, offset: { value: 1, unit: 'days' as const }, at, window });

/** 22:00–06:00: an opening belongs to the day it starts, so Saturday 03:00 is Friday night. */
const wrappingCases: WindowCase[] = [
  { case: 'Sat 03:00 is inside Friday night', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-07T03:00:00', now: NOW_2026, utc: '2026-03-07T08:00:00.000Z', local: '2026-03-07T03:00:00.000-05:00', weekday: 'Sat' },
  { case: 'Fri 03:00 is Thursday night, not open: Fri 22:00', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-06T03:00:00', now: NOW_2026, utc: '2026-03-07T03:00:00.000Z', local: '2026-03-06T22:00:00.000-05:00', notes: ['window'], weekday: 'Fri' },
  { case: 'Fri 23:00 is inside Friday night', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-06T23:00:00', now: NOW_2026, utc: '2026-03-07T04:00:00.000Z', local: '2026-03-06T23:00:00.000-05:00', weekday: 'Fri' },
  { case: 'Sat 07:00 waits for Saturday night', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-07T07:00:00', now: NOW_2026, utc: '2026-03-08T03:00:00.000Z', local: '2026-03-07T22:00:00.000-05:00', notes: ['window'], weekday: 'Sat' },
  { case: 'Sun 04:00 EDT is inside Saturday night, after spring forward', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-08T04:00:00', now: NOW_2026, utc: '2026-03-08T08:00:00.000Z', local: '2026-03-08T04:00:00.000-04:00', weekday: 'Sun' },
  { case: 'Sun 02:30 is inside Saturday night but does not exist: 03:00 EDT', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-08T02:30:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'], weekday: 'Sun' },
  { case: 'Sun 06:00 (the end is exclusive) waits for the next Friday night', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-08T06:00:00', now: NOW_2026, utc: '2026-03-14T02:00:00.000Z', local: '2026-03-13T22:00:00.000-04:00', notes: ['window'], weekday: 'Fri' },
  { case: 'Sun 23:00 is Sunday night, not open', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-08T23:00:00', now: NOW_2026, utc: '2026-03-14T02:00:00.000Z', local: '2026-03-13T22:00:00.000-04:00', notes: ['window'], weekday: 'Fri' },
  { case: 'Mon 01:00 is Sunday night, not open', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-03-09T01:00:00', now: NOW_2026, utc: '2026-03-14T02:00:00.000Z', local: '2026-03-13T22:00:00.000-04:00', notes: ['window'], weekday: 'Fri' },
  { case: 'Sun 01:30 on fall-back night is inside Saturday night: the first 01:30', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS }, startsAt: '2026-11-01T01:30:00', now: NOW_2026, utc: '2026-11-01T05:30:00.000Z', local: '2026-11-01T01:30:00.000-04:00', notes: ['dst-overlap'], weekday: 'Sun' },
  { case: 'at 02:00 on Friday nights only: Saturday 02:00', schedule: dayAfterAt({ days: ['fri'], from: '22:00', to: '06:00' }, '02:00'), startsAt: '2026-03-02T12:00:00-05:00', now: NOW_2026, utc: '2026-03-07T07:00:00.000Z', local: '2026-03-07T02:00:00.000-05:00', notes: ['window'], weekday: 'Sat' },
  { case: 'at 02:00 on Saturday nights only: Sunday 02:00, which does not exist', schedule: dayAfterAt({ days: ['sat'], from: '22:00', to: '06:00' }, '02:00'), startsAt: '2026-03-02T12:00:00-05:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['window', 'dst-gap'], weekday: 'Sun' },
  { case: 'at 23:00 on Friday nights only: Friday 23:00', schedule: dayAfterAt({ days: ['fri'], from: '22:00', to: '06:00' }, '23:00'), startsAt: '2026-03-02T12:00:00-05:00', now: NOW_2026, utc: '2026-03-07T04:00:00.000Z', local: '2026-03-06T23:00:00.000-05:00', notes: ['window'], weekday: 'Fri' },
  // New York repeats 01:00-01:59 on 11-01 (EDT, then EST). A window move is a move later in time:
  // from the second 01:10 (EST) the next 01:20 is the second one too, not the first, 50 minutes earlier.
  { case: 'fall-back night: from the second 01:10 (EST) to a 01:20 opening: 01:20 EST', schedule: { timeZone: NY, window: { from: '01:20', to: '03:00' } }, startsAt: '2026-11-01T01:10:00-05:00', now: NOW_2026, utc: '2026-11-01T06:20:00.000Z', local: '2026-11-01T01:20:00.000-05:00', notes: ['window', 'dst-overlap'], weekday: 'Sun' },
  { case: 'fall-back night: from the first 01:10 (EDT) to a 01:20 opening: 01:20 EDT', schedule: { timeZone: NY, window: { from: '01:20', to: '03:00' } }, startsAt: '2026-11-01T01:10:00-04:00', now: NOW_2026, utc: '2026-11-01T05:20:00.000Z', local: '2026-11-01T01:20:00.000-04:00', notes: ['window', 'dst-overlap'], weekday: 'Sun' },
  { case: 'fall-back night: from Saturday noon to a 01:20 opening: the first 01:20', schedule: { timeZone: NY, window: { from: '01:20', to: '03:00' } }, startsAt: '2026-10-31T12:00:00-04:00', now: NOW_2026, utc: '2026-11-01T05:20:00.000Z', local: '2026-11-01T01:20:00.000-04:00', notes: ['window', 'dst-overlap'], weekday: 'Sun' },
  { case: 'London every night: noon waits for 22:00 GMT', schedule: { timeZone: LONDON, window: EVERY_NIGHT }, startsAt: '2026-03-28T12:00:00', now: NOW_2026, utc: '2026-03-28T22:00:00.000Z', local: '2026-03-28T22:00:00.000Z', notes: ['window'], weekday: 'Sat' },
  { case: 'London every night: 05:59 BST after spring forward is inside', schedule: { timeZone: LONDON, window: EVERY_NIGHT }, startsAt: '2026-03-29T05:59:00', now: NOW_2026, utc: '2026-03-29T04:59:00.000Z', local: '2026-03-29T05:59:00.000+01:00', weekday: 'Sun' },
  { case: 'London every night: 06:00 BST waits for 22:00 BST', schedule: { timeZone: LONDON, window: EVERY_NIGHT }, startsAt: '2026-03-29T06:00:00', now: NOW_2026, utc: '2026-03-29T21:00:00.000Z', local: '2026-03-29T22:00:00.000+01:00', notes: ['window'], weekday: 'Sun' },
  { case: 'Sydney weekday nights: Sat 01:00 is Friday night', schedule: { timeZone: SYDNEY, window: WEEKDAY_NIGHTS }, startsAt: '2026-10-03T01:00:00', now: NOW_2026, utc: '2026-10-02T15:00:00.000Z', local: '2026-10-03T01:00:00.000+10:00', weekday: 'Sat' },
  { case: 'Sydney weekday nights: Sun 01:00 (Saturday night) waits for Mon 22:00 AEDT', schedule: { timeZone: SYDNEY, window: WEEKDAY_NIGHTS }, startsAt: '2026-10-04T01:00:00', now: NOW_2026, utc: '2026-10-05T11:00:00.000Z', local: '2026-10-05T22:00:00.000+11:00', notes: ['window'], weekday: 'Mon' },
  { case: 'Kolkata weekday nights: Sat 05:59 is Friday night', schedule: { timeZone: KOLKATA, window: WEEKDAY_NIGHTS }, startsAt: '2026-03-07T05:59:00', now: NOW_2026, utc: '2026-03-07T00:29:00.000Z', local: '2026-03-07T05:59:00.000+05:30', weekday: 'Sat' },
];

describe.each([
  ['3 days after at 10:00 on the next business day', businessDayCases],
  ['a window that wraps past midnight', wrappingCases],
])('computeDueTime: %s', (_title, rows) => {
  it.each(rows)('$case', (row) => {
    const result = computeDueTime(scheduleOf(row), eventOf(row), new Date(row.now));
    expectDue(result, row);
    expect(result.ok && result.schedule).toMatchObject({ timeZone: row.schedule.timeZone, zoneSource: 'rule', anchor: row.startsAt });
  });

  it('has literals that agree with the tz database (Intl), weekdays included', () => {
    for (const row of rows) {
      const zone = row.schedule.timeZone ?? 'UTC';
      expect({ local: intlLocal(zone, row.utc), weekday: intlWeekday(zone, row.utc) }, row.case).toEqual({ local: row.local, weekday: row.weekday });
    }
  });
});

describe('computeDueTime: ifPast with a window', () => {
  /** Saturday 2026-03-07 10:00 EST; New York springs forward the next night. */
  const SATURDAY = '2026-03-07T15:00:00Z';
  const reminder = { timeZone: NY, offset: { value: -1, unit: 'days' as const }, at: '09:00', window: BUSINESS_HOURS };

  it.each([
    { case: 'skip', ifPast: 'skip' as const },
    { case: 'absent, for an anchor in the payload', ifPast: undefined },
  ])('ifPast $case: a past due time is refused as past, with the time it would have had', ({ ifPast }) => {
    const result = computeDueTime({ anchor: '$.startsAt', ...reminder, ifPast }, eventOf({ startsAt: '2026-03-06T12:00:00-05:00' }), new Date(SATURDAY));
    expect(result).toMatchObject({ ok: false, reason: 'past', schedule: { timeZone: NY, zoneSource: 'rule', local: '2026-03-05T09:00:00.000-05:00', notes: [] } });
    expect(result.ok ? undefined : result.evaluateAt?.toISOString()).toBe('2026-03-05T14:00:00.000Z');
    expect(intlLocal(NY, '2026-03-05T14:00:00.000Z')).toBe('2026-03-05T09:00:00.000-05:00');
  });

  const pastCases: DueCase[] = [
    { case: 'now on a Saturday: the next opening, Monday 08:00 EDT', schedule: { ...reminder, ifPast: 'now' }, startsAt: '2026-03-06T12:00:00-05:00', now: SATURDAY, utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['past-now', 'window'] },
    { case: 'now on a Friday at 10:00, inside the hours: now', schedule: { ...reminder, ifPast: 'now' }, startsAt: '2026-03-06T12:00:00-05:00', now: '2026-03-06T15:00:00Z', utc: '2026-03-06T15:00:00.000Z', local: '2026-03-06T10:00:00.000-05:00', notes: ['past-now'] },
    { case: 'now on a Friday at 18:30: Monday 08:00 EDT', schedule: { ...reminder, ifPast: 'now' }, startsAt: '2026-03-06T12:00:00-05:00', now: '2026-03-06T23:30:00Z', utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['past-now', 'window'] },
    { case: 'absent for event.timestamp (now): Monday 08:00 EDT', schedule: { anchor: 'event.timestamp', timeZone: NY, window: BUSINESS_HOURS }, timestamp: '2026-03-06T14:00:00Z', now: SATURDAY, utc: '2026-03-09T12:00:00.000Z', local: '2026-03-09T08:00:00.000-04:00', notes: ['past-now', 'window'] },
    // Moved to Saturday 22:00 EST (03:00Z), which is past at 03:30 EDT on Sunday, inside the same night.
    { case: 'now inside a wrapping window, across spring forward: now', schedule: { timeZone: NY, window: FRI_SAT_NIGHTS, ifPast: 'now' }, startsAt: '2026-03-07T12:00:00-05:00', now: '2026-03-08T07:30:00Z', utc: '2026-03-08T07:30:00.000Z', local: '2026-03-08T03:30:00.000-04:00', notes: ['window', 'past-now'] },
    // At 01:30 EST on the spring-forward day the next opening is 02:00, which does not exist.
    { case: 'now before an opening that falls in the gap: 03:00 EDT', schedule: { timeZone: NY, window: { from: '02:00', to: '04:00' }, ifPast: 'now' }, startsAt: '2026-03-07T03:00:00-05:00', now: '2026-03-08T06:30:00Z', utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['past-now', 'window', 'dst-gap'] },
    // Due at the first 01:20 (05:20Z), past at 01:10 EST (06:10Z): the next opening after now is the second 01:20.
    { case: 'now on fall-back night, before a 01:20 opening the second time round: 01:20 EST', schedule: { timeZone: NY, window: { from: '01:20', to: '03:00' }, ifPast: 'now' }, startsAt: '2026-10-31T12:00:00-04:00', now: '2026-11-01T06:10:00Z', utc: '2026-11-01T06:20:00.000Z', local: '2026-11-01T01:20:00.000-05:00', notes: ['window', 'dst-overlap', 'past-now', 'window', 'dst-overlap'] },
    { case: 'a due time equal to now is not past', schedule: { ...reminder, offset: undefined, at: undefined, ifPast: 'skip' }, startsAt: '2026-03-06T10:00:00-05:00', now: '2026-03-06T15:00:00Z', utc: '2026-03-06T15:00:00.000Z', local: '2026-03-06T10:00:00.000-05:00' },
  ];

  it.each(pastCases)('ifPast $case', (row) => {
    const result = computeDueTime(scheduleOf(row), eventOf(row), new Date(row.now));
    expectDue(result, row);
    expect(result.ok && result.schedule).toMatchObject({ timeZone: NY, zoneSource: 'rule', anchor: row.startsAt ?? new Date(row.timestamp ?? '').toISOString() });
    expect(intlLocal(NY, row.utc)).toBe(row.local);
  });
});
