import type { Rule } from '@crm-automation/core';

/** Identifies a rules export, so an import can tell one from any other JSON file. */
export const RULES_FILE_FORMAT = 'crm-automation/rules';

/** One rule in a rules file: the rule document plus the id it had where it was exported. */
export type RuleFileEntry = Pick<Rule, 'name' | 'enabled' | 'trigger' | 'conditions' | 'actions'> &
  Partial<Pick<Rule, 'description' | 'schedule' | 'cancelOn' | 'concurrency' | 'evaluate'>> & {
    /** Id in the exporting account; an import into the same account matches on it first. */
    id?: string | undefined;
    /** Absent when the rule has a `schedule` (a rule has one or the other). */
    delay?: Rule['delay'] | undefined;
  };

/** What `rules export` writes and `rules import` reads (a bare array of rules is accepted too). */
export interface RulesFile {
  format: typeof RULES_FILE_FORMAT;
  version: 1;
  accountId: string;
  exportedAt: string;
  rules: RuleFileEntry[];
}

/** The rule fields a user owns: what export writes and what import compares (a field left out of one is not a difference). */
export function ruleContent(rule: Pick<Rule, 'name' | 'description' | 'enabled' | 'trigger' | 'delay' | 'schedule' | 'conditions' | 'actions' | 'cancelOn' | 'concurrency' | 'evaluate'>): Omit<RuleFileEntry, 'id'> {
  return {
    name: rule.name,
    ...(rule.description === undefined ? {} : { description: rule.description }),
    enabled: rule.enabled,
    trigger: rule.trigger,
    // A scheduled rule's stored delay is the engine's zero, not the user's: written, it would be refused on import.
    ...(rule.schedule === undefined ? { delay: rule.delay } : { schedule: rule.schedule }),
    conditions: rule.conditions,
    actions: rule.actions,
    ...(rule.cancelOn === undefined ? {} : { cancelOn: rule.cancelOn }),
    ...(rule.concurrency === undefined ? {} : { concurrency: rule.concurrency }),
    ...(rule.evaluate === undefined ? {} : { evaluate: rule.evaluate }),
  };
}

/** JSON with object keys sorted and undefined members dropped: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
