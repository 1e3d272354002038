import type { Collection, Db } from 'mongodb';
import type { AutomationStore, ContactCounter, ContactPolicyStore, DeliveryLedger, Logger, SendThrottle, SuppressionStore, TriggerStore } from '@crm-automation/core';
import { checkOptions, optionKeys } from '@crm-automation/core/spi';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import type { DeliveryDocument, RuleDocument, TriggerDocument } from './documents.js';
import { createIndexes, RULE_INDEXES } from './indexes.js';
import {
  CONTACT_COLLECTION_KEYS,
  contactCollections,
  contactPolicyOperations,
  ensureContactIndexes,
  suppressionOperations,
  type ContactCollectionNames,
  type ContactCollections,
} from './mongo-contact-policy.js';
import { contactCounterOperations, sendThrottleOperations } from './mongo-contact-counter.js';
import { ledgerContext } from './mongo-delivery-ledger.js';
import { ruleOperations } from './mongo-rule-store.js';
import { triggerContext, triggerStoreOperations, type MongoIndexReport } from './mongo-trigger-store.js';
import { prepareOnce } from './prepare-once.js';
import { RETENTION_OPTION_KEYS, type MongoRetentionControls, type RetentionPolicy } from './retention.js';

/** Collection names; defaults follow the design doc (the contact policy ones: see {@link ContactCollectionNames}). */
export interface MongoCollectionNames extends ContactCollectionNames {
  /** Default `rules`. */
  rules?: string | undefined;
  /** Default `pending_triggers`. */
  triggers?: string | undefined;
  /** The delivery ledger. Default `deliveries`. */
  deliveries?: string | undefined;
}

export interface MongoStoreOptions extends MongoConnectionOptions {
  collections?: MongoCollectionNames | undefined;
  /** Purge finished triggers (and deliveries, by the same ages) by age; off by default (everything is kept). */
  retention?: RetentionPolicy | false | undefined;
  /**
   * Run `ensureIndexes()` before the first operation. Default true; set false when indexes are
   * managed by migrations (the intake dedupe depends on the unique index, so do create it).
   */
  autoIndex?: boolean | undefined;
  /** Where periodic retention reports failures. */
  logger?: Logger | undefined;
}

/**
 * The Mongo store of both aggregates, the delivery ledger and the contact policy ports (policies,
 * suppressions, cap counters, send throttle): the core ports plus index, retention and lifecycle controls.
 */
export interface MongoStore extends AutomationStore, Required<DeliveryLedger>, ContactPolicyStore, SuppressionStore, ContactCounter, SendThrottle, MongoRetentionControls {
  /** Always present here: the store cancels by event (`capabilities.cancelByEvent`). */
  cancelTriggers: NonNullable<TriggerStore['cancelTriggers']>;
  readonly db: Db;
  readonly collections: {
    readonly rules: Collection<RuleDocument>;
    readonly triggers: Collection<TriggerDocument>;
    readonly deliveries: Collection<DeliveryDocument>;
  } & Readonly<ContactCollections>;
  /** Creates every index the store relies on; safe to call any number of times. */
  ensureIndexes(): Promise<MongoIndexReport>;
  /** Stops retention timers and closes the client if the store opened it. */
  close(): Promise<void>;
}

const STORE_OPTION_KEYS = optionKeys<MongoStoreOptions>()(...CONNECTION_OPTION_KEYS, 'collections', 'retention', 'autoIndex', 'logger');

/**
 * Creates the MongoDB store of rules and triggers on one connection: rules in `rules`, triggers in
 * `pending_triggers` (the design doc's documents), the delivery ledger in `deliveries` (the engine
 * uses it because the store has the ledger's methods), and the contact policy ports in
 * `contact_policies`, `suppressions` (+ `suppression_changes`), `contact_counters` and `send_throttles` (the engine
 * uses them likewise). A deployment that keeps the two apart uses
 * `createMongoRuleStore` and `createMongoTriggerStore` instead. Time is the engine's clock (the `now`
 * it passes), so leases tolerate clock skew between workers that is small compared with the lease.
 *
 * @example
 * const store = createMongoStore({ uri: process.env.MONGODB_URI, retention: { completedMs: 30 * 86_400_000 } });
 * const engine = createAutomationEngine({ store, channels });
 */
export function createMongoStore(options: MongoStoreOptions): MongoStore {
  checkOptions('createMongoStore', options, STORE_OPTION_KEYS, true);
  checkOptions('createMongoStore: collections', options.collections, optionKeys<MongoCollectionNames>()('rules', 'triggers', 'deliveries', ...CONTACT_COLLECTION_KEYS));
  if (options.retention) checkOptions('createMongoStore: retention', options.retention, RETENTION_OPTION_KEYS);
  const connection = openConnection(options, 'createMongoStore');
  const { db } = connection;
  const rules = db.collection<RuleDocument>(options.collections?.rules ?? 'rules');
  // The trigger half prepares its own indexes before its first operation; the rule half here.
  const triggerCtx = triggerContext(db, options.collections?.triggers ?? 'pending_triggers', options);
  const ledgerCtx = ledgerContext(db, options.collections?.deliveries ?? 'deliveries', options);
  const trigger = triggerStoreOperations(triggerCtx, ledgerCtx);
  const ruleIndexes = prepareOnce(() => createIndexes(rules, RULE_INDEXES), options.autoIndex ?? true);
  const contact = contactCollections(db, options.collections);
  const contactIndexes = prepareOnce(() => ensureContactIndexes(contact), options.autoIndex ?? true);
  const { stopRetention, ensureIndexes: ensureTriggerIndexes, capabilities, ...triggerOps } = trigger;
  return {
    capabilities,
    db,
    collections: { rules, triggers: triggerCtx.triggers, deliveries: ledgerCtx.deliveries, ...contact },
    async ensureIndexes() {
      await createIndexes(rules, RULE_INDEXES);
      ruleIndexes.markReady();
      await ensureContactIndexes(contact);
      contactIndexes.markReady();
      return ensureTriggerIndexes();
    },
    ...ruleOperations(rules, ruleIndexes.ready),
    ...triggerOps,
    ...contactPolicyOperations(contact, contactIndexes.ready),
    ...suppressionOperations(contact, contactIndexes.ready),
    ...contactCounterOperations(contact.contactCounters, contactIndexes.ready),
    ...sendThrottleOperations(contact.sendThrottles, contactIndexes.ready),
    async close() {
      await stopRetention();
      await connection.close();
    },
  };
}
