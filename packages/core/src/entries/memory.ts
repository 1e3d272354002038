/**
 * `@crm-automation/core/memory`: the in-memory adapters. Everything a single process, a demo or a test
 * needs to run the engine without servers: stores, a bus, idempotency and console gateways.
 */
export { createMemoryStore } from '../memory/memory-store.js';
export { createMemoryRuleStore } from '../memory/memory-rule-store.js';
export { createMemoryTriggerStore } from '../memory/memory-trigger-store.js';
export { createMemoryBus } from '../memory/memory-bus.js';
export type { MemoryBus, MemoryBusOptions } from '../memory/memory-bus.js';
export { createMemoryIdempotencyStore } from '../memory/memory-idempotency.js';
export { createConsoleChannels } from '../memory/console-channels.js';
export type { ConsoleChannelsOptions } from '../memory/console-channels.js';
export { createMemoryDeliveryLedger } from '../memory/memory-delivery-ledger.js';
export { createMemoryContactPolicyStore, createMemorySuppressionStore, createMemoryContactCounter, createMemorySendThrottle } from '../memory/memory-contact-policy.js';
