import type { AutomationStore } from '@crm-automation/core';

/**
 * The rules service's view of storage: rules in the rules DB, which it owns, and triggers in the
 * trigger service's DB, which it reads for the Management UI (trigger lists, rule stats) and writes
 * only through the API's intake, cancel and retry. A stricter split would proxy those routes to the
 * trigger service instead; sharing the Mongo cluster keeps the example to three processes.
 */
export function splitRulesAndTriggers(rules: AutomationStore, triggers: AutomationStore): AutomationStore {
  return {
    capabilities: { name: `${rules.capabilities.name} (rules) + ${triggers.capabilities.name} (triggers)` },
    insertRule: (...args) => rules.insertRule(...args),
    getRule: (...args) => rules.getRule(...args),
    replaceRule: (...args) => rules.replaceRule(...args),
    deleteRule: (...args) => rules.deleteRule(...args),
    listRules: (...args) => rules.listRules(...args),
    findRulesForEvent: (...args) => rules.findRulesForEvent(...args),
    insertTriggers: (...args) => triggers.insertTriggers(...args),
    getTrigger: (...args) => triggers.getTrigger(...args),
    listTriggers: (...args) => triggers.listTriggers(...args),
    claimDueTriggers: (...args) => triggers.claimDueTriggers(...args),
    finishAttempt: (...args) => triggers.finishAttempt(...args),
    transitionTrigger: (...args) => triggers.transitionTrigger(...args),
    nextDueAt: () => triggers.nextDueAt(),
    purgeTriggers: (...args) => triggers.purgeTriggers(...args),
  };
}
