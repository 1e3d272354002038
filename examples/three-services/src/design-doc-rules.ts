/**
 * The design doc's two example rules, as a user creates them over the Rules API. Two things are
 * adjustable for a local run: where the webhook goes (the local receiver instead of
 * hooks.crm.com) and the SMS delay (seconds instead of five minutes, to watch it fire).
 *
 * The SMS rule is entity-aware (issue 16): its runs are keyed by the job's id, a newer status change
 * of the job supersedes the run still waiting for its delay, and its conditions and message see the
 * job as the CRM has it when the delay is over (the trigger service's `facts.job` loader asks the CRM
 * simulator), so a job re-opened during the delay gets no SMS and three quick changes to Done get one.
 */
export interface DesignDocRuleOptions {
  /** Default `http://127.0.0.1:4104/hooks/new-lead` (the provider stand-ins). */
  webhookUrl?: string | undefined;
  /** Default `{ value: 5, unit: 'minutes' }` as in the design doc. */
  smsDelay?: { value: number; unit: 'seconds' | 'minutes' | 'hours' | 'days' } | undefined;
}

export function technicianSmsRule(options: DesignDocRuleOptions = {}) {
  return {
    name: 'Notify Technician 5 Mins After Job Completion',
    description: "Sends an SMS to the assigned technician 5 minutes after a job's status is changed to 'Done'.",
    enabled: true,
    trigger: { eventName: 'job.status.changed', key: '$.job.id' },
    delay: options.smsDelay ?? { value: 5, unit: 'minutes' },
    evaluate: 'current' as const,
    concurrency: { mode: 'supersede' as const },
    conditions: {
      all: [
        { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
        // `notEqual null` would pass for a job with no technician at all.
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
  };
}

export function highValueJobRule(options: DesignDocRuleOptions = {}) {
  return {
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
      { type: 'email', params: { recipient: 'manager@CRM.com', subject: 'New High-Value Job: #{{job.number}}', templateId: 'new-high-value-job-template' } },
      {
        type: 'webhook',
        params: {
          url: options.webhookUrl ?? 'http://127.0.0.1:4104/hooks/new-lead',
          payload: { source: 'CRM Automation', jobId: '{{job.id}}', clientName: '{{job.client.name}}', value: '{{job.total}}' },
        },
      },
    ],
  };
}
