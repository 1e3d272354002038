import type { Rule, RuleSource } from '@crm-automation/core';
import type { Collection, Db } from 'mongodb';
import { ruleFromJson } from '../../wire/rule-json.js';
import { RuleLookupUnavailableError } from './rule-lookup-error.js';

/** One replicated rule; `rule` is its JSON text (rule documents may hold keys Mongo dislikes). */
interface ReplicaDocument {
  _id: string;
  accountId: string;
  eventName: string | null;
  enabled: boolean;
  version: number;
  /** Rule ids are never reused, so a deletion is final: a late `rules_found` cannot revive it. */
  deleted: boolean;
  rule: string | null;
  updatedAt: Date;
}

export interface RuleReplica extends RuleSource {
  /** Stores rules as found, unless the replica already has them at this version or newer. */
  upsert(rules: readonly Rule[]): Promise<void>;
  /** Applies a `rule_changed`: the rule as it is now, or its deletion. */
  applyChange(accountId: string, ruleId: string, rule: Rule | null): Promise<void>;
  ensureIndexes(): Promise<void>;
}

const isDuplicateKey = (error: unknown) => (error as { code?: unknown } | null)?.code === 11000;

/**
 * The pub/sub trigger service's copy of the rules it has seen, in its own database, fed by
 * `rules_found` and `rule_changed`. Fire-time re-reads (`getRule`) come from here, so they need no
 * call to the rules service, and survive a restart of the trigger service. Writes keep the highest
 * version: an update is an upsert filtered on an older version, and a losing upsert collides on `_id`.
 *
 * A rule the replica has never seen is not "deleted": `getRule` throws a retryable error so the
 * trigger waits for the rule to arrive rather than being skipped.
 */
export function mongoRuleReplica(db: Db, collectionName = 'rule_replica'): RuleReplica {
  const rules: Collection<ReplicaDocument> = db.collection<ReplicaDocument>(collectionName);

  const put = async (rule: Rule) => {
    try {
      await rules.updateOne(
        { _id: rule.id, deleted: { $ne: true }, version: { $lt: rule.version } },
        {
          $set: {
            accountId: rule.accountId,
            eventName: rule.trigger.eventName,
            enabled: rule.enabled,
            version: rule.version,
            deleted: false,
            rule: JSON.stringify(rule),
            updatedAt: new Date(),
          },
        },
        { upsert: true },
      );
    } catch (error) {
      // The replica already holds this version or a newer one, or a tombstone.
      if (!isDuplicateKey(error)) throw error;
    }
  };

  return {
    async ensureIndexes() {
      // Only missing indexes are created (FerretDB fails on re-creating one); a new collection has none.
      const listed = await rules.indexes().catch((error: unknown) => {
        if ((error as { code?: unknown } | null)?.code === 26) return [];
        throw error;
      });
      const existing = new Set(listed.map((i) => i.name));
      if (!existing.has('account_event')) await rules.createIndex({ accountId: 1, eventName: 1 }, { name: 'account_event' });
    },
    async upsert(found) {
      for (const rule of found) await put(rule);
    },
    async applyChange(accountId, ruleId, rule) {
      if (rule) {
        await put(rule);
        return;
      }
      await rules.updateOne(
        { _id: ruleId },
        { $set: { accountId, eventName: null, enabled: false, version: Number.MAX_SAFE_INTEGER, deleted: true, rule: null, updatedAt: new Date() } },
        { upsert: true },
      );
    },
    async findRulesForEvent(accountId, eventName) {
      const docs = await rules.find({ accountId, eventName, enabled: true, deleted: false }).toArray();
      return docs.flatMap((d) => (d.rule ? [ruleFromJson(JSON.parse(d.rule))] : []));
    },
    async getRule(accountId, id) {
      const doc = await rules.findOne({ _id: id });
      if (!doc) throw new RuleLookupUnavailableError(`rule ${id} is not in the replica yet (waiting for rules_found or rule_changed)`);
      if (doc.accountId !== accountId || doc.deleted || !doc.rule) return null;
      return ruleFromJson(JSON.parse(doc.rule));
    },
  };
}
