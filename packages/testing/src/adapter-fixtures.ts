import type { NewDelivery, NewTrigger, Rule, RuleInput } from '@crm-automation/core';

/*
 * The rule, trigger and polling helper the MongoDB and PostgreSQL adapters' own services tests build
 * alike (engines, restarts, ledgers), kept once so both stores are tested against the same documents.
 */

/** The account the adapters' services tests write under. */
export const ADAPTER_TEST_ACCOUNT = 'acc_12345';
/** The event name the adapters' services tests' rules trigger on. */
export const ADAPTER_TEST_EVENT = 'job.status.changed';

/** The design doc's first example rule, as a user would submit it (no delay, two actions). */
export function immediateTechnicianRule(overrides: Partial<RuleInput> = {}): RuleInput {
  return {
    name: 'Notify Technician 5 Mins After Job Completion',
    enabled: true,
    trigger: { eventName: ADAPTER_TEST_EVENT },
    delay: { value: 0, unit: 'minutes' },
    conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
    actions: [
      { type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} is done.' } },
      { type: 'email', params: { recipient: 'manager@example.com', subject: 'Job {{job.number}} done', body: 'Job {{job.number}} for {{job.client.name}} is done.' } },
    ],
    ...overrides,
  };
}

/** A trigger of `rule` due at `evaluateAt`, for a Done job numbered after `eventId`. */
export function dueTriggerOf(rule: Rule, eventId: string, evaluateAt: Date): NewTrigger {
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
export async function pollUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The instant the delivery-ledger tests record their first intent at; later steps are offsets from it. */
export const DELIVERY_T0 = new Date('2030-01-01T00:00:00.000Z');

/** `ms` after {@link DELIVERY_T0}. */
export const deliveryAt = (ms: number): Date => new Date(DELIVERY_T0.getTime() + ms);

/** The intent of the first (SMS) action of `trigger-1` under the adapters' test account, at {@link DELIVERY_T0}. */
export function deliveryIntent(overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    accountId: ADAPTER_TEST_ACCOUNT,
    triggerId: 'trigger-1',
    ruleId: 'rule-1',
    actionIndex: 0,
    attempt: 1,
    type: 'sms',
    provider: 'twilio',
    idempotencyKey: 'trigger-1:0',
    recipient: '+15557654321',
    dedupes: false,
    at: DELIVERY_T0,
    ...overrides,
  };
}
