import type { Db } from 'mongodb';
import type { ContactCounter, ContactPolicyStore, SendThrottle, SuppressionStore } from '@crm-automation/core';
import { checkOptions, optionKeys } from '@crm-automation/core/spi';
import { CONNECTION_OPTION_KEYS, openConnection, type MongoConnectionOptions } from './connection.js';
import { CONTACT_COLLECTION_KEYS, contactCollections, contactPolicyOperations, ensureContactIndexes, suppressionOperations, type ContactCollectionNames, type ContactCollections } from './mongo-contact-policy.js';
import { contactCounterOperations, sendThrottleOperations } from './mongo-contact-counter.js';
import { prepareOnce } from './prepare-once.js';

export interface MongoContactStoreOptions extends MongoConnectionOptions {
  collections?: ContactCollectionNames | undefined;
  /** Run `ensureIndexes()` before the first operation. Default true (the list's uniqueness depends on its index). */
  autoIndex?: boolean | undefined;
}

/** The contact policy ports on their own: policies, suppressions with their changes, cap counters, the send throttle. */
export interface MongoContactStore extends ContactPolicyStore, SuppressionStore, ContactCounter, SendThrottle {
  readonly db: Db;
  readonly collections: Readonly<ContactCollections>;
  /** Creates the indexes the ports rely on; safe to call any number of times. */
  ensureIndexes(): Promise<void>;
  /** Closes the client if the store opened it. */
  close(): Promise<void>;
}

const OPTION_KEYS = optionKeys<MongoContactStoreOptions>()(...CONNECTION_OPTION_KEYS, 'collections', 'autoIndex');

/**
 * The contact policy ports in their own collections (`contact_policies`, `suppressions`,
 * `suppression_changes`, `contact_counters`, `send_throttles`), for a deployment with split stores
 * (`createMongoTriggerStore` in a trigger service): give it to the engine that fires, next to its
 * trigger store. `createMongoStore` already includes the same collections and ports.
 *
 * @example
 * const contact = createMongoContactStore({ uri: process.env.MONGODB_URI });
 * const engine = createAutomationEngine({ triggerStore, ruleSource, channels, contactPolicies: contact, suppressions: contact, contactCounter: contact, sendThrottle: contact });
 */
export function createMongoContactStore(options: MongoContactStoreOptions): MongoContactStore {
  checkOptions('createMongoContactStore', options, OPTION_KEYS, true);
  checkOptions('createMongoContactStore: collections', options.collections, optionKeys<ContactCollectionNames>()(...CONTACT_COLLECTION_KEYS));
  const connection = openConnection(options, 'createMongoContactStore');
  const contact = contactCollections(connection.db, options.collections);
  const indexes = prepareOnce(() => ensureContactIndexes(contact), options.autoIndex ?? true);
  return {
    db: connection.db,
    collections: contact,
    async ensureIndexes() {
      await ensureContactIndexes(contact);
      indexes.markReady();
    },
    ...contactPolicyOperations(contact, indexes.ready),
    ...suppressionOperations(contact, indexes.ready),
    ...contactCounterOperations(contact.contactCounters, indexes.ready),
    ...sendThrottleOperations(contact.sendThrottles, indexes.ready),
    close: () => connection.close(),
  };
}
