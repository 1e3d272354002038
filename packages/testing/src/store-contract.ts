import type { AutomationStore } from '@crm-automation/core';
import { describeRuleStoreContract } from './store-contract/rule-store-contract.js';
import { describeTriggerStoreContract } from './store-contract/trigger-store-contract.js';
import type { ContractFactory, ContractSubject } from './store-contract/fixtures.js';

export { describeRuleStoreContract, type RuleStoreContractOptions } from './store-contract/rule-store-contract.js';
export { describeTriggerStoreContract, type TriggerStoreContractOptions } from './store-contract/trigger-store-contract.js';
export type { ContractFactory, ContractSubject } from './store-contract/fixtures.js';

/** A store of both aggregates under test and how to dispose of it. */
export type StoreContractSubject = ContractSubject<AutomationStore>;

/** Returns a fresh, empty store for each test. */
export type StoreContractFactory = ContractFactory<AutomationStore>;

export interface StoreContractOptions {
  /** Parallel `claimDueTriggers` calls in the exclusivity test. Default 12. */
  concurrentClaims?: number | undefined;
  /** Ids of the right general form that this store could never have issued. */
  malformedIds?: readonly string[] | undefined;
}

/**
 * The behaviour every store of both aggregates must have: the rule store contract and the trigger
 * store contract, run against the same factory. The trigger contract includes issue 16's entity-key
 * cases (supersede, skipIfPending, cancelTriggers, concurrent intake through several handles); a store
 * that lacks keyed concurrency or cancel by event says so with `capabilities.keyedConcurrency: false`
 * or `capabilities.cancelByEvent: false`, otherwise those cases hold it to them.
 *
 * @example
 * describeStoreContract('memory', () => createMemoryStore());
 * describeStoreContract('mongodb', async () => {
 *   const dbName = `contract_${randomUUID()}`;
 *   const store = createMongoStore({ uri, dbName });
 *   return {
 *     store,
 *     // Each engine of the concurrent-intake cases gets a handle with its own client on the same data.
 *     openAnother: () => createMongoStore({ uri, dbName }),
 *     cleanup: async () => { await store.db.dropDatabase(); await store.close(); },
 *   };
 * });
 */
export function describeStoreContract(name: string, factory: StoreContractFactory, options: StoreContractOptions = {}): void {
  describeRuleStoreContract(name, factory, { malformedIds: options.malformedIds });
  describeTriggerStoreContract(name, factory, { concurrentClaims: options.concurrentClaims, malformedIds: options.malformedIds });
}
