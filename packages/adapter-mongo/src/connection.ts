import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { AutomationError } from '@crm-automation/core';

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

/** Opens nothing yet: the driver connects on the first operation. */
export function openConnection(options: MongoConnectionOptions, adapter: string): Connection {
  if (options.client && options.uri) {
    throw new AutomationError('CRM_ERR_CONFIG', `${adapter}: pass either client or uri, not both`);
  }
  const owned = !options.client;
  let client: MongoClient;
  if (options.client) client = options.client;
  else if (typeof options.uri === 'string' && options.uri.length > 0) client = new MongoClient(options.uri, options.clientOptions);
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
