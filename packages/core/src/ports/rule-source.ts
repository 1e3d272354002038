import type { Rule } from '../rules/rule.js';

/**
 * Where intake and evaluation read rules. By default the engine's store; in a three-service
 * deployment, a client of the Rules Service (REST, gRPC, or a replica fed over the bus).
 * Both methods are scoped by account: another account's rule is not found.
 */
export interface RuleSource {
  /**
   * Enabled rules of one account for one event name: those it starts (`trigger.eventName`) and those
   * it cancels (`cancelOn[].eventName`). Intake tells them apart.
   */
  findRulesForEvent(accountId: string, eventName: string): Promise<Rule[]>;
  /** The rule as it is now, or null when it no longer exists. */
  getRule(accountId: string, id: string): Promise<Rule | null>;
}
