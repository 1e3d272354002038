import { createKafkaBus, type KafkaBus } from '@crm-automation/adapter-kafka';
import { createMongoIdempotencyStore, createMongoStore, type MongoStore } from '@crm-automation/adapter-mongo';
import { createRabbitBus, type RabbitBus } from '@crm-automation/adapter-rabbitmq';
import { checkOptions, createAutomationEngine, optionKeys, type AutomationEngine } from '@crm-automation/core';
import { CliError } from './cli-error.js';
import type { IndexedCollection } from './commands/ensure-indexes.js';
import type { RetentionTarget } from './commands/purge.js';
import type { DeadLetterSource } from './commands/dead-letters.js';

/** Where the CLI connects, from flags or the services' environment variables. */
export interface ConnectionSettings {
  /** `MONGODB_URI`. */
  mongodbUri?: string | undefined;
  /** Database name; default the one in the URI, else `crm_automation` (as the services use). */
  db?: string | undefined;
  /** `RABBITMQ_URL`. */
  rabbitmqUrl?: string | undefined;
  /** `KAFKA_BROKERS`, comma-separated. */
  kafkaBrokers?: string | undefined;
  /** RabbitMQ exchange and queue prefix, when the services do not use the defaults. */
  exchange?: string | undefined;
  queuePrefix?: string | undefined;
  /** Kafka event topic, when the services do not use the default. */
  topic?: string | undefined;
  /** Action types besides sms/email/webhook that rules may use (custom gateways of your services). */
  actionTypes?: readonly string[] | undefined;
  /** Accept webhook URLs on private networks in rules, as services configured with `allowPrivateNetworks` do. */
  allowPrivateWebhooks?: boolean | undefined;
}

const CONNECTION_SETTING_KEYS = optionKeys<ConnectionSettings>()(
  'mongodbUri', 'db', 'rabbitmqUrl', 'kafkaBrokers', 'exchange', 'queuePrefix', 'topic', 'actionTypes', 'allowPrivateWebhooks',
);

export type BusKind = 'rabbitmq' | 'kafka';

/** What the commands of one CLI run use; {@link Connections} opens the real ones, tests pass memory ones. */
export interface CliConnections {
  /** An engine over the store that is never started: its rules and triggers APIs apply the engine's rules. */
  engine(): AutomationEngine;
  deadLetters(kind: BusKind): DeadLetterSource;
  retention(): RetentionTarget;
  indexTargets(idempotencyCollection: string | false): IndexedCollection[];
  close(): Promise<void>;
}

/**
 * Opens what a command needs, when it first needs it (so `--help` connects nowhere), and closes all
 * of it at the end. Indexes are never created as a side effect: only `ensure-indexes` does that.
 */
export class Connections implements CliConnections {
  private mongo: MongoStore | undefined;
  private engineInstance: AutomationEngine | undefined;
  private readonly buses: Array<RabbitBus | KafkaBus> = [];
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(private readonly settings: ConnectionSettings) {
    checkOptions('Connections', settings, CONNECTION_SETTING_KEYS, true);
  }

  store(): MongoStore {
    if (!this.mongo) {
      if (!this.settings.mongodbUri) throw new CliError('CRM_ERR_CLI_CONFIG', 'set MONGODB_URI or pass --mongodb-uri');
      this.mongo = createMongoStore({ uri: this.settings.mongodbUri, dbName: this.settings.db, autoIndex: false });
      const store = this.mongo;
      this.closers.push(() => store.close());
    }
    return this.mongo;
  }

  engine(): AutomationEngine {
    this.engineInstance ??= createAutomationEngine({
      store: this.store(),
      actionTypes: this.settings.actionTypes,
      ...(this.settings.allowPrivateWebhooks ? { webhookAddressPolicy: { allowPrivateNetworks: true } } : {}),
      instanceId: 'crm-automation-cli',
    });
    return this.engineInstance;
  }

  deadLetters(kind: BusKind): DeadLetterSource {
    if (kind === 'rabbitmq') {
      if (!this.settings.rabbitmqUrl) throw new CliError('CRM_ERR_CLI_CONFIG', 'set RABBITMQ_URL or pass --rabbitmq-url');
      const bus = createRabbitBus({ url: this.settings.rabbitmqUrl, exchange: this.settings.exchange, queuePrefix: this.settings.queuePrefix, publishTimeoutMs: 15_000 });
      this.buses.push(bus);
      return bus.deadLetters;
    }
    if (!this.settings.kafkaBrokers) throw new CliError('CRM_ERR_CLI_CONFIG', 'set KAFKA_BROKERS or pass --kafka-brokers');
    const bus = createKafkaBus({ brokers: this.settings.kafkaBrokers, topic: this.settings.topic, clientId: 'crm-automation-cli', publishTimeoutMs: 15_000 });
    this.buses.push(bus);
    return bus.deadLetters;
  }

  /** Retention through the store's `purgeTriggers`; the dry-run count uses the same filter. */
  retention(): RetentionTarget {
    const store = this.store();
    return {
      purge: (request) => store.purgeTriggers(request),
      count: ({ statuses, olderThan }) => store.collections.triggers.countDocuments({ status: { $in: [...statuses] }, updatedAt: { $lt: olderThan } }),
    };
  }

  /** The automation store's collections and, unless `idempotencyCollection` is false, the idempotency keys. */
  indexTargets(idempotencyCollection: string | false): IndexedCollection[] {
    const store = this.store();
    const targets: IndexedCollection[] = [{ name: `automation store (${store.collections.rules.collectionName}, ${store.collections.triggers.collectionName})`, ensureIndexes: () => store.ensureIndexes() }];
    if (idempotencyCollection !== false) {
      const keys = createMongoIdempotencyStore({ client: store.db.client, dbName: store.db.databaseName, collection: idempotencyCollection, autoIndex: false });
      targets.push({ name: `idempotency keys (${keys.collection.collectionName})`, ensureIndexes: () => keys.ensureIndexes() });
    }
    return targets;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map((bus) => bus.close()));
    await Promise.allSettled(this.closers.map((close) => close()));
  }
}
