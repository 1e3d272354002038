import type { AutomationStore } from '../ports/store.js';
import { createMemoryRuleStore } from './memory-rule-store.js';
import { createMemoryTriggerStore } from './memory-trigger-store.js';

export { clampLimit } from './memory-ids.js';

/**
 * An in-memory store of both aggregates (a {@link createMemoryRuleStore} and a
 * {@link createMemoryTriggerStore}): for tests, demos and single-process apps that can afford to lose
 * pending triggers on restart.
 */
export function createMemoryStore(): AutomationStore & { readonly size: { rules: number; triggers: number } } {
  const rules = createMemoryRuleStore();
  const triggers = createMemoryTriggerStore();
  return {
    capabilities: { name: 'memory' },
    get size() {
      return { rules: rules.size, triggers: triggers.size };
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
    finishAttempts: (requests) => triggers.finishAttempts?.(requests) ?? Promise.resolve([]),
    watchDue: (onDue) => triggers.watchDue?.(onDue) ?? Promise.resolve(async () => undefined),
    async close() {},
  };
}
