import type { DeliveryLedger } from '../ports/delivery-ledger.js';
import type { AutomationStore } from '../ports/store.js';
import { createMemoryDeliveryLedger } from './memory-delivery-ledger.js';
import { createMemoryRuleStore } from './memory-rule-store.js';
import { createMemoryTriggerStore } from './memory-trigger-store.js';

export { clampLimit } from './memory-ids.js';

/**
 * An in-memory store of both aggregates, with a delivery ledger (a {@link createMemoryRuleStore} and a
 * {@link createMemoryTriggerStore}): for tests, demos and single-process apps that can afford to lose
 * pending triggers on restart.
 */
export function createMemoryStore(): AutomationStore & DeliveryLedger & { readonly size: { rules: number; triggers: number; deliveries: number } } {
  const rules = createMemoryRuleStore();
  const triggers = createMemoryTriggerStore();
  const ledger = createMemoryDeliveryLedger();
  return {
    capabilities: { name: 'memory', keyedConcurrency: true, cancelByEvent: true },
    get size() {
      return { rules: rules.size, triggers: triggers.size, deliveries: ledger.size };
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
    async close() {},
  };
}
