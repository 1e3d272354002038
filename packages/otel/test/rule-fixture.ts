import type { AutomationEvent, RuleInput } from '@crm-automation/core';

/** A rule with one action of each built-in type, so a trace has one send per gateway. */
export const everyChannelRule = {
  name: 'Notify on job done',
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [
    { type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} done' } },
    { type: 'email', params: { recipient: 'manager@example.com', subject: 'Job {{job.number}}', body: 'done' } },
    { type: 'webhook', params: { url: 'https://hooks.example.com/jobs', payload: { job: '{{job.number}}' } } },
  ],
} satisfies RuleInput;

export function jobDone(accountId: string, id = `evt-${Math.random().toString(36).slice(2)}`): AutomationEvent {
  return { id, name: 'job.status.changed', accountId, payload: { job: { number: 'J-5541', status: 'Done' } } };
}
