import type { RuleInput } from '@crm-automation/core';

// Each example is self-contained (copied out of the repository as a starting point), so it keeps its own
// copy of the design doc's data instead of importing the other example's or @crm-automation/testing's.

/** The design doc's two example rules, as a user saves them. */
export const technicianSmsRule = {
  name: 'Notify Technician 5 Mins After Job Completion',
  description: "Sends an SMS to the assigned technician 5 minutes after a job's status is changed to 'Done'.",
  enabled: true,
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 5, unit: 'minutes' },
  conditions: {
    all: [
      { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
      // `notEqual null` would pass for a job with no technician at all; `present` does not.
      { fact: 'job', path: '$.assignedTechnician.phone', operator: 'present', value: true },
    ],
  },
  actions: [
    {
      type: 'sms',
      params: {
        recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' },
        message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} for {{job.client.name}} has been completed.',
      },
    },
  ],
} satisfies RuleInput;

/**
 * The same SMS, aware of the job it is about: its runs are keyed by the job's id, a newer status change
 * of the job replaces the run waiting for its delay (`supersede`: three quick changes, one SMS), and the
 * conditions and the message see the job as the CRM has it when the delay is over (`evaluate:
 * 'current'`, read by the engine's `facts.job` loader), not as the event carried it.
 */
export const technicianSmsOnCurrentJobRule = {
  ...technicianSmsRule,
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  evaluate: 'current',
  concurrency: { mode: 'supersede' },
} satisfies RuleInput;

export const highValueJobRule = {
  name: 'Alert on New High-Value Job',
  description: 'Notifies the regional manager and updates the CRM when a job over $2000 is created.',
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  conditions: {
    all: [
      { fact: 'job', path: '$.total', operator: 'greaterThanInclusive', value: 2000 },
      { fact: 'job', path: '$.client.type', operator: 'equal', value: 'Commercial' },
    ],
  },
  actions: [
    {
      type: 'email',
      params: { recipient: 'manager@CRM.com', subject: 'New High-Value Job: #{{job.number}}', templateId: 'new-high-value-job-template' },
    },
    {
      type: 'webhook',
      params: {
        url: 'https://hooks.crm.com/new-lead',
        payload: { source: 'CRM Automation', jobId: '{{job.id}}', clientName: '{{job.client.name}}', value: '{{job.total}}' },
      },
    },
  ],
} satisfies RuleInput;

/**
 * Not in the design doc: the field-service reminder its users ask for first. 09:00 the day before the
 * appointment, in the client's time zone (from the event; New York when the client has none), never
 * on a Sunday or outside 08:00–20:00 there. Keyed by the appointment's id, so when the CRM moves the
 * appointment its next `appointment.scheduled` event moves the waiting reminder (history
 * `rescheduled`) instead of adding a second one.
 */
export const appointmentReminderRule = {
  name: 'Remind the Client the Day Before the Appointment',
  description: "Texts the client at 09:00 their time, the day before the appointment; follows the appointment when it moves.",
  enabled: true,
  trigger: { eventName: 'appointment.scheduled', key: '$.appointment.id' },
  schedule: {
    anchor: '$.appointment.startsAt',
    offset: { value: -1, unit: 'days' },
    at: '09:00',
    timeZone: '$.client.timeZone',
    fallbackTimeZone: 'America/New_York',
    window: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '08:00', to: '20:00' },
  },
  concurrency: { mode: 'supersede' },
  conditions: { all: [{ fact: 'client', path: '$.phone', operator: 'present', value: true }] },
  actions: [
    {
      type: 'sms',
      params: {
        recipient: { source: 'fact', fact: 'client', path: '$.phone' },
        message: 'Hi {{client.name}}, a reminder of your {{appointment.service}} appointment tomorrow, {{appointment.startsAtText}}.',
      },
    },
  ],
} satisfies RuleInput;
