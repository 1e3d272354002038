import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { AutomationError } from '@crm-automation/core';
import { checkOptionShapes, LOGGER_OPTION_SHAPE, type OptionShape } from '@crm-automation/core/spi';

/** How an adapter reaches the server: a client you own, or a URI it connects to itself. */
export interface MongoConnectionOptions {
  /** A client you created; the adapter never closes it. */
  client?: MongoClient | undefined;
  /** A connection string; the adapter opens a client and closes it on `close()`. */
  uri?: string | undefined;
  /** Options for the client opened from `uri`. */
  clientOptions?: MongoClientOptions | undefined;
  /** Database name. Default: the database in the URI, else `crm_automation`. */
  dbName?: string | undefined;
}

export const CONNECTION_OPTION_KEYS = ['client', 'uri', 'clientOptions', 'dbName'] as const;

export interface Connection {
  client: MongoClient;
  db: Db;
  /** Closes the client only when the adapter opened it. */
  close(): Promise<void>;
}

export const DEFAULT_DB_NAME = 'crm_automation';

// Keys several factories share; each is checked only where the factory takes it (absent keys are skipped).
const ADAPTER_OPTION_SHAPES: Readonly<Record<string, OptionShape>> = {
  uri: { kind: 'string', what: 'a mongodb:// or mongodb+srv:// connection string' },
  autoIndex: { kind: 'boolean', what: 'true or false' },
  logger: LOGGER_OPTION_SHAPE,
  now: { kind: 'function', what: 'a function returning epoch milliseconds' },
  collection: { kind: 'string', what: 'a collection name' },
};

/** The driver parses the URI and options at once: what it refuses is a CRM_ERR_CONFIG, not a MongoParseError. */
function newClient(adapter: string, uri: string, clientOptions: MongoClientOptions | undefined): MongoClient {
  try {
    return new MongoClient(uri, clientOptions);
  } catch (error) {
    // The driver's messages name the problem (a scheme, an unknown option), not the URI itself.
    throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: uri or clientOptions refused by the driver: ${(error as Error).message}`, { cause: error });
  }
}

/** Opens nothing yet: the driver connects on the first operation. */
export function openConnection(options: MongoConnectionOptions, adapter: string): Connection {
  checkOptionShapes(adapter, options, ADAPTER_OPTION_SHAPES);
  if (options.client && options.uri) {
    throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: pass either client or uri, not both`);
  }
  if (options.client !== undefined && (typeof options.client !== 'object' || options.client === null || typeof (options.client as Partial<MongoClient>).db !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: client must be a MongoClient`);
  }
  if (options.clientOptions !== undefined && (typeof options.clientOptions !== 'object' || options.clientOptions === null || Array.isArray(options.clientOptions))) {
    throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: clientOptions must be an object of MongoClient options`);
  }
  if (options.dbName !== undefined && (typeof options.dbName !== 'string' || options.dbName.trim() === '')) throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: dbName must be a non-empty string`);
  const owned = !options.client;
  let client: MongoClient;
  if (options.client) client = options.client;
  else if (typeof options.uri === 'string' && options.uri.length > 0) client = newClient(adapter, options.uri, options.clientOptions);
  else throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: needs a client or a uri`);
  const uriDb = owned ? client.options.dbName : undefined;
  const dbName = options.dbName ?? (uriDb && uriDb !== 'test' ? uriDb : DEFAULT_DB_NAME);
  // ignoreUndefined: optional fields left undefined are omitted instead of stored as null.
  const db = client.db(dbName, { ignoreUndefined: true });
  let closed = false;
  return {
    client,
    db,
    async close() {
      if (!owned || closed) return;
      closed = true;
      await client.close();
    },
  };
}
