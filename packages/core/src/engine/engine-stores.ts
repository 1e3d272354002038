import { AutomationError } from '../errors.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { AutomationStore, RuleStore, TriggerStore } from '../ports/store.js';
import type { AutomationEngineOptions } from './options.js';

/** The stores an engine works on, whichever way they were given (`store`, or `ruleStore`/`triggerStore`). */
export interface EngineStores {
  /** What `engine.rules.*` use; a stand-in that throws `CRM_ERR_CONFIG` when the engine has none. */
  rules: RuleStore;
  /** What intake, the loop and `engine.triggers.*` use; a stand-in that throws when the engine has none. */
  triggers: TriggerStore;
  /** Where intake and evaluation read rules: `ruleSource`, else the rule store. */
  source: RuleSource;
  /** The stores as given, for `engine.ruleStore` / `engine.triggerStore`. */
  givenRules: RuleStore | undefined;
  givenTriggers: TriggerStore | undefined;
  /** Both as one store, for the deprecated `engine.store`. */
  combined: AutomationStore;
  /** Throws the refusal of an engine without that half. */
  requireTriggers(): void;
}

function missing(what: 'rule' | 'trigger'): () => never {
  return () => {
    throw new AutomationError(
      'CRM_ERR_CONFIG',
      what === 'rule'
        ? 'this engine has no rule store: give it `store` or `ruleStore` to manage rules (a trigger service reads rules through `ruleSource`)'
        : 'this engine has no trigger store: give it `store` or `triggerStore` for intake, the claim loop and triggers.*',
    );
  };
}

/** A stand-in for a store the engine was not given: every method throws `fail()`'s error. */
function unavailable<T extends object>(fail: () => never): T {
  return new Proxy({ capabilities: { name: 'none' } } as T, {
    get: (target, key) => (key === 'capabilities' ? (target as { capabilities: unknown }).capabilities : key === 'close' || key === 'then' ? undefined : async () => fail()),
  });
}

/** Both halves as one `AutomationStore`, for `engine.store` (deprecated) when they were given apart. */
function combineStores(rules: RuleStore, triggers: TriggerStore): AutomationStore {
  return {
    capabilities: { name: `${rules.capabilities.name}+${triggers.capabilities.name}` },
    insertRule: (...a) => rules.insertRule(...a),
    getRule: (...a) => rules.getRule(...a),
    replaceRule: (...a) => rules.replaceRule(...a),
    deleteRule: (...a) => rules.deleteRule(...a),
    listRules: (...a) => rules.listRules(...a),
    findRulesForEvent: (...a) => rules.findRulesForEvent(...a),
    insertTriggers: (...a) => triggers.insertTriggers(...a),
    getTrigger: (...a) => triggers.getTrigger(...a),
    listTriggers: (...a) => triggers.listTriggers(...a),
    claimDueTriggers: (...a) => triggers.claimDueTriggers(...a),
    finishAttempt: (...a) => triggers.finishAttempt(...a),
    transitionTrigger: (...a) => triggers.transitionTrigger(...a),
    nextDueAt: () => triggers.nextDueAt(),
    purgeTriggers: (...a) => triggers.purgeTriggers(...a),
    ...(triggers.finishAttempts ? { finishAttempts: (...a: Parameters<NonNullable<TriggerStore['finishAttempts']>>) => (triggers.finishAttempts as NonNullable<TriggerStore['finishAttempts']>)(...a) } : {}),
    ...(triggers.cancelTriggers ? { cancelTriggers: (...a: Parameters<NonNullable<TriggerStore['cancelTriggers']>>) => (triggers.cancelTriggers as NonNullable<TriggerStore['cancelTriggers']>)(...a) } : {}),
    ...(triggers.watchDue ? { watchDue: (...a: Parameters<NonNullable<TriggerStore['watchDue']>>) => (triggers.watchDue as NonNullable<TriggerStore['watchDue']>)(...a) } : {}),
  };
}

export function resolveStores(options: AutomationEngineOptions): EngineStores {
  const givenRules = options.ruleStore ?? options.store;
  const givenTriggers = options.triggerStore ?? options.store;
  const rules = givenRules ?? unavailable<RuleStore>(missing('rule'));
  const triggers = givenTriggers ?? unavailable<TriggerStore>(missing('trigger'));
  const source = options.ruleSource ?? givenRules;
  if (!source && givenTriggers) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createAutomationEngine: intake needs rules: give `ruleStore` (or `store`) or a `ruleSource`');
  }
  return {
    rules,
    triggers,
    source: source ?? rules,
    givenRules,
    givenTriggers,
    combined: options.store ?? combineStores(rules, triggers),
    requireTriggers: () => {
      if (!givenTriggers) missing('trigger')();
    },
  };
}
