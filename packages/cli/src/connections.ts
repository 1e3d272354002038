import { createKafkaBus, type KafkaBus } from '@crm-automation/adapter-kafka';
import { createRabbitBus, type RabbitBus } from '@crm-automation/adapter-rabbitmq';
import { checkOptions, createAutomationEngine, optionKeys, type AutomationEngine } from '@crm-automation/core';
import { CliError } from './cli-error.js';
import type { IndexedCollection } from './commands/ensure-indexes.js';
import type { RetentionTarget } from './commands/purge.js';
import type { DeadLetterSource } from './commands/dead-letters.js';
import { openMongoBackend } from './stores/mongo-backend.js';
import { openPostgresBackend } from './stores/postgres-backend.js';
import { STORE_KINDS, type StoreBackend, type StoreKind } from './stores/store-backend.js';

/** Where the CLI connects, from flags or the services' environment variables. */
export interface ConnectionSettings {
  /** `STORE`: which store the services use. Default: the one whose address is given (`mongodbUri` or `postgresUrl`). */
  store?: StoreKind | undefined;
  /** `MONGODB_URI`. */
  mongodbUri?: string | undefined;
  /** MongoDB database name; default the one in the URI, else `crm_automation` (as the services use). */
  db?: string | undefined;
  /** `POSTGRES_URL`. */
  postgresUrl?: string | undefined;
  /** PostgreSQL schema of the tables; default `crm_automation` (as the services use). */
  schema?: string | undefined;
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
  'store', 'mongodbUri', 'db', 'postgresUrl', 'schema', 'rabbitmqUrl', 'kafkaBrokers', 'exchange', 'queuePrefix', 'topic', 'actionTypes', 'allowPrivateWebhooks',
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

/** Empty values (`POSTGRES_URL=`) mean "not set", as in the services. */
const given = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

/**
 * Which store the settings name: `store` when set, else the only one whose address is given. Both
 * addresses without `store` are refused rather than guessed: a purge must not run on the wrong one.
 */
export function chooseStore(settings: ConnectionSettings): { kind: 'mongo'; uri: string } | { kind: 'postgres'; url: string } {
  const uri = given(settings.mongodbUri);
  const url = given(settings.postgresUrl);
  if (settings.store !== undefined && !STORE_KINDS.includes(settings.store)) {
    throw new CliError('CRM_ERR_CLI_USAGE', `unknown store ${JSON.stringify(settings.store)} (known: ${STORE_KINDS.join(', ')})`);
  }
  const kind = settings.store ?? (uri && url ? undefined : url ? 'postgres' : uri ? 'mongo' : undefined);
  if (kind === 'mongo') {
    if (!uri) throw new CliError('CRM_ERR_CLI_CONFIG', 'set MONGODB_URI or pass --mongodb-uri');
    return { kind, uri };
  }
  if (kind === 'postgres') {
    if (!url) throw new CliError('CRM_ERR_CLI_CONFIG', 'set POSTGRES_URL or pass --postgres-url');
    return { kind, url };
  }
  if (uri && url) throw new CliError('CRM_ERR_CLI_CONFIG', 'both MONGODB_URI and POSTGRES_URL are set: choose the store with --store mongo|postgres (or STORE)');
  throw new CliError('CRM_ERR_CLI_CONFIG', 'set MONGODB_URI or POSTGRES_URL (or pass --mongodb-uri or --postgres-url)');
}

/**
 * Opens what a command needs, when it first needs it (so `--help` connects nowhere), and closes all
 * of it at the end. Indexes and tables are never created as a side effect: only `ensure-indexes`
 * (`ensure-schema`) does that.
 */
export class Connections implements CliConnections {
  private backend: StoreBackend | undefined;
  private engineInstance: AutomationEngine | undefined;
  private readonly buses: Array<RabbitBus | KafkaBus> = [];

  constructor(private readonly settings: ConnectionSettings) {
    checkOptions('Connections', settings, CONNECTION_SETTING_KEYS, true);
  }

  /** The store the settings name, opened once. */
  store(): StoreBackend {
    if (!this.backend) {
      const chosen = chooseStore(this.settings);
      this.backend = chosen.kind === 'mongo' ? openMongoBackend(chosen.uri, given(this.settings.db)) : openPostgresBackend(chosen.url, given(this.settings.schema));
    }
    return this.backend;
  }

  engine(): AutomationEngine {
    this.engineInstance ??= createAutomationEngine({
      store: this.store().store,
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

  retention(): RetentionTarget {
    return this.store().retention;
  }

  /** The automation store's indexes (MongoDB) or schema (PostgreSQL) and, unless `idempotencyCollection` is false, the idempotency keys'. */
  indexTargets(idempotencyCollection: string | false): IndexedCollection[] {
    return this.store().indexTargets(idempotencyCollection);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map((bus) => bus.close()));
    await this.backend?.close().catch(() => undefined);
  }
}
