import type { RuleInput } from '@crm-automation/core';

/*
 * The design doc's two example rules and its example payloads, as a user would save and send them (no
 * _id, account or timestamps). Tests of every package and the UI's end-to-end test build the same
 * documents, so they live here once; a test that changes one copies it first (`{ ...rule, name }`).
 */

/** "Notify Technician 5 Mins After Job Completion": an SMS to the assigned technician, 5 minutes after. */
export const technicianSmsRule = {
  name: 'Notify Technician 5 Mins After Job Completion',
  description: "Sends an SMS to the assigned technician 5 minutes after a job's status is changed to 'Done'.",
  enabled: true,
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 5, unit: 'minutes' },
  conditions: {
    all: [
      { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
      { fact: 'job', path: '$.assignedTechnician.phone', operator: 'notEqual', value: null },
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

/** "Alert on New High-Value Job": an email to the manager and a webhook to the CRM, straight away. */
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
      params: {
        recipient: 'manager@CRM.com',
        subject: 'New High-Value Job: #{{job.number}}',
        templateId: 'new-high-value-job-template',
      },
    },
    {
      type: 'webhook',
      params: {
        url: 'https://hooks.crm.com/new-lead',
        payload: {
          source: 'CRM Automation',
          jobId: '{{job.id}}',
          clientName: '{{job.client.name}}',
          value: '{{job.total}}',
        },
      },
    },
  ],
} satisfies RuleInput;

/** The design doc's `pending_triggers` example payload: a job set to Done, with its technician's phone. */
export const doneJobPayload = {
  job: {
    id: 'job_abc123',
    number: 'J-5541',
    status: 'Done',
    client: { name: 'John Smith' },
    assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' },
  },
};

/** A `job.created` payload for the high-value rule; `total` and `clientType` decide whether it matches. */
export const highValueJobPayload = (total: number, clientType: string) => ({
  job: { id: 'job_hv_1', number: 'J-9001', total, client: { name: 'Acme Corp', type: clientType } },
});

/** The design doc's rules and payloads together, for a test that goes through all of them. */
export const designDocRules = {
  rules: { technicianSms: technicianSmsRule, highValueJob: highValueJobRule },
  payloads: { doneJob: doneJobPayload, highValueJob: highValueJobPayload },
} as const;
