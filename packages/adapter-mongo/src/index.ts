export { createMongoStore } from './mongo-store.js';
export type { MongoStore, MongoStoreOptions, MongoCollectionNames } from './mongo-store.js';
export { createMongoRuleStore } from './mongo-rule-store.js';
export type { MongoRuleStore, MongoRuleStoreOptions } from './mongo-rule-store.js';
export { createMongoTriggerStore } from './mongo-trigger-store.js';
export type { MongoTriggerStore, MongoTriggerStoreOptions, MongoIndexReport, MongoRetentionControls } from './mongo-trigger-store.js';
export { createMongoDeliveryLedger } from './mongo-delivery-ledger.js';
export type { MongoDeliveryLedger, MongoDeliveryLedgerOptions } from './mongo-delivery-ledger.js';
export { createMongoIdempotencyStore } from './mongo-idempotency-store.js';
export type { MongoIdempotencyStore, MongoIdempotencyStoreOptions } from './mongo-idempotency-store.js';
export type { MongoConnectionOptions } from './connection.js';
export type { RetentionPolicy, RetentionHandle } from './retention.js';
export { DEFAULT_RETENTION_MS } from './retention.js';
export type { ExpiryMode, IndexDefinition } from './indexes.js';
export { DELIVERY_INDEXES, RULE_INDEXES, TRIGGER_INDEXES } from './indexes.js';
export { dueClaimQuery, expiredLeaseClaimQuery } from './claim-due-triggers.js';
export type { DeliveryDocument, RuleDocument, TriggerDocument } from './documents.js';
export { SUPPRESSION_INDEXES, SUPPRESSION_CHANGE_INDEXES } from './mongo-contact-policy.js';
export type {
  ContactCollectionNames,
  ContactPolicyDocument,
  SuppressionChangeDocument,
  SuppressionDocument,
} from './mongo-contact-policy.js';
export type { CounterBucketDocument, CounterDocument, ThrottleDocument } from './mongo-contact-counter.js';
export { createMongoContactStore } from './mongo-contact-store.js';
export type { MongoContactStore, MongoContactStoreOptions } from './mongo-contact-store.js';
