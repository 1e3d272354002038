import { expect } from 'vitest';
import type { DeliveryLedger, NewDelivery, NewTrigger, Rule, RuleInput } from '@crm-automation/core';
import { deliveryRank } from '@crm-automation/core/spi';

/*
 * The rule, trigger, delivery and polling helpers the MongoDB and PostgreSQL adapters' own services tests build
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

/**
 * Forty intents of `trigger-1`, each raced by an engine outcome, a reconcile and an operator-side
 * outcome (exactly one of the three applies), then by receipts of three ranks at once for every
 * accepted send (one final receipt applies): every delivery's events stay in rank order from `intent`.
 */
export async function expectRacingWritersConsistent(ledger: DeliveryLedger): Promise<void> {
  const sends = await ledger.recordIntents(Array.from({ length: 40 }, (_, i) => deliveryIntent({ actionIndex: i, idempotencyKey: `trigger-1:${i}` })));
  const raced = await Promise.all(
    sends.flatMap((d) => [
      ledger.recordOutcomes([{ id: d.id, state: 'accepted', providerId: `SM${d.actionIndex}`, at: deliveryAt(1) }]),
      ledger.recordOutcomes([{ id: d.id, state: 'unknown', at: deliveryAt(1), source: 'reconcile' }]),
      ledger.recordOutcomes([{ id: d.id, state: 'refused', at: deliveryAt(1) }]),
    ]),
  );
  for (let i = 0; i < sends.length; i++) expect(raced.slice(i * 3, i * 3 + 3).flat().filter(Boolean)).toHaveLength(1);
  const accepted = (await ledger.listDeliveries(ADAPTER_TEST_ACCOUNT, { state: 'accepted', limit: 100 })).items;
  const results = await Promise.all(accepted.flatMap((d) => (['delivered', 'accepted', 'undelivered'] as const).map((state) => ledger.applyReceipt({ provider: 'twilio', providerId: d.providerId as string, state, at: deliveryAt(2) }))));
  expect(results.filter((r) => r.applied)).toHaveLength(accepted.length);
  const all = await ledger.deliveriesOfTrigger(ADAPTER_TEST_ACCOUNT, 'trigger-1');
  expect(all).toHaveLength(sends.length);
  for (const d of all) {
    const ranks = d.events.map((e) => deliveryRank(e.state));
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    expect(d.events[0]?.state).toBe('intent');
    expect(d.events.filter((e) => e.source === 'receipt')).toHaveLength(accepted.some((x) => x.id === d.id) ? 1 : 0);
  }
}
