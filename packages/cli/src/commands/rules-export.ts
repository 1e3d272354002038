import type { AutomationEngine, Rule } from '@crm-automation/core';
import { ruleContent, RULES_FILE_FORMAT, type RulesFile } from '../rules-file.js';

/** Every rule of an account, page by page. */
export async function allRules(engine: Pick<AutomationEngine, 'rules'>, accountId: string): Promise<Rule[]> {
  const rules: Rule[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.rules.list(accountId, { limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    rules.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return rules;
}

/**
 * An account's rules as a rules file: each rule's own content plus its id (so re-importing into the
 * same account updates rules in place), without versions and timestamps, sorted by name then id so
 * two exports of the same rules are byte-identical.
 */
export async function exportRules(engine: Pick<AutomationEngine, 'rules'>, accountId: string, now = new Date()): Promise<RulesFile> {
  const rules = await allRules(engine, accountId);
  rules.sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1));
  return {
    format: RULES_FILE_FORMAT,
    version: 1,
    accountId,
    exportedAt: now.toISOString(),
    rules: rules.map((rule) => ({ id: rule.id, ...ruleContent(rule) })),
  };
}
