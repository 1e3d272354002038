import { checkOptions } from '../config/check-options.js';
import { declareInProcessStore } from '../engine/store-deadlines.js';
import type { DeliveryLedger } from '../ports/delivery-ledger.js';
import type { ContactCounter, ContactPolicyStore, SendThrottle, SuppressionStore } from '../ports/contact-policy.js';
import type { AutomationStore } from '../ports/store.js';
import { createMemoryContactCounter, createMemoryContactPolicyStore, createMemorySendThrottle, createMemorySuppressionStore } from './memory-contact-policy.js';
import { createMemoryDeliveryLedger } from './memory-delivery-ledger.js';
import { createMemoryRuleStore } from './memory-rule-store.js';
import { createMemoryTriggerStore } from './memory-trigger-store.js';

export { clampLimit } from './memory-ids.js';

/**
 * An in-memory store of both aggregates, with a delivery ledger (a {@link createMemoryRuleStore} and a
 * {@link createMemoryTriggerStore}) and the contact policy ports (policies, suppressions, cap
 * counters, the send throttle): for tests, demos and single-process apps that can afford to lose pending triggers on
 * restart. Engines handed the same object share all of it.
 */
export function createMemoryStore(): AutomationStore &
  DeliveryLedger &
  ContactPolicyStore &
  SuppressionStore &
  ContactCounter &
  SendThrottle & { readonly size: { rules: number; triggers: number; deliveries: number; suppressions: number } } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryStore', arguments[0], []);
  const rules = createMemoryRuleStore();
  const triggers = createMemoryTriggerStore();
  const ledger = createMemoryDeliveryLedger();
  const policies = createMemoryContactPolicyStore();
  const suppressions = createMemorySuppressionStore();
  const counter = createMemoryContactCounter();
  const throttle = createMemorySendThrottle();
  return declareInProcessStore({
    capabilities: { name: 'memory', keyedConcurrency: true, cancelByEvent: true },
    get size() {
      return { rules: rules.size, triggers: triggers.size, deliveries: ledger.size, suppressions: suppressions.size };
    },
    insertRule: rules.insertRule,
    getRule: rules.getRule,
    replaceRule: rules.replaceRule,
    deleteRule: rules.deleteRule,
    listRules: rules.listRules,
    findRulesForEvent: rules.findRulesForEvent,
    insertTriggers: triggers.insertTriggers,
    getTrigger: triggers.getTrigger,
    listTriggers: triggers.listTriggers,
    claimDueTriggers: triggers.claimDueTriggers,
    finishAttempt: triggers.finishAttempt,
    transitionTrigger: triggers.transitionTrigger,
    nextDueAt: triggers.nextDueAt,
    purgeTriggers: triggers.purgeTriggers,
    cancelTriggers: triggers.cancelTriggers,
    finishAttempts: (requests) => triggers.finishAttempts?.(requests) ?? Promise.resolve([]),
    watchDue: (onDue) => triggers.watchDue?.(onDue) ?? Promise.resolve(async () => undefined),
    recordIntents: ledger.recordIntents,
    recordOutcomes: ledger.recordOutcomes,
    applyReceipt: ledger.applyReceipt,
    getDelivery: ledger.getDelivery,
    listDeliveries: ledger.listDeliveries,
    deliveriesOfTrigger: ledger.deliveriesOfTrigger,
    staleIntents: ledger.staleIntents,
    resolveDelivery: ledger.resolveDelivery,
    countDeliveries: (...args) => ledger.countDeliveries?.(...args) ?? Promise.resolve({}),
    getContactPolicy: policies.getContactPolicy,
    putContactPolicy: policies.putContactPolicy,
    findSuppression: suppressions.findSuppression,
    addSuppression: suppressions.addSuppression,
    removeSuppression: suppressions.removeSuppression,
    listSuppressions: suppressions.listSuppressions,
    suppressionChanges: suppressions.suppressionChanges,
    reserve: counter.reserve,
    release: counter.release,
    take: throttle.take,
    async close() {},
  });
}
