import { createMongoContactStore, createMongoRuleStore, createMongoTriggerStore } from '@crm-automation/adapter-mongo';
import { createPostgresContactStore, createPostgresRuleStore, createPostgresTriggerStore } from '@crm-automation/adapter-postgres';
import type { ContactCounter, ContactPolicyStore, RuleStore, SendThrottle, SuppressionStore, TriggerStore } from '@crm-automation/core';
import type { Logger } from 'pino';
import { mongoRuleReplica, postgresRuleReplica, type RuleReplica } from '../trigger-service/rule-lookup/rule-replica.js';
import type { StoreConfig } from './store-config.js';

/** A service's store, opened and brought up to date (indexes or migrations), with what the service needs around it. */
export interface OpenedStore<S> {
  store: S;
  /** Readiness probe: resolves when the database answers. */
  ping(): Promise<unknown>;
  /** Where the data is, for the ready log line: `mongo crm_automation` or `postgres crm_automation`. */
  where: string;
  close(): Promise<void>;
}

/**
 * The rules service's store: rules only. Its own indexes (`ensureIndexes()`) or tables
 * (`ensureSchema()`) are created here, at start-up, and nothing of the triggers'.
 */
export async function openRuleStore(config: StoreConfig & { RULES_DB_NAME?: string | undefined }, logger: Logger): Promise<OpenedStore<RuleStore>> {
  if (config.STORE === 'postgres') {
    const store = createPostgresRuleStore({ connectionString: config.POSTGRES_URL, schema: config.POSTGRES_SCHEMA, logger, poolConfig: { max: 10, application_name: 'rules-service' } });
    await store.ensureSchema();
    return { store, ping: () => store.pool.query('SELECT 1'), where: `postgres ${store.schema}`, close: () => store.close() };
  }
  // Without RULES_DB_NAME: the URI's database, else crm_automation (the adapter's default, and the CLI's).
  const store = createMongoRuleStore({ uri: config.MONGODB_URI, dbName: config.RULES_DB_NAME });
  await store.ensureIndexes();
  return { store, ping: () => store.db.command({ ping: 1 }), where: `mongo ${store.db.databaseName}`, close: () => store.close() };
}

/** The contact policy ports the engine that fires reads (policies, suppressions, cap counters, the send throttle). */
export type ContactStore = ContactPolicyStore & SuppressionStore & ContactCounter & SendThrottle;

/**
 * The trigger service's store: triggers, and beside them (same database or schema, same connection)
 * the contact data its engine reads at fire time and the pub/sub lookup's rule replica. Indexes or
 * migrations of all of them are applied here, at start-up.
 */
export async function openTriggerStore(
  config: StoreConfig & { TRIGGERS_DB_NAME?: string | undefined },
  logger: Logger,
): Promise<OpenedStore<TriggerStore> & { contact: ContactStore; ruleReplica(): Promise<RuleReplica> }> {
  if (config.STORE === 'postgres') {
    const store = createPostgresTriggerStore({ connectionString: config.POSTGRES_URL, schema: config.POSTGRES_SCHEMA, logger, poolConfig: { max: 10, application_name: 'trigger-service' } });
    await store.ensureSchema();
    // On the trigger store's pool, which it alone ends.
    const contact = createPostgresContactStore({ pool: store.pool, schema: store.schema, logger });
    await contact.ensureSchema();
    return {
      store,
      contact,
      ping: () => store.pool.query('SELECT 1'),
      where: `postgres ${store.schema}`,
      close: () => store.close(),
      async ruleReplica() {
        const replica = postgresRuleReplica(store.pool, store.schema);
        await replica.ensureStorage();
        return replica;
      },
    };
  }
  const store = createMongoTriggerStore({ uri: config.MONGODB_URI, dbName: config.TRIGGERS_DB_NAME, logger });
  await store.ensureIndexes();
  // On the trigger store's client, which it alone closes.
  const contact = createMongoContactStore({ client: store.db.client, dbName: store.db.databaseName });
  await contact.ensureIndexes();
  return {
    store,
    contact,
    ping: () => store.db.command({ ping: 1 }),
    where: `mongo ${store.db.databaseName}`,
    close: () => store.close(),
    async ruleReplica() {
      const replica = mongoRuleReplica(store.db);
      await replica.ensureStorage();
      return replica;
    },
  };
}
