import type { Page, Rule, RuleDraft, RuleFilter } from '../rules/rule.js';
import type { RuleSource } from './rule-source.js';
import type { StoreCapabilities } from './store-capabilities.js';

export type RuleReplaceResult =
  | { ok: true; rule: Rule }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'conflict'; currentVersion: number };

/**
 * Persistence of rules, one aggregate. A rule store is also a {@link RuleSource}, so an engine reads
 * rules from it directly unless given another source (a Rules Service client).
 *
 * Ids are the store's own and opaque to the engine: any string the store issued. Every method that
 * takes an `accountId` behaves as if other accounts' rules did not exist, and treats an id it could
 * not have issued (malformed for this store) as not found, never as an error.
 */
export interface RuleStore extends RuleSource {
  readonly capabilities: StoreCapabilities;

  insertRule(accountId: string, draft: RuleDraft, now: Date): Promise<Rule>;
  getRule(accountId: string, id: string): Promise<Rule | null>;
  /** Full replace; bumps `version`. With `expectedVersion`, refuses a stale write. */
  replaceRule(
    accountId: string,
    id: string,
    draft: RuleDraft,
    options: { now: Date; expectedVersion?: number | undefined },
  ): Promise<RuleReplaceResult>;
  deleteRule(accountId: string, id: string): Promise<boolean>;
  /** An account's rules, oldest first (the order they were created), in pages. */
  listRules(accountId: string, filter: RuleFilter): Promise<Page<Rule>>;
  /**
   * Enabled rules of one account whose `trigger.eventName` or any `cancelOn[].eventName` is this name,
   * answered from an index, never a scan.
   */
  findRulesForEvent(accountId: string, eventName: string): Promise<Rule[]>;
  /** Releases what the store opened itself; never closes a client it was handed. */
  close?(): Promise<void>;
}
