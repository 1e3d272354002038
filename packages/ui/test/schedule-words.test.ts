import { describe, expect, it } from 'vitest';
import { anchorLabel, describeDays, describeSchedule, describeZone, type ScheduleDoc } from '../app/model/schedule-words.js';
import { reminderSchedule } from './appointment-reminder.js';

const reminder: ScheduleDoc = { ...reminderSchedule, ifPast: 'skip' };

describe('a schedule in plain words', () => {
  it("says the issue's reminder the way a person would", () => {
    expect(describeSchedule(reminder)).toBe(
      "1 day before Appointment starts at, at 09:00, in the client's time zone ($.client.timeZone, else America/Chicago), weekdays 08:00–18:00, skipped if already past",
    );
  });

  it.each<[string, ScheduleDoc, string]>([
    ['after, plural, literal zone', { anchor: '$.job.closedAt', offset: { value: 3, unit: 'days' }, at: '10:00', timeZone: 'Europe/London' }, '3 days after Job closed at, at 10:00, in Europe/London, skipped if already past'],
    ['weeks before', { anchor: '$.appointment.startsAt', offset: { value: -2, unit: 'weeks' } }, '2 weeks before Appointment starts at, in UTC, skipped if already past'],
    ['one week', { anchor: '$.appointment.startsAt', offset: { value: 1, unit: 'weeks' } }, '1 week after Appointment starts at, in UTC, skipped if already past'],
    ['hours, no at', { anchor: '$.appointment.startsAt', offset: { value: -2, unit: 'hours' }, timeZone: 'Asia/Kolkata' }, '2 hours before Appointment starts at, in Asia/Kolkata, skipped if already past'],
    ['minutes', { anchor: '$.visit.start', offset: { value: 90, unit: 'minutes' } }, '90 minutes after Visit start, in UTC, skipped if already past'],
    ['one month', { anchor: '$.contract.renewsOn', offset: { value: -1, unit: 'months' }, at: '08:30' }, '1 month before Contract renews on, at 08:30, in UTC, skipped if already past'],
    ['no offset, no at: the date itself', { anchor: '$.appointment.startsAt' }, 'At Appointment starts at, in UTC, skipped if already past'],
    ['no offset, with at: that day', { anchor: '$.appointment.startsAt', at: '07:00', timeZone: 'Australia/Sydney' }, 'On the day of Appointment starts at, at 07:00, in Australia/Sydney, skipped if already past'],
    ['a zero offset reads like none', { anchor: '$.appointment.startsAt', offset: { value: 0, unit: 'days' }, at: '07:00' }, 'On the day of Appointment starts at, at 07:00, in UTC, skipped if already past'],
    ['the event timestamp', { anchor: 'event.timestamp', offset: { value: 1, unit: 'days' }, at: '09:00' }, "1 day after the event's time, at 09:00, in UTC, skipped if already past"],
    ['run now when past', { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, ifPast: 'now' }, '1 day before Appointment starts at, in UTC, run at once if already past'],
    [
      'a window past midnight',
      { anchor: '$.order.placedAt', offset: { value: 1, unit: 'hours' }, window: { from: '22:00', to: '06:00' } },
      '1 hour after Order placed at, in UTC, every day 22:00–06:00 (past midnight), skipped if already past',
    ],
    [
      'an every-day window, days listed',
      { anchor: '$.order.placedAt', window: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '09:00', to: '17:00' } },
      'At Order placed at, in UTC, every day 09:00–17:00, skipped if already past',
    ],
    ['weekends', { anchor: '$.order.placedAt', window: { days: ['sun', 'sat'], from: '10:00', to: '14:00' } }, 'At Order placed at, in UTC, weekends 10:00–14:00, skipped if already past'],
    [
      'a zone from the event, no fallback',
      { anchor: '$.appointment.startsAt', timeZone: '$.location.tz' },
      "At Appointment starts at, in the location's time zone ($.location.tz, else UTC), skipped if already past",
    ],
    ["a zone at the payload's top", { anchor: '$.startsAt', timeZone: '$.timeZone' }, "At Starts at, in the event's time zone ($.timeZone, else UTC), skipped if already past"],
  ])('%s', (_name, schedule, words) => {
    expect(describeSchedule(schedule)).toBe(words);
  });
});

describe('the parts of the words', () => {
  it('name an anchor by the last two names of its path, humanised', () => {
    expect(anchorLabel('$.appointment.startsAt')).toBe('Appointment starts at');
    expect(anchorLabel('$.job.appointment.start_time')).toBe('Appointment start time');
    expect(anchorLabel("$.job['due-date']")).toBe('Job due date');
    expect(anchorLabel('$.appointmentStartsAt')).toBe('Appointment starts at');
    expect(anchorLabel('$.job.HTMLUpdatedAt')).toBe('Job html updated at');
    expect(anchorLabel('event.timestamp')).toBe("the event's time");
    // Nothing to read: the path itself.
    expect(anchorLabel('$')).toBe('$');
    expect(anchorLabel('$.visits[0]')).toBe('Visits');
  });

  it('name the days of a window', () => {
    expect(describeDays(undefined)).toBe('every day');
    expect(describeDays(['mon', 'tue', 'wed', 'thu', 'fri'])).toBe('weekdays');
    expect(describeDays(['fri', 'mon', 'wed'])).toBe('Mon, Wed, Fri');
    expect(describeDays(['mon', 'tue', 'wed', 'thu', 'fri', 'sat'])).toBe('Mon, Tue, Wed, Thu, Fri, Sat');
    expect(describeDays([])).toBe('no day');
  });

  it('name the zone: UTC by default, a literal as it is, a path by whose it is', () => {
    expect(describeZone(undefined, undefined)).toBe('in UTC');
    expect(describeZone('America/New_York', undefined)).toBe('in America/New_York');
    expect(describeZone('$.client.timeZone', 'Europe/London')).toBe("in the client's time zone ($.client.timeZone, else Europe/London)");
    expect(describeZone('$.customer.home_zone', undefined)).toBe("in the customer's time zone ($.customer.home_zone, else UTC)");
  });
});
