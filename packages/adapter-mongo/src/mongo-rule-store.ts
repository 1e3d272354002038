import { ObjectId, type Collection, type Db, type Filter, type UpdateFilter } from 'mongodb';
import { checkOptions, clampLimit, optionKeys, type Page, type Rule, type RuleDraft, type RuleFilter, type RuleReplaceResult, type RuleStore } from '@crm-automation/core';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import { page, parseObjectId, ruleDocument, toRule, type RuleDocument } from './documents.js';
import { createIndexes, RULE_INDEXES } from './indexes.js';
import { prepareOnce } from './prepare-once.js';
import { requireValidDate } from '@crm-automation/core/spi';

export interface MongoRuleStoreOptions extends MongoConnectionOptions {
  /** Default `{ rules: 'rules' }`. */
  collections?: { rules?: string | undefined } | undefined;
  /** Run `ensureIndexes()` before the first operation. Default true; false when migrations own the indexes. */
  autoIndex?: boolean | undefined;
}

/** Rules in MongoDB: the core rule port plus index and lifecycle controls. */
export interface MongoRuleStore extends RuleStore {
  readonly db: Db;
  readonly collections: { readonly rules: Collection<RuleDocument> };
  /** Creates every index the rule store relies on; safe to call any number of times. */
  ensureIndexes(): Promise<void>;
  /** Closes the client if the store opened it. */
  close(): Promise<void>;
}

const OPTIONAL_RULE_FIELDS = ['description', 'schedule', 'cancelOn', 'concurrency', 'evaluate'] as const;

/** The rule store's operations on one collection; `ready` runs before each (index creation). */
export function ruleOperations(rules: Collection<RuleDocument>, ready: () => Promise<void>): Omit<RuleStore, 'capabilities' | 'close'> {
  return {
    async insertRule(accountId, draft: RuleDraft, now) {
      requireValidDate(now, 'now');
      await ready();
      const doc = ruleDocument(new ObjectId(), accountId, draft, 1, now, now);
      await rules.insertOne(doc);
      return toRule(doc);
    },

    async getRule(accountId, id) {
      const _id = parseObjectId(id);
      if (!_id) return null;
      await ready();
      const doc = await rules.findOne({ _id, accountId });
      return doc ? toRule(doc) : null;
    },

    async replaceRule(accountId, id, draft, { now, expectedVersion }): Promise<RuleReplaceResult> {
      requireValidDate(now, 'now');
      const _id = parseObjectId(id);
      if (!_id) return { ok: false, reason: 'not-found' };
      await ready();
      const { _id: _same, version: _version, createdAt: _created, ...fields } = ruleDocument(_id, accountId, draft, 0, now, now);
      const update: UpdateFilter<RuleDocument> = { $set: fields, $inc: { version: 1 } };
      // A full replace: optional fields the new draft leaves out are removed, not kept from the old rule.
      const absent = OPTIONAL_RULE_FIELDS.filter((f) => draft[f] === undefined);
      if (absent.length > 0) update.$unset = Object.fromEntries(absent.map((f) => [f, ''])) as Record<(typeof absent)[number], ''>;
      // The version check is part of the filter: the server compares and writes in one step.
      const filter: Filter<RuleDocument> = expectedVersion === undefined ? { _id, accountId } : { _id, accountId, version: expectedVersion };
      const doc = await rules.findOneAndUpdate(filter, update, { returnDocument: 'after' });
      if (doc) return { ok: true, rule: toRule(doc) };
      const current = await rules.findOne({ _id, accountId }, { projection: { version: 1 } });
      return current ? { ok: false, reason: 'conflict', currentVersion: current.version } : { ok: false, reason: 'not-found' };
    },

    async deleteRule(accountId, id) {
      const _id = parseObjectId(id);
      if (!_id) return false;
      await ready();
      return (await rules.findOneAndDelete({ _id, accountId }, { projection: { _id: 1 } })) !== null;
    },

    async listRules(accountId, filter: RuleFilter): Promise<Page<Rule>> {
      const limit = clampLimit(filter.limit);
      const query: Filter<RuleDocument> = { accountId };
      if (filter.eventName !== undefined) query['trigger.eventName'] = filter.eventName;
      if (filter.enabled !== undefined) query.enabled = filter.enabled;
      if (filter.cursor !== undefined) {
        const after = parseObjectId(filter.cursor);
        if (!after) return { items: [] };
        query._id = { $gt: after };
      }
      await ready();
      const docs = await rules.find(query).sort({ _id: 1 }).limit(limit + 1).toArray();
      return page(docs.map(toRule), limit);
    },

    async findRulesForEvent(accountId, eventName) {
      await ready();
      // Each `$or` branch is whole (account, name, enabled) so each is one index's equality match
      // (rules_by_event, rules_by_cancel_event); a rule matching both comes back once.
      const docs = await rules
        .find({ $or: [{ accountId, 'trigger.eventName': eventName, enabled: true }, { accountId, 'cancelOn.eventName': eventName, enabled: true }] })
        .toArray();
      return docs.map(toRule);
    },
  };
}

export const RULE_STORE_OPTION_KEYS = optionKeys<MongoRuleStoreOptions>()(...CONNECTION_OPTION_KEYS, 'collections', 'autoIndex');

/**
 * Rules in MongoDB, for a deployment that keeps rules apart from triggers (a Rules Service with its
 * own database). Ids are the 24-hex form of the documents' ObjectIds; any other id is not found.
 *
 * @example
 * const rules = createMongoRuleStore({ uri: process.env.MONGODB_URI, dbName: 'rules' });
 * const engine = createAutomationEngine({ ruleStore: rules, triggerStore, channels });
 */
export function createMongoRuleStore(options: MongoRuleStoreOptions): MongoRuleStore {
  checkOptions('createMongoRuleStore', options, RULE_STORE_OPTION_KEYS, true);
  checkOptions('createMongoRuleStore: collections', options.collections, optionKeys<NonNullable<MongoRuleStoreOptions['collections']>>()('rules'));
  const connection = openConnection(options, 'createMongoRuleStore');
  const rules = connection.db.collection<RuleDocument>(options.collections?.rules ?? 'rules');
  const ensureIndexes = () => createIndexes(rules, RULE_INDEXES);
  const prepared = prepareOnce(ensureIndexes, options.autoIndex ?? true);
  return {
    capabilities: { name: 'mongodb' },
    db: connection.db,
    collections: { rules },
    async ensureIndexes() {
      await ensureIndexes();
      prepared.markReady();
    },
    ...ruleOperations(rules, prepared.ready),
    close: () => connection.close(),
  };
}
