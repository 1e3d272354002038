import type { KafkaBus } from '@crm-automation/adapter-kafka';
import type { RabbitBus } from '@crm-automation/adapter-rabbitmq';
import { checkOptions, createAutomationEngine, optionKeys, type AutomationEngine, type AutomationStore } from '@crm-automation/core';
import { CliError } from './cli-error.js';
import type { IndexedCollection } from './commands/ensure-indexes.js';
import type { RetentionTarget } from './commands/purge.js';
import type { DeadLetterSource } from './commands/dead-letters.js';
import { loadAdapter } from './load-adapter.js';
import { openMongoBackend } from './stores/mongo-backend.js';
import { openPostgresBackend } from './stores/postgres-backend.js';
import { requireContactPorts, type ContactPort } from './stores/require-contact-ports.js';
import { requireDeliveryLedger } from './stores/require-ledger.js';
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

/**
 * What the commands of one CLI run use; {@link Connections} opens the real ones, tests pass memory ones.
 * `engine` and `indexTargets` may answer with a promise: the real ones import the store's adapter first.
 */
export interface CliConnections {
  /** An engine over the store that is never started: its rules and triggers APIs apply the engine's rules. */
  engine(): AutomationEngine | Promise<AutomationEngine>;
  /** The same engine, once the store is known to keep a delivery ledger (`CRM_ERR_CLI_NO_LEDGER` otherwise). */
  deliveryEngine(): AutomationEngine | Promise<AutomationEngine>;
  /**
   * The same engine, once the store is known to keep the suppression list or the contact policy
   * (`CRM_ERR_CONFIG` otherwise). Optional: without it the commands use `engine()` and the engine's own check.
   */
  contactEngine?(port: ContactPort): AutomationEngine | Promise<AutomationEngine>;
  deadLetters(kind: BusKind): DeadLetterSource;
  retention(): RetentionTarget;
  indexTargets(idempotencyCollection: string | false): IndexedCollection[] | Promise<IndexedCollection[]>;
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
 * The CLI's engine over `store`, never started: its rules and triggers APIs apply the engine's rules,
 * with the action types and webhook policy the services use (from the settings).
 */
export function createCliEngine(store: AutomationStore, settings: Pick<ConnectionSettings, 'actionTypes' | 'allowPrivateWebhooks'>): AutomationEngine {
  return createAutomationEngine({
    store,
    actionTypes: settings.actionTypes,
    ...(settings.allowPrivateWebhooks ? { webhookAddressPolicy: { allowPrivateNetworks: true } } : {}),
    instanceId: 'crm-automation-cli',
  });
}

/**
 * Opens what a command needs, when it first needs it (so `--help` connects nowhere), and closes all
 * of it at the end. The adapters are optional peer dependencies, imported on first use: a missing one
 * is a `CRM_ERR_CLI_CONFIG` naming the package. Indexes and tables are never created as a side
 * effect: only `ensure-indexes` (`ensure-schema`) does that.
 */
export class Connections implements CliConnections {
  private backend: Promise<StoreBackend> | undefined;
  private engineInstance: Promise<AutomationEngine> | undefined;
  private readonly buses: Array<Promise<RabbitBus | KafkaBus>> = [];

  constructor(private readonly settings: ConnectionSettings) {
    checkOptions('Connections', settings, CONNECTION_SETTING_KEYS, true);
  }

  /** The store the settings name, opened once. Settings errors are thrown before anything is imported. */
  store(): Promise<StoreBackend> {
    if (!this.backend) {
      const chosen = chooseStore(this.settings);
      this.backend = chosen.kind === 'mongo' ? openMongoBackend(chosen.uri, given(this.settings.db)) : openPostgresBackend(chosen.url, given(this.settings.schema));
    }
    return this.backend;
  }

  engine(): Promise<AutomationEngine> {
    this.engineInstance ??= this.store().then((backend) => createCliEngine(backend.store, this.settings));
    return this.engineInstance;
  }

  async deliveryEngine(): Promise<AutomationEngine> {
    const backend = await this.store();
    requireDeliveryLedger(backend.store, backend.kind);
    return this.engine();
  }

  async contactEngine(port: ContactPort): Promise<AutomationEngine> {
    requireContactPorts((await this.store()).store, port);
    return this.engine();
  }

  deadLetters(kind: BusKind): DeadLetterSource {
    if (kind === 'rabbitmq') {
      const url = this.settings.rabbitmqUrl;
      if (!url) throw new CliError('CRM_ERR_CLI_CONFIG', 'set RABBITMQ_URL or pass --rabbitmq-url');
      return this.busDeadLetters(async () => {
        const { createRabbitBus } = await loadAdapter('@crm-automation/adapter-rabbitmq', 'dead-letters --bus rabbitmq', () => import('@crm-automation/adapter-rabbitmq'));
        return createRabbitBus({ url, exchange: this.settings.exchange, queuePrefix: this.settings.queuePrefix, publishTimeoutMs: 15_000 });
      });
    }
    const brokers = this.settings.kafkaBrokers;
    if (!brokers) throw new CliError('CRM_ERR_CLI_CONFIG', 'set KAFKA_BROKERS or pass --kafka-brokers');
    return this.busDeadLetters(async () => {
      const { createKafkaBus } = await loadAdapter('@crm-automation/adapter-kafka', 'dead-letters --bus kafka', () => import('@crm-automation/adapter-kafka'));
      return createKafkaBus({ brokers, topic: this.settings.topic, clientId: 'crm-automation-cli', publishTimeoutMs: 15_000 });
    });
  }

  /** Dead letters of a bus opened on the first call, so that the adapter is imported only when used. */
  private busDeadLetters(open: () => Promise<RabbitBus | KafkaBus>): DeadLetterSource {
    let opened: Promise<RabbitBus | KafkaBus> | undefined;
    const bus = () => {
      if (!opened) {
        opened = open();
        this.buses.push(opened);
      }
      return opened;
    };
    return {
      list: async (filter) => (await bus()).deadLetters.list(filter),
      replay: async (filter) => (await bus()).deadLetters.replay(filter),
    };
  }

  retention(): RetentionTarget {
    // Settings errors now, as before; the store (and its adapter) only when the purge runs.
    chooseStore(this.settings);
    return {
      purge: async (request) => (await this.store()).retention.purge(request),
      count: async (request) => (await this.store()).retention.count(request),
    };
  }

  /** The automation store's indexes (MongoDB) or schema (PostgreSQL) and, unless `idempotencyCollection` is false, the idempotency keys'. */
  async indexTargets(idempotencyCollection: string | false): Promise<IndexedCollection[]> {
    return (await this.store()).indexTargets(idempotencyCollection);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map(async (opened) => (await opened).close()));
    await this.backend?.then((backend) => backend.close()).catch(() => undefined);
  }
}
