import type { ScheduleDoc } from '../app/model/schedule-words.js';

// The appointment reminder, which the schedule tests (words, form, due times, the browser run and
// the screenshots) all describe: one copy, so a change to the example changes every test that uses it.

/** Keyed by the appointment, so a moved appointment reschedules its reminder. */
export const reminderTrigger = { eventName: 'appointment.booked', key: '$.appointment.id' };

/** 1 day before the appointment at 09:00 in the client's zone (else America/Chicago), weekdays 08:00–18:00. */
export const reminderSchedule = {
  anchor: '$.appointment.startsAt',
  offset: { value: -1, unit: 'days' },
  at: '09:00',
  timeZone: '$.client.timeZone',
  fallbackTimeZone: 'America/Chicago',
  window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' },
} satisfies ScheduleDoc;
