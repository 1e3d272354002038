import type { RuleReplaceResult, RuleStore } from '../ports/rule-store.js';
import type { Rule, RuleDraft, RuleFilter } from '../rules/rule.js';
import { clampLimit, isMemoryId, newMemoryId, paginate } from './memory-ids.js';

const copyRule = (rule: Rule): Rule => structuredClone(rule);

/** An in-memory rule store: rules indexed by (account, event name), for tests, demos and one process. */
export function createMemoryRuleStore(): RuleStore & { readonly size: number } {
  const rules = new Map<string, Rule>();
  const rulesByEvent = new Map<string, Set<string>>();

  const eventKey = (accountId: string, eventName: string) => `${accountId}\u0000${eventName}`;
  const owned = (accountId: string, id: string) => {
    if (!isMemoryId(id)) return undefined;
    const rule = rules.get(id);
    return rule && rule.accountId === accountId ? rule : undefined;
  };
  const index = (rule: Rule) => {
    const key = eventKey(rule.accountId, rule.trigger.eventName);
    let set = rulesByEvent.get(key);
    if (!set) rulesByEvent.set(key, (set = new Set()));
    set.add(rule.id);
  };
  const unindex = (rule: Rule) => rulesByEvent.get(eventKey(rule.accountId, rule.trigger.eventName))?.delete(rule.id);

  return {
    capabilities: { name: 'memory' },

    get size() {
      return rules.size;
    },

    async insertRule(accountId, draft: RuleDraft, now) {
      const rule: Rule = { ...structuredClone(draft), id: newMemoryId(now.getTime()), accountId, version: 1, createdAt: now, updatedAt: now };
      rules.set(rule.id, rule);
      index(rule);
      return copyRule(rule);
    },

    async getRule(accountId, id) {
      const rule = owned(accountId, id);
      return rule ? copyRule(rule) : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }): Promise<RuleReplaceResult> {
      const current = owned(accountId, id);
      if (!current) return { ok: false, reason: 'not-found' };
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        return { ok: false, reason: 'conflict', currentVersion: current.version };
      }
      const next: Rule = { ...structuredClone(draft), id, accountId, version: current.version + 1, createdAt: current.createdAt, updatedAt: now };
      unindex(current);
      rules.set(id, next);
      index(next);
      return { ok: true, rule: copyRule(next) };
    },

    async deleteRule(accountId, id) {
      const current = owned(accountId, id);
      if (!current) return false;
      unindex(current);
      rules.delete(id);
      return true;
    },

    async listRules(accountId, filter: RuleFilter) {
      const limit = clampLimit(filter.limit);
      const out: Rule[] = [];
      for (const rule of rules.values()) {
        if (rule.accountId !== accountId) continue;
        if (filter.eventName !== undefined && rule.trigger.eventName !== filter.eventName) continue;
        if (filter.enabled !== undefined && rule.enabled !== filter.enabled) continue;
        if (filter.cursor !== undefined && rule.id <= filter.cursor) continue;
        out.push(rule);
      }
      out.sort((a, b) => (a.id < b.id ? -1 : 1));
      const page = paginate(out, limit);
      return { ...page, items: page.items.map(copyRule) };
    },

    async findRulesForEvent(accountId, eventName) {
      const ids = rulesByEvent.get(eventKey(accountId, eventName));
      if (!ids) return [];
      const out: Rule[] = [];
      for (const id of ids) {
        const rule = rules.get(id);
        if (rule?.enabled) out.push(rule);
      }
      // Intake only reads id, version and delay; returning the stored objects keeps it allocation-free.
      return out;
    },

    async close() {},
  };
}
