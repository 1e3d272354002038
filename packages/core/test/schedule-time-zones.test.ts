import { describe, expect, it } from 'vitest';
import { computeDueTime, MAX_SCHEDULE_HORIZON_MS } from '@crm-automation/core';
import { TimeZone } from '../src/scheduling/time-zones.js';
import { eventOf, expectDue, intlLocal, scheduleOf, type DueCase } from './schedule-expectations.js';

// Every expected instant below was worked out by hand from the tz rules of the zone (2026 unless
// said): New York springs forward Sun 03-08 02:00 EST -> 03:00 EDT (07:00Z) and falls back Sun 11-01
// 02:00 EDT -> 01:00 EST (06:00Z); London Sun 03-29 01:00 GMT -> 02:00 BST (01:00Z) and Sun 10-25
// 02:00 BST -> 01:00 GMT (01:00Z); Sydney (southern hemisphere) ends DST Sun 04-05 03:00 AEDT ->
// 02:00 AEST (04-04 16:00Z) and starts it Sun 10-04 02:00 AEST -> 03:00 AEDT (10-03 16:00Z); Lord
// Howe moves by 30 minutes: Sun 04-05 02:00 +11:00 -> 01:30 +10:30 (04-04 15:00Z) and Sun 10-04
// 02:00 +10:30 -> 02:30 +11:00 (10-03 15:30Z); Kolkata is +05:30 all year; Apia skipped Friday
// 2011-12-30 (Thu 23:59:59 -10:00 -> Sat 00:00 +14:00 at 12-30 10:00Z); Santiago springs forward at
// midnight, Sat 09-05 24:00 -04:00 -> Sun 01:00 -03:00 (09-06 04:00Z). Each row's UTC/local pair is
// also checked against Intl below, so a typo in a table fails as such.

const NY = 'America/New_York';
const LONDON = 'Europe/London';
const SYDNEY = 'Australia/Sydney';
const KOLKATA = 'Asia/Kolkata';
const LORD_HOWE = 'Australia/Lord_Howe';
const APIA = 'Pacific/Apia';
const SANTIAGO = 'America/Santiago';

/** Intake for the 2026 rows: early enough that every 2026 due time is ahead and inside the horizon. */
const NOW_2026 = '2026-01-01T00:00:00Z';

const dayBefore9 = (timeZone: string) => ({ timeZone, offset: { value: -1, unit: 'days' as const }, at: '09:00' });

/** "At 09:00 the day before", the anchor and the due time on both sides of each transition. */
const dayBeforeCases: DueCase[] = [
  { case: 'New York, both before spring forward', schedule: dayBefore9(NY), startsAt: '2026-03-07T15:00:00-05:00', now: NOW_2026, utc: '2026-03-06T14:00:00.000Z', local: '2026-03-06T09:00:00.000-05:00' },
  { case: 'New York, anchor after spring forward, due before it', schedule: dayBefore9(NY), startsAt: '2026-03-08T15:00:00-04:00', now: NOW_2026, utc: '2026-03-07T14:00:00.000Z', local: '2026-03-07T09:00:00.000-05:00' },
  { case: 'New York, due on the spring-forward day, after the change', schedule: dayBefore9(NY), startsAt: '2026-03-09T15:00:00-04:00', now: NOW_2026, utc: '2026-03-08T13:00:00.000Z', local: '2026-03-08T09:00:00.000-04:00' },
  { case: 'New York, both after spring forward', schedule: dayBefore9(NY), startsAt: '2026-03-10T15:00:00-04:00', now: NOW_2026, utc: '2026-03-09T13:00:00.000Z', local: '2026-03-09T09:00:00.000-04:00' },
  { case: 'New York, anchor after fall back, due before it', schedule: dayBefore9(NY), startsAt: '2026-11-01T15:00:00-05:00', now: NOW_2026, utc: '2026-10-31T13:00:00.000Z', local: '2026-10-31T09:00:00.000-04:00' },
  { case: 'New York, due on the fall-back day, after the change', schedule: dayBefore9(NY), startsAt: '2026-11-02T15:00:00-05:00', now: NOW_2026, utc: '2026-11-01T14:00:00.000Z', local: '2026-11-01T09:00:00.000-05:00' },
  { case: 'London, anchor in BST, due in GMT (spring)', schedule: dayBefore9(LONDON), startsAt: '2026-03-29T10:00:00+01:00', now: NOW_2026, utc: '2026-03-28T09:00:00.000Z', local: '2026-03-28T09:00:00.000Z' },
  { case: 'London, due on the spring-forward day', schedule: dayBefore9(LONDON), startsAt: '2026-03-30T10:00:00+01:00', now: NOW_2026, utc: '2026-03-29T08:00:00.000Z', local: '2026-03-29T09:00:00.000+01:00' },
  { case: 'London, anchor in GMT, due in BST (autumn)', schedule: dayBefore9(LONDON), startsAt: '2026-10-25T10:00:00Z', now: NOW_2026, utc: '2026-10-24T08:00:00.000Z', local: '2026-10-24T09:00:00.000+01:00' },
  { case: 'London, due on the fall-back day', schedule: dayBefore9(LONDON), startsAt: '2026-10-26T10:00:00Z', now: NOW_2026, utc: '2026-10-25T09:00:00.000Z', local: '2026-10-25T09:00:00.000Z' },
  { case: 'Sydney, anchor after DST ends (April), due before', schedule: dayBefore9(SYDNEY), startsAt: '2026-04-05T10:00:00+10:00', now: NOW_2026, utc: '2026-04-03T22:00:00.000Z', local: '2026-04-04T09:00:00.000+11:00' },
  { case: 'Sydney, due on the day DST ends', schedule: dayBefore9(SYDNEY), startsAt: '2026-04-06T10:00:00+10:00', now: NOW_2026, utc: '2026-04-04T23:00:00.000Z', local: '2026-04-05T09:00:00.000+10:00' },
  { case: 'Sydney, anchor after DST starts (October), due before', schedule: dayBefore9(SYDNEY), startsAt: '2026-10-04T10:00:00+11:00', now: NOW_2026, utc: '2026-10-02T23:00:00.000Z', local: '2026-10-03T09:00:00.000+10:00' },
  { case: 'Sydney, due on the day DST starts', schedule: dayBefore9(SYDNEY), startsAt: '2026-10-05T10:00:00+11:00', now: NOW_2026, utc: '2026-10-03T22:00:00.000Z', local: '2026-10-04T09:00:00.000+11:00' },
  { case: 'Kolkata, over New York\'s spring forward (no DST of its own)', schedule: dayBefore9(KOLKATA), startsAt: '2026-03-08T15:00:00+05:30', now: NOW_2026, utc: '2026-03-07T03:30:00.000Z', local: '2026-03-07T09:00:00.000+05:30' },
  { case: 'Kolkata, a UTC anchor already on the next Kolkata day', schedule: dayBefore9(KOLKATA), startsAt: '2026-03-08T20:00:00Z', now: NOW_2026, utc: '2026-03-08T03:30:00.000Z', local: '2026-03-08T09:00:00.000+05:30' },
  { case: 'Lord Howe, anchor after the 30-minute fall back, due before', schedule: dayBefore9(LORD_HOWE), startsAt: '2026-04-05T10:00:00+10:30', now: NOW_2026, utc: '2026-04-03T22:00:00.000Z', local: '2026-04-04T09:00:00.000+11:00' },
  { case: 'Lord Howe, due on the fall-back day', schedule: dayBefore9(LORD_HOWE), startsAt: '2026-04-06T10:00:00+10:30', now: NOW_2026, utc: '2026-04-04T22:30:00.000Z', local: '2026-04-05T09:00:00.000+10:30' },
  { case: 'Lord Howe, anchor after the 30-minute spring forward, due before', schedule: dayBefore9(LORD_HOWE), startsAt: '2026-10-04T10:00:00+11:00', now: NOW_2026, utc: '2026-10-02T22:30:00.000Z', local: '2026-10-03T09:00:00.000+10:30' },
  { case: 'Lord Howe, due on the spring-forward day', schedule: dayBefore9(LORD_HOWE), startsAt: '2026-10-05T10:00:00+11:00', now: NOW_2026, utc: '2026-10-03T22:00:00.000Z', local: '2026-10-04T09:00:00.000+11:00' },
  // Apia's 2011-12-30 never happened: 09:00 that day is a gap 24 hours wide, so the next valid
  // instant is the first moment of 12-31.
  { case: 'Apia, the day before falls on the skipped day', schedule: dayBefore9(APIA), startsAt: '2011-12-31T10:00:00+14:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T10:00:00.000Z', local: '2011-12-31T00:00:00.000+14:00', notes: ['dst-gap'] },
  { case: 'Apia, the day before the day after the skip', schedule: dayBefore9(APIA), startsAt: '2012-01-01T10:00:00+14:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T19:00:00.000Z', local: '2011-12-31T09:00:00.000+14:00' },
  { case: 'Apia, 1 day after the last day before the skip', schedule: { timeZone: APIA, offset: { value: 1, unit: 'days' }, at: '09:00' }, startsAt: '2011-12-29T10:00:00-10:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T10:00:00.000Z', local: '2011-12-31T00:00:00.000+14:00', notes: ['dst-gap'] },
  { case: 'Apia, 2 days after the last day before the skip', schedule: { timeZone: APIA, offset: { value: 2, unit: 'days' }, at: '09:00' }, startsAt: '2011-12-29T10:00:00-10:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T19:00:00.000Z', local: '2011-12-31T09:00:00.000+14:00' },
];

/** Local times that do not exist (spring forward: the transition instant) or exist twice (the first). */
const gapAndOverlapCases: DueCase[] = [
  { case: 'New York 02:30 on spring-forward day -> 03:00 EDT', schedule: { timeZone: NY }, startsAt: '2026-03-08T02:30:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'] },
  { case: 'New York 02:00, the first missing minute', schedule: { timeZone: NY }, startsAt: '2026-03-08T02:00:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'] },
  { case: 'New York 02:59:59, the last missing second', schedule: { timeZone: NY }, startsAt: '2026-03-08T02:59:59', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'] },
  { case: 'New York 02:30:00.500, a missing time with milliseconds', schedule: { timeZone: NY }, startsAt: '2026-03-08T02:30:00.500', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'] },
  { case: 'New York 01:59, just before the gap', schedule: { timeZone: NY }, startsAt: '2026-03-08T01:59:00', now: NOW_2026, utc: '2026-03-08T06:59:00.000Z', local: '2026-03-08T01:59:00.000-05:00' },
  { case: 'New York 03:00, just after the gap', schedule: { timeZone: NY }, startsAt: '2026-03-08T03:00:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00' },
  { case: 'New York at 02:30 the day before the 9th', schedule: { timeZone: NY, offset: { value: -1, unit: 'days' }, at: '02:30' }, startsAt: '2026-03-09T10:00:00-04:00', now: NOW_2026, utc: '2026-03-08T07:00:00.000Z', local: '2026-03-08T03:00:00.000-04:00', notes: ['dst-gap'] },
  { case: 'New York 01:30 on fall-back day -> the first, EDT', schedule: { timeZone: NY }, startsAt: '2026-11-01T01:30:00', now: NOW_2026, utc: '2026-11-01T05:30:00.000Z', local: '2026-11-01T01:30:00.000-04:00', notes: ['dst-overlap'] },
  { case: 'New York 01:00, the first repeated minute', schedule: { timeZone: NY }, startsAt: '2026-11-01T01:00:00', now: NOW_2026, utc: '2026-11-01T05:00:00.000Z', local: '2026-11-01T01:00:00.000-04:00', notes: ['dst-overlap'] },
  { case: 'New York 00:59, before the repeat', schedule: { timeZone: NY }, startsAt: '2026-11-01T00:59:00', now: NOW_2026, utc: '2026-11-01T04:59:00.000Z', local: '2026-11-01T00:59:00.000-04:00' },
  { case: 'New York 02:00, after the repeat', schedule: { timeZone: NY }, startsAt: '2026-11-01T02:00:00', now: NOW_2026, utc: '2026-11-01T07:00:00.000Z', local: '2026-11-01T02:00:00.000-05:00' },
  { case: 'New York at 01:30 the day before the 2nd', schedule: { timeZone: NY, offset: { value: -1, unit: 'days' }, at: '01:30' }, startsAt: '2026-11-02T10:00:00-05:00', now: NOW_2026, utc: '2026-11-01T05:30:00.000Z', local: '2026-11-01T01:30:00.000-04:00', notes: ['dst-overlap'] },
  { case: 'New York, an anchor naming the second 01:30 keeps it', schedule: { timeZone: NY }, startsAt: '2026-11-01T01:30:00-05:00', now: NOW_2026, utc: '2026-11-01T06:30:00.000Z', local: '2026-11-01T01:30:00.000-05:00' },
  { case: 'New York, 1 day before the second 01:30 is plain 01:30 EDT', schedule: { timeZone: NY, offset: { value: -1, unit: 'days' } }, startsAt: '2026-11-01T01:30:00-05:00', now: NOW_2026, utc: '2026-10-31T05:30:00.000Z', local: '2026-10-31T01:30:00.000-04:00' },
  { case: 'New York, 1 day after 01:30 on 10-31 lands in the repeat: the first', schedule: { timeZone: NY, offset: { value: 1, unit: 'days' } }, startsAt: '2026-10-31T01:30:00-04:00', now: NOW_2026, utc: '2026-11-01T05:30:00.000Z', local: '2026-11-01T01:30:00.000-04:00', notes: ['dst-overlap'] },
  { case: 'London 01:30 on spring-forward day -> 02:00 BST', schedule: { timeZone: LONDON }, startsAt: '2026-03-29T01:30:00', now: NOW_2026, utc: '2026-03-29T01:00:00.000Z', local: '2026-03-29T02:00:00.000+01:00', notes: ['dst-gap'] },
  { case: 'London 01:30 on fall-back day -> the first, BST', schedule: { timeZone: LONDON }, startsAt: '2026-10-25T01:30:00', now: NOW_2026, utc: '2026-10-25T00:30:00.000Z', local: '2026-10-25T01:30:00.000+01:00', notes: ['dst-overlap'] },
  { case: 'Sydney 02:30 when DST starts (October) -> 03:00 AEDT', schedule: { timeZone: SYDNEY }, startsAt: '2026-10-04T02:30:00', now: NOW_2026, utc: '2026-10-03T16:00:00.000Z', local: '2026-10-04T03:00:00.000+11:00', notes: ['dst-gap'] },
  { case: 'Sydney 02:30 when DST ends (April) -> the first, AEDT', schedule: { timeZone: SYDNEY }, startsAt: '2026-04-05T02:30:00', now: NOW_2026, utc: '2026-04-04T15:30:00.000Z', local: '2026-04-05T02:30:00.000+11:00', notes: ['dst-overlap'] },
  { case: 'Lord Howe 02:15 in the 30-minute gap -> 02:30 +11:00', schedule: { timeZone: LORD_HOWE }, startsAt: '2026-10-04T02:15:00', now: NOW_2026, utc: '2026-10-03T15:30:00.000Z', local: '2026-10-04T02:30:00.000+11:00', notes: ['dst-gap'] },
  { case: 'Lord Howe 01:45 in the 30-minute repeat -> the first, +11:00', schedule: { timeZone: LORD_HOWE }, startsAt: '2026-04-05T01:45:00', now: NOW_2026, utc: '2026-04-04T14:45:00.000Z', local: '2026-04-05T01:45:00.000+11:00', notes: ['dst-overlap'] },
  { case: 'Lord Howe 01:15, before its repeat', schedule: { timeZone: LORD_HOWE }, startsAt: '2026-04-05T01:15:00', now: NOW_2026, utc: '2026-04-04T14:15:00.000Z', local: '2026-04-05T01:15:00.000+11:00' },
  { case: 'Apia 12:00 on the skipped Friday -> Saturday 00:00 +14:00', schedule: { timeZone: APIA }, startsAt: '2011-12-30T12:00:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T10:00:00.000Z', local: '2011-12-31T00:00:00.000+14:00', notes: ['dst-gap'] },
  { case: 'Apia 23:30 on the Thursday before the skip', schedule: { timeZone: APIA }, startsAt: '2011-12-29T23:30:00', now: '2011-12-01T00:00:00Z', utc: '2011-12-30T09:30:00.000Z', local: '2011-12-29T23:30:00.000-10:00' },
  { case: 'Santiago, a date-only anchor whose midnight is skipped -> 01:00', schedule: { timeZone: SANTIAGO }, startsAt: '2026-09-06', now: NOW_2026, utc: '2026-09-06T04:00:00.000Z', local: '2026-09-06T01:00:00.000-03:00', notes: ['dst-gap'] },
  { case: 'Kolkata 02:30 that morning is an ordinary time', schedule: { timeZone: KOLKATA }, startsAt: '2026-03-08T02:30:00', now: NOW_2026, utc: '2026-03-07T21:00:00.000Z', local: '2026-03-08T02:30:00.000+05:30' },
];

/** Seconds, minutes and hours are elapsed time; days, weeks and months are the calendar in the zone. */
const offsetCases: DueCase[] = [
  // 01:30 EDT (05:30Z) + 1 hour is 06:30Z, which New York shows as 01:30 EST: the clock reads the same.
  { case: 'New York, 01:30 EDT + 1 hour on fall-back day = 01:30 EST', schedule: { timeZone: NY, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-11-01T01:30:00-04:00', now: NOW_2026, utc: '2026-11-01T06:30:00.000Z', local: '2026-11-01T01:30:00.000-05:00' },
  { case: 'New York, 01:30 EST (the second) + 1 hour = 02:30 EST', schedule: { timeZone: NY, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-11-01T01:30:00-05:00', now: NOW_2026, utc: '2026-11-01T07:30:00.000Z', local: '2026-11-01T02:30:00.000-05:00' },
  { case: 'New York, local 01:30 (read as the first) + 1 hour', schedule: { timeZone: NY, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-11-01T01:30:00', now: NOW_2026, utc: '2026-11-01T06:30:00.000Z', local: '2026-11-01T01:30:00.000-05:00', notes: ['dst-overlap'] },
  { case: 'New York, 00:30 EDT + 90 minutes on fall-back day = 01:00 EST', schedule: { timeZone: NY, offset: { value: 90, unit: 'minutes' } }, startsAt: '2026-11-01T00:30:00-04:00', now: NOW_2026, utc: '2026-11-01T06:00:00.000Z', local: '2026-11-01T01:00:00.000-05:00' },
  { case: 'New York, 00:30 EDT + 24 hours on fall-back day = 23:30 EST', schedule: { timeZone: NY, offset: { value: 24, unit: 'hours' } }, startsAt: '2026-11-01T00:30:00-04:00', now: NOW_2026, utc: '2026-11-02T04:30:00.000Z', local: '2026-11-01T23:30:00.000-05:00' },
  { case: 'New York, 00:30 EDT + 1 day on fall-back day = 00:30 EST (25 hours)', schedule: { timeZone: NY, offset: { value: 1, unit: 'days' } }, startsAt: '2026-11-01T00:30:00-04:00', now: NOW_2026, utc: '2026-11-02T05:30:00.000Z', local: '2026-11-02T00:30:00.000-05:00' },
  { case: 'New York, 01:30 EST + 1 hour on spring-forward day = 03:30 EDT', schedule: { timeZone: NY, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-03-08T01:30:00-05:00', now: NOW_2026, utc: '2026-03-08T07:30:00.000Z', local: '2026-03-08T03:30:00.000-04:00' },
  { case: 'New York, 01:30 EST + 24 hours on spring-forward day = 02:30 EDT next day', schedule: { timeZone: NY, offset: { value: 24, unit: 'hours' } }, startsAt: '2026-03-08T01:30:00-05:00', now: NOW_2026, utc: '2026-03-09T06:30:00.000Z', local: '2026-03-09T02:30:00.000-04:00' },
  { case: 'New York, 01:30 EST + 1 day on spring-forward day = 01:30 EDT (23 hours)', schedule: { timeZone: NY, offset: { value: 1, unit: 'days' } }, startsAt: '2026-03-08T01:30:00-05:00', now: NOW_2026, utc: '2026-03-09T05:30:00.000Z', local: '2026-03-09T01:30:00.000-04:00' },
  { case: 'New York, 03:30 EDT - 1 hour on spring-forward day = 01:30 EST', schedule: { timeZone: NY, offset: { value: -1, unit: 'hours' } }, startsAt: '2026-03-08T03:30:00-04:00', now: NOW_2026, utc: '2026-03-08T06:30:00.000Z', local: '2026-03-08T01:30:00.000-05:00' },
  { case: 'New York, 1 week after 09:00 EST is 09:00 EDT', schedule: { timeZone: NY, offset: { value: 1, unit: 'weeks' } }, startsAt: '2026-03-05T09:00:00-05:00', now: NOW_2026, utc: '2026-03-12T13:00:00.000Z', local: '2026-03-12T09:00:00.000-04:00' },
  { case: 'New York, 1 month after 09:00 EST is 09:00 EDT', schedule: { timeZone: NY, offset: { value: 1, unit: 'months' } }, startsAt: '2026-02-08T09:00:00-05:00', now: NOW_2026, utc: '2026-03-08T13:00:00.000Z', local: '2026-03-08T09:00:00.000-04:00' },
  { case: 'New York, a date-only anchor + 12 hours on spring-forward day = 13:00 EDT', schedule: { timeZone: NY, offset: { value: 12, unit: 'hours' } }, startsAt: '2026-03-08', now: NOW_2026, utc: '2026-03-08T17:00:00.000Z', local: '2026-03-08T13:00:00.000-04:00' },
  { case: 'London, 00:30 GMT + 3600 seconds on spring-forward day = 02:30 BST', schedule: { timeZone: LONDON, offset: { value: 3600, unit: 'seconds' } }, startsAt: '2026-03-29T00:30:00Z', now: NOW_2026, utc: '2026-03-29T01:30:00.000Z', local: '2026-03-29T02:30:00.000+01:00' },
  { case: 'Sydney, 02:30 AEDT + 1 hour when DST ends = 02:30 AEST', schedule: { timeZone: SYDNEY, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-04-05T02:30:00+11:00', now: NOW_2026, utc: '2026-04-04T16:30:00.000Z', local: '2026-04-05T02:30:00.000+10:00' },
  { case: 'Lord Howe, 01:45 +11:00 + 30 minutes when DST ends = 01:45 +10:30', schedule: { timeZone: LORD_HOWE, offset: { value: 30, unit: 'minutes' } }, startsAt: '2026-04-05T01:45:00+11:00', now: NOW_2026, utc: '2026-04-04T15:15:00.000Z', local: '2026-04-05T01:45:00.000+10:30' },
  { case: 'Kolkata, 1 hour after New York\'s 01:30 EST', schedule: { timeZone: KOLKATA, offset: { value: 1, unit: 'hours' } }, startsAt: '2026-03-08T01:30:00-05:00', now: NOW_2026, utc: '2026-03-08T07:30:00.000Z', local: '2026-03-08T13:00:00.000+05:30' },
];

/** The anchor's instant is read in the recipient's calendar before any day arithmetic. */
const otherZoneAnchorCases: DueCase[] = [
  // 08:00 +05:30 on 03-09 is 02:30Z, 22:30 EDT on 03-08 in New York: the day before is 03-07 (EST).
  { case: 'a Kolkata anchor for a New York recipient', schedule: dayBefore9(NY), startsAt: '2026-03-09T08:00:00+05:30', now: NOW_2026, utc: '2026-03-07T14:00:00.000Z', local: '2026-03-07T09:00:00.000-05:00' },
  { case: 'a UTC anchor already the next UTC day for a New York recipient', schedule: dayBefore9(NY), startsAt: '2026-03-10T02:00:00Z', now: NOW_2026, utc: '2026-03-08T13:00:00.000Z', local: '2026-03-08T09:00:00.000-04:00' },
  { case: 'an anchor without colon in its offset (+0530)', schedule: dayBefore9(NY), startsAt: '2026-03-09T08:00:00+0530', now: NOW_2026, utc: '2026-03-07T14:00:00.000Z', local: '2026-03-07T09:00:00.000-05:00' },
  // 20:00 EDT on 04-04 is 04-05 00:00Z, 10:00 AEST on 04-05 in Sydney.
  { case: 'a New York anchor for a Sydney recipient', schedule: dayBefore9(SYDNEY), startsAt: '2026-04-04T20:00:00-04:00', now: NOW_2026, utc: '2026-04-03T22:00:00.000Z', local: '2026-04-04T09:00:00.000+11:00' },
  // 01:30 EST on 11-01 is 06:30Z, 12:00 IST on 11-01.
  { case: 'a New York (second 01:30) anchor for a Kolkata recipient', schedule: dayBefore9(KOLKATA), startsAt: '2026-11-01T01:30:00-05:00', now: NOW_2026, utc: '2026-10-31T03:30:00.000Z', local: '2026-10-31T09:00:00.000+05:30' },
  // 05:00 +05:30 on 10-25 is 10-24 23:30Z, 00:30 BST on 10-25 in London (BST lasts until 01:00Z).
  { case: 'a Kolkata anchor for a London recipient, from the payload', schedule: { timeZone: '$.client.timeZone', offset: { value: -1, unit: 'days' }, at: '09:00' }, startsAt: '2026-10-25T05:00:00+05:30', payload: { client: { timeZone: LONDON } }, now: NOW_2026, utc: '2026-10-24T08:00:00.000Z', local: '2026-10-24T09:00:00.000+01:00' },
];

/** Date-only anchors are local midnight in the recipient's zone; date-times without offset are its wall clock. */
const localAnchorCases: DueCase[] = [
  { case: 'New York, a date-only anchor, the day before at 09:00', schedule: dayBefore9(NY), startsAt: '2026-03-10', now: NOW_2026, utc: '2026-03-09T13:00:00.000Z', local: '2026-03-09T09:00:00.000-04:00' },
  { case: 'New York, a date-only anchor as is: local midnight', schedule: { timeZone: NY }, startsAt: '2026-03-10', now: NOW_2026, utc: '2026-03-10T04:00:00.000Z', local: '2026-03-10T00:00:00.000-04:00' },
  { case: 'New York, midnight of the spring-forward day is EST', schedule: { timeZone: NY }, startsAt: '2026-03-08', now: NOW_2026, utc: '2026-03-08T05:00:00.000Z', local: '2026-03-08T00:00:00.000-05:00' },
  { case: 'Kolkata, a date-only anchor is the previous UTC day', schedule: { timeZone: KOLKATA }, startsAt: '2026-03-10', now: NOW_2026, utc: '2026-03-09T18:30:00.000Z', local: '2026-03-10T00:00:00.000+05:30' },
  { case: 'Lord Howe, a date-only anchor on its spring-forward day', schedule: { timeZone: LORD_HOWE }, startsAt: '2026-10-04', now: NOW_2026, utc: '2026-10-03T13:30:00.000Z', local: '2026-10-04T00:00:00.000+10:30' },
  { case: 'London, 09:00 without offset on the fall-back day is GMT', schedule: { timeZone: LONDON }, startsAt: '2026-10-25T09:00:00', now: NOW_2026, utc: '2026-10-25T09:00:00.000Z', local: '2026-10-25T09:00:00.000Z' },
  { case: 'London, 09:00 without offset the day before is BST', schedule: { timeZone: LONDON }, startsAt: '2026-10-24T09:00:00', now: NOW_2026, utc: '2026-10-24T08:00:00.000Z', local: '2026-10-24T09:00:00.000+01:00' },
  { case: 'Sydney, a date-time with a space and no offset', schedule: { timeZone: SYDNEY }, startsAt: '2026-04-05 09:00', now: NOW_2026, utc: '2026-04-04T23:00:00.000Z', local: '2026-04-05T09:00:00.000+10:00' },
];

/** Leap days: 2028 is a leap year, 2027 and 2029 are not. Intake on 2028-02-01. */
const NOW_2028 = '2028-02-01T00:00:00Z';
const leapDayCases: DueCase[] = [
  { case: '2028-02-29 + 12 months is 2029-02-28 (month end)', schedule: { offset: { value: 12, unit: 'months' } }, startsAt: '2028-02-29T10:00:00Z', now: NOW_2028, utc: '2029-02-28T10:00:00.000Z', local: '2029-02-28T10:00:00.000Z', notes: ['month-end'] },
  { case: '2028-02-29 + 1 month is 2028-03-29', schedule: { offset: { value: 1, unit: 'months' } }, startsAt: '2028-02-29T10:00:00Z', now: NOW_2028, utc: '2028-03-29T10:00:00.000Z', local: '2028-03-29T10:00:00.000Z' },
  { case: '2028-01-31 + 1 month is the leap day (month end)', schedule: { offset: { value: 1, unit: 'months' } }, startsAt: '2028-01-31T10:00:00Z', now: '2028-01-01T00:00:00Z', utc: '2028-02-29T10:00:00.000Z', local: '2028-02-29T10:00:00.000Z', notes: ['month-end'] },
  { case: '2028-02-29 + 1 day is 2028-03-01', schedule: { offset: { value: 1, unit: 'days' } }, startsAt: '2028-02-29T10:00:00Z', now: NOW_2028, utc: '2028-03-01T10:00:00.000Z', local: '2028-03-01T10:00:00.000Z' },
  { case: '2028-03-01 - 1 day is the leap day', schedule: { offset: { value: -1, unit: 'days' } }, startsAt: '2028-03-01T10:00:00Z', now: NOW_2028, utc: '2028-02-29T10:00:00.000Z', local: '2028-02-29T10:00:00.000Z' },
  { case: 'New York, the day before a date-only leap day', schedule: dayBefore9(NY), startsAt: '2028-02-29', now: NOW_2028, utc: '2028-02-28T14:00:00.000Z', local: '2028-02-28T09:00:00.000-05:00' },
  // 08:00 +05:30 on 02-29 is 02-29 02:30Z, 02-28 21:30 EST: the day after in New York is the leap day.
  { case: 'New York, the day after a Kolkata leap-day anchor is the leap day', schedule: { timeZone: NY, offset: { value: 1, unit: 'days' }, at: '09:00' }, startsAt: '2028-02-29T08:00:00+05:30', now: NOW_2028, utc: '2028-02-29T14:00:00.000Z', local: '2028-02-29T09:00:00.000-05:00' },
  { case: 'Kolkata, the day after a late leap day', schedule: { timeZone: KOLKATA, offset: { value: 1, unit: 'days' }, at: '09:00' }, startsAt: '2028-02-29T23:00:00+05:30', now: NOW_2028, utc: '2028-03-01T03:30:00.000Z', local: '2028-03-01T09:00:00.000+05:30' },
  { case: 'Sydney (summer time), leap day + 12 months', schedule: { timeZone: SYDNEY, offset: { value: 12, unit: 'months' } }, startsAt: '2028-02-29T12:00:00+11:00', now: NOW_2028, utc: '2029-02-28T01:00:00.000Z', local: '2029-02-28T12:00:00.000+11:00', notes: ['month-end'] },
  { case: 'New York, 01-31 + 1 month in 2026 is 02-28 (month end)', schedule: { timeZone: NY, offset: { value: 1, unit: 'months' } }, startsAt: '2026-01-31T09:00:00-05:00', now: NOW_2026, utc: '2026-02-28T14:00:00.000Z', local: '2026-02-28T09:00:00.000-05:00', notes: ['month-end'] },
  { case: 'New York, 03-31 EDT - 1 month is 02-28 EST (month end)', schedule: { timeZone: NY, offset: { value: -1, unit: 'months' } }, startsAt: '2026-03-31T09:00:00-04:00', now: NOW_2026, utc: '2026-02-28T14:00:00.000Z', local: '2026-02-28T09:00:00.000-05:00', notes: ['month-end'] },
];

const tables: [string, DueCase[]][] = [
  ['1 day before at 09:00 local, across each transition', dayBeforeCases],
  ['nonexistent and repeated local times', gapAndOverlapCases],
  ['offsets: elapsed hours, calendar days', offsetCases],
  ['anchors in other zones than the recipient', otherZoneAnchorCases],
  ['date-only and local anchors', localAnchorCases],
  ['leap days and month ends', leapDayCases],
];

const zoneOf = (row: DueCase) => {
  const spec = row.schedule.timeZone ?? 'UTC';
  const fromPayload = row.payload?.['client'] as { timeZone?: string } | undefined;
  return spec.startsWith('$') ? (fromPayload?.timeZone ?? '') : spec;
};

describe.each(tables)('computeDueTime: %s', (_title, rows) => {
  it.each(rows)('$case', (row) => {
    const result = computeDueTime(scheduleOf(row), eventOf(row), new Date(row.now));
    expectDue(result, row);
    expect(result.ok && result.schedule).toMatchObject({
      timeZone: zoneOf(row),
      zoneSource: row.schedule.timeZone === undefined ? 'default' : row.schedule.timeZone.startsWith('$') ? 'payload' : 'rule',
      anchor: row.startsAt,
    });
  });

  it('has literals that agree with the tz database (Intl)', () => {
    for (const row of rows) expect(intlLocal(zoneOf(row), row.utc), row.case).toBe(row.local);
  });
});

describe('computeDueTime: anchors that are not dates', () => {
  it.each([
    ['2027-02-29T10:00:00Z', 'a leap day of a common year'],
    ['2027-02-29', 'a date-only leap day of a common year'],
    ['2100-02-29T10:00:00Z', 'a leap day of a century that is not a leap year'],
    ['2026-03-08T24:30:00', 'an hour past 24'],
    ['2026-13-01', 'a thirteenth month'],
  ])('refuses %s (%s) as anchor-missing', (startsAt) => {
    const result = computeDueTime({ anchor: '$.startsAt', timeZone: NY }, eventOf({ startsAt }), new Date(NOW_2026));
    expect(result).toMatchObject({ ok: false, reason: 'anchor-missing', schedule: { timeZone: NY, zoneSource: 'rule' } });
  });
});

describe('computeDueTime: the zone and why it was used', () => {
  const startsAt = '2026-03-10T15:00:00Z';
  const now = new Date(NOW_2026);
  it.each([
    { case: 'a rule zone', timeZone: SYDNEY, payload: {}, zone: SYDNEY, source: 'rule', utc: '2026-03-09T22:00:00.000Z', local: '2026-03-10T09:00:00.000+11:00' },
    { case: 'a payload zone', timeZone: '$.client.timeZone', payload: { client: { timeZone: KOLKATA } }, zone: KOLKATA, source: 'payload', utc: '2026-03-09T03:30:00.000Z', local: '2026-03-09T09:00:00.000+05:30' },
    { case: 'a payload zone in other case, spelled back as the tz database does', timeZone: '$.client.timeZone', payload: { client: { timeZone: 'america/new_york' } }, zone: NY, source: 'payload', utc: '2026-03-09T13:00:00.000Z', local: '2026-03-09T09:00:00.000-04:00' },
    { case: 'the fallback when the payload has none', timeZone: '$.client.timeZone', fallbackTimeZone: LORD_HOWE, payload: { client: {} }, zone: LORD_HOWE, source: 'fallback', utc: '2026-03-09T22:00:00.000Z', local: '2026-03-10T09:00:00.000+11:00' },
    { case: 'UTC when the schedule names none', payload: {}, zone: 'UTC', source: 'default', utc: '2026-03-09T09:00:00.000Z', local: '2026-03-09T09:00:00.000Z' },
  ])('$case', (row) => {
    // 15:00Z on 03-10 is already 03-11 in Sydney and Lord Howe (the day before is 03-10 there), still 03-10 elsewhere.
    const schedule = { anchor: '$.startsAt', offset: { value: -1, unit: 'days' as const }, at: '09:00', timeZone: row.timeZone, fallbackTimeZone: row.fallbackTimeZone };
    const result = computeDueTime(schedule, eventOf({ startsAt, payload: row.payload }), now);
    expectDue(result, row);
    expect(result.ok && result.schedule).toMatchObject({ timeZone: row.zone, zoneSource: row.source, anchor: startsAt });
    expect(intlLocal(row.zone, row.utc)).toBe(row.local);
  });

  it('skips an unknown payload zone, and a missing one without fallback, as zone-unknown', () => {
    const schedule = { anchor: '$.startsAt', timeZone: '$.client.timeZone' };
    expect(computeDueTime(schedule, eventOf({ startsAt, payload: { client: { timeZone: 'Mars/Olympus_Mons' } } }), now)).toMatchObject({ ok: false, reason: 'zone-unknown', schedule: { timeZone: 'Mars/Olympus_Mons' } });
    expect(computeDueTime(schedule, eventOf({ startsAt, payload: {} }), now)).toMatchObject({ ok: false, reason: 'zone-unknown', schedule: {} });
  });
});

describe('computeDueTime: the horizon', () => {
  // 2026-03-02 -> 2027-03-02 is 365 days (no 2027-02-29), -> 2027-04-06 35 more: 400 days.
  const now = new Date('2026-03-02T12:00:00Z');
  it('is 400 days', () => {
    expect(MAX_SCHEDULE_HORIZON_MS).toBe(400 * 86_400_000);
  });

  it.each([
    { case: 'exactly 400 days after intake, UTC', schedule: {}, startsAt: '2027-04-06T12:00:00Z', utc: '2027-04-06T12:00:00.000Z', local: '2027-04-06T12:00:00.000Z', ok: true },
    { case: 'a second more, UTC', schedule: {}, startsAt: '2027-04-06T12:00:01Z', utc: '2027-04-06T12:00:01.000Z', local: '2027-04-06T12:00:01.000Z', ok: false },
    // 08:00 EDT on 2027-04-06 is 12:00Z (New York's DST began 2027-03-14).
    { case: 'exactly 400 days, reached by "1 day before at 08:00" in New York', schedule: { timeZone: NY, offset: { value: -1, unit: 'days' as const }, at: '08:00' }, startsAt: '2027-04-07T10:00:00-04:00', utc: '2027-04-06T12:00:00.000Z', local: '2027-04-06T08:00:00.000-04:00', ok: true },
    { case: 'a minute more, at 08:01', schedule: { timeZone: NY, offset: { value: -1, unit: 'days' as const }, at: '08:01' }, startsAt: '2027-04-07T10:00:00-04:00', utc: '2027-04-06T12:01:00.000Z', local: '2027-04-06T08:01:00.000-04:00', ok: false },
    { case: 'an anchor inside the horizon pushed beyond by its offset', schedule: { timeZone: KOLKATA, offset: { value: 13, unit: 'months' as const } }, startsAt: '2026-03-10T09:00:00+05:30', utc: '2027-04-10T03:30:00.000Z', local: '2027-04-10T09:00:00.000+05:30', ok: false },
  ])('$case', (row) => {
    const result = computeDueTime({ anchor: '$.startsAt', ...row.schedule }, eventOf(row), now);
    expect(intlLocal(row.schedule.timeZone ?? 'UTC', row.utc)).toBe(row.local);
    if (row.ok) {
      expectDue(result, row);
      return;
    }
    expect(result).toMatchObject({ ok: false, reason: 'beyond-horizon', schedule: { local: row.local } });
    expect(result.ok ? undefined : result.evaluateAt?.toISOString()).toBe(row.utc);
  });
});

describe('TimeZone', () => {
  /** [zone, instant, offset in minutes there]: a second either side of each transition. */
  const offsets: [string, string, number][] = [
    [NY, '2026-03-08T06:59:59Z', -300],
    [NY, '2026-03-08T07:00:00Z', -240],
    [NY, '2026-11-01T05:59:59Z', -240],
    [NY, '2026-11-01T06:00:00Z', -300],
    [LONDON, '2026-03-29T00:59:59Z', 0],
    [LONDON, '2026-03-29T01:00:00Z', 60],
    [LONDON, '2026-10-25T00:59:59Z', 60],
    [LONDON, '2026-10-25T01:00:00Z', 0],
    [SYDNEY, '2026-04-04T15:59:59Z', 660],
    [SYDNEY, '2026-04-04T16:00:00Z', 600],
    [SYDNEY, '2026-10-03T15:59:59Z', 600],
    [SYDNEY, '2026-10-03T16:00:00Z', 660],
    [KOLKATA, '2026-03-08T07:00:00Z', 330],
    [KOLKATA, '2026-07-01T00:00:00Z', 330],
    [LORD_HOWE, '2026-04-04T14:59:59Z', 660],
    [LORD_HOWE, '2026-04-04T15:00:00Z', 630],
    // Mid-hour in UTC: the hour holding it must not be memoised with one offset.
    [LORD_HOWE, '2026-10-03T15:29:59Z', 630],
    [LORD_HOWE, '2026-10-03T15:30:00Z', 660],
    [APIA, '2011-12-30T09:59:59Z', -600],
    [APIA, '2011-12-30T10:00:00Z', 840],
  ];

  it.each(offsets)('%s at %s is UTC%+d minutes', (name, instant, minutes) => {
    const zone = TimeZone.of(name);
    const ms = Date.parse(instant);
    expect(zone?.offsetMinutes(ms)).toBe(minutes);
    // Again once the memo has seen the hour's other end: it must not change the answer.
    zone?.offsetMinutes(ms - (ms % 3_600_000) + 3_599_999);
    expect(zone?.offsetMinutes(ms)).toBe(minutes);
  });

  it('gives every minute of a mid-hour transition hour the offset Intl gives it, memo warm or cold', () => {
    const zone = TimeZone.of(LORD_HOWE);
    const start = Date.parse('2026-10-03T15:00:00Z');
    for (let pass = 0; pass < 2; pass++) {
      for (let minute = 0; minute < 60; minute++) {
        const ms = start + minute * 60_000;
        expect(zone?.offsetMinutes(ms), `${minute}`).toBe(minute < 30 ? 630 : 660);
      }
    }
  });

  /** [zone, local wall clock, instant, adjustment]. */
  const instants: [string, string, string, 'dst-gap' | 'dst-overlap' | undefined][] = [
    [NY, '2026-03-08T02:30:00Z', '2026-03-08T07:00:00.000Z', 'dst-gap'],
    [NY, '2026-03-08T03:00:00Z', '2026-03-08T07:00:00.000Z', undefined],
    [NY, '2026-11-01T01:30:00Z', '2026-11-01T05:30:00.000Z', 'dst-overlap'],
    [NY, '2026-11-01T01:59:59Z', '2026-11-01T05:59:59.000Z', 'dst-overlap'],
    [NY, '2026-11-01T02:00:00Z', '2026-11-01T07:00:00.000Z', undefined],
    [LONDON, '2026-03-29T01:00:00Z', '2026-03-29T01:00:00.000Z', 'dst-gap'],
    [LONDON, '2026-10-25T01:00:00Z', '2026-10-25T00:00:00.000Z', 'dst-overlap'],
    [SYDNEY, '2026-10-04T02:00:00Z', '2026-10-03T16:00:00.000Z', 'dst-gap'],
    [SYDNEY, '2026-04-05T02:00:00Z', '2026-04-04T15:00:00.000Z', 'dst-overlap'],
    [KOLKATA, '2026-03-08T02:30:00Z', '2026-03-07T21:00:00.000Z', undefined],
    [LORD_HOWE, '2026-10-04T02:00:00Z', '2026-10-03T15:30:00.000Z', 'dst-gap'],
    [LORD_HOWE, '2026-10-04T02:29:59Z', '2026-10-03T15:30:00.000Z', 'dst-gap'],
    [LORD_HOWE, '2026-04-05T01:30:00Z', '2026-04-04T14:30:00.000Z', 'dst-overlap'],
    [APIA, '2011-12-30T00:00:00Z', '2011-12-30T10:00:00.000Z', 'dst-gap'],
    [APIA, '2011-12-30T23:59:59Z', '2011-12-30T10:00:00.000Z', 'dst-gap'],
    [APIA, '2011-12-31T00:00:00Z', '2011-12-30T10:00:00.000Z', undefined],
    [SANTIAGO, '2026-09-06T00:00:00Z', '2026-09-06T04:00:00.000Z', 'dst-gap'],
    [SANTIAGO, '2026-04-04T23:30:00Z', '2026-04-05T02:30:00.000Z', 'dst-overlap'],
  ];

  // The local wall clock is passed as milliseconds of a UTC clock showing it (the `Z` is that clock's).
  it.each(instants)('%s: local %s is %s (%s)', (name, local, instant, adjusted) => {
    const found = TimeZone.of(name)?.instantOf(Date.parse(local));
    expect(found && { instant: new Date(found.instantMs).toISOString(), adjusted: found.adjusted }).toEqual({ instant, adjusted });
  });

  it.each([
    ['before the first', '2026-11-01T05:00:00Z', '2026-11-01T05:30:00.000Z', 'first'],
    ['at the first', '2026-11-01T05:30:00Z', '2026-11-01T05:30:00.000Z', 'first'],
    ['after the first', '2026-11-01T05:30:00.001Z', '2026-11-01T06:30:00.000Z', 'second'],
    ['after the second too', '2026-11-01T07:00:00Z', '2026-11-01T05:30:00.000Z', 'first'],
  ])('New York: local 01:30 on fall-back day, not before an instant %s, is %s', (_label, notBefore, instant, occurrence) => {
    const found = TimeZone.of(NY)?.instantOf(Date.parse('2026-11-01T01:30:00Z'), Date.parse(notBefore));
    expect(found && { instant: new Date(found.instantMs).toISOString(), adjusted: found.adjusted, occurrence: found.occurrence }).toEqual({ instant, adjusted: 'dst-overlap', occurrence });
  });

  it.each([
    [NY, '2026-11-01T06:30:00Z', '2026-11-01T01:30:00.000-05:00'],
    [LONDON, '2026-07-01T12:00:00Z', '2026-07-01T13:00:00.000+01:00'],
    [LONDON, '2026-01-01T12:00:00Z', '2026-01-01T12:00:00.000Z'],
    [KOLKATA, '2026-01-01T12:00:00.250Z', '2026-01-01T17:30:00.250+05:30'],
    [LORD_HOWE, '2026-07-01T00:00:00Z', '2026-07-01T10:30:00.000+10:30'],
    [APIA, '2011-12-30T10:00:00Z', '2011-12-31T00:00:00.000+14:00'],
  ])('formats %s at %s as %s, as Intl does', (name, instant, local) => {
    expect(TimeZone.of(name)?.formatLocal(Date.parse(instant))).toBe(local);
    expect(intlLocal(name, instant)).toBe(local);
  });

  it('knows IANA names in any case, spelled back as the tz database lists them, and refuses others', () => {
    expect(TimeZone.of('australia/lord_howe')?.name).toBe(LORD_HOWE);
    expect(TimeZone.of('AMERICA/NEW_YORK')?.name).toBe(NY);
    // Intl lists this zone as its older alias, Asia/Calcutta: the name written stays the one read back.
    expect(TimeZone.of(KOLKATA)?.name).toBe(KOLKATA);
    expect(TimeZone.of('Mars/Olympus_Mons')).toBeNull();
    expect(TimeZone.of('')).toBeNull();
    expect(TimeZone.of(`${'A'.repeat(70)}`)).toBeNull();
  });
});
