import type { NewTrigger, Rule, RuleInput } from '@crm-automation/core';

export const ACCOUNT = 'acc_12345';
export const EVENT = 'job.status.changed';

/** The design doc's first example rule, as a user would submit it (no delay, two actions). */
export function technicianRule(overrides: Partial<RuleInput> = {}): RuleInput {
  return {
    name: 'Notify Technician 5 Mins After Job Completion',
    enabled: true,
    trigger: { eventName: EVENT },
    delay: { value: 0, unit: 'minutes' },
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
    actions: [
      { type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} is done.' } },
      { type: 'email', params: { recipient: 'manager@example.com', subject: 'Job {{job.number}} done', body: 'Job {{job.number}} for {{job.client.name}} is done.' } },
    ],
    ...overrides,
  };
}

export function dueTrigger(rule: Rule, eventId: string, evaluateAt: Date): NewTrigger {
  return {
    accountId: rule.accountId,
    ruleId: rule.id,
    ruleVersion: rule.version,
    evaluateAt,
    triggeringEvent: {
      id: eventId,
      name: rule.trigger.eventName,
      timestamp: evaluateAt,
      payload: { job: { id: `job_${eventId}`, number: eventId, status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
    },
  };
}

/** Waits for `check` to hold, polling; throws with `what` after `timeoutMs` (a guard, not an assertion on speed). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
