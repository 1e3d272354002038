import { checkOptions } from '../config/check-options.js';
import type { RuleReplaceResult, RuleStore } from '../ports/rule-store.js';
import type { Rule, RuleDraft, RuleFilter } from '../rules/rule.js';
import { declareInProcessStore } from '../engine/store-deadlines.js';
import { clampLimit, isMemoryId, newMemoryId, paginate } from './memory-ids.js';

/**
 * Rules are stored frozen and handed out as they are: no caller can change a stored rule through a
 * returned object, and reading one (once per claimed batch, on the fire path) copies nothing.
 */
function frozen<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null || Object.isFrozen(node)) continue;
    Object.freeze(node);
    for (const child of Object.values(node)) stack.push(child);
  }
  return value;
}

const snapshot = (rule: Rule): Rule => frozen(structuredClone(rule));

/**
 * An in-memory rule store: rules indexed by (account, event name), under their trigger's event name and
 * every `cancelOn` event name, for tests, demos and one process.
 */
export function createMemoryRuleStore(): RuleStore & { readonly size: number } {
  // It takes no options: a JavaScript caller passing some (a clock, a retention) would otherwise be ignored.
  checkOptions('createMemoryRuleStore', arguments[0], []);
  const rules = new Map<string, Rule>();
  const rulesByEvent = new Map<string, Set<string>>();

  const eventKey = (accountId: string, eventName: string) => `${accountId}\u0000${eventName}`;
  const owned = (accountId: string, id: string) => {
    if (!isMemoryId(id)) return undefined;
    const rule = rules.get(id);
    return rule && rule.accountId === accountId ? rule : undefined;
  };
  /** The names a rule answers to: the one it starts on and those that cancel it (a Set, so a name counts once). */
  const eventNames = (rule: Rule) => new Set([rule.trigger.eventName, ...(rule.cancelOn ?? []).map((entry) => entry.eventName)]);
  const index = (rule: Rule) => {
    for (const name of eventNames(rule)) {
      const key = eventKey(rule.accountId, name);
      let set = rulesByEvent.get(key);
      if (!set) rulesByEvent.set(key, (set = new Set()));
      set.add(rule.id);
    }
  };
  const unindex = (rule: Rule) => {
    for (const name of eventNames(rule)) {
      const key = eventKey(rule.accountId, name);
      const set = rulesByEvent.get(key);
      set?.delete(rule.id);
      if (set?.size === 0) rulesByEvent.delete(key);
    }
  };

  return declareInProcessStore({
    capabilities: { name: 'memory' },

    get size() {
      return rules.size;
    },

    async insertRule(accountId, draft: RuleDraft, now) {
      const rule = snapshot({ ...draft, id: newMemoryId(now.getTime()), accountId, version: 1, createdAt: now, updatedAt: now });
      rules.set(rule.id, rule);
      index(rule);
      return rule;
    },

    async getRule(accountId, id) {
      // Read once per trigger on the fire path: the map alone, since only ids the store issued are in it
      // (what `owned` checks with a pattern first, for the writes).
      const rule = rules.get(id);
      return rule !== undefined && rule.accountId === accountId ? rule : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }): Promise<RuleReplaceResult> {
      const current = owned(accountId, id);
      if (!current) return { ok: false, reason: 'not-found' };
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        return { ok: false, reason: 'conflict', currentVersion: current.version };
      }
      const next = snapshot({ ...draft, id, accountId, version: current.version + 1, createdAt: current.createdAt, updatedAt: now });
      unindex(current);
      rules.set(id, next);
      index(next);
      return { ok: true, rule: next };
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
      return paginate(out, limit);
    },

    async findRulesForEvent(accountId, eventName) {
      const ids = rulesByEvent.get(eventKey(accountId, eventName));
      if (!ids) return [];
      const out: Rule[] = [];
      for (const id of ids) {
        const rule = rules.get(id);
        if (rule?.enabled) out.push(rule);
      }
      return out;
    },

    async close() {},
  });
}
