import type { RuleInput } from '@crm-automation/core';

/**
 * An appointment reminder by SMS then email, due at once, keyed by the appointment and cancelled when
 * it is: the rule of the tests of a cancel that arrives while a run is sending (the engine's, and the
 * metrics that count it). One copy, so both test the same run.
 */
export const cancellableReminderRule = {
  name: 'Appointment reminder',
  trigger: { eventName: 'appointment.booked', key: '$.appointment.id' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [] },
  cancelOn: [{ eventName: 'appointment.cancelled' }],
  actions: [
    { type: 'sms', params: { recipient: '+15550001111', message: 'See you tomorrow' } },
    { type: 'email', params: { recipient: 'client@example.com', subject: 'Reminder', body: 'See you tomorrow' } },
  ],
} satisfies RuleInput;
