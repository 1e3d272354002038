import { createHash } from 'node:crypto';
import pg, { type Pool, type PoolConfig, type QueryResult, type QueryResultRow } from 'pg';
import { AutomationError, type Logger } from '@crm-automation/core';
import { checkOptionShapes, LOGGER_OPTION_SHAPE, type OptionShape } from '@crm-automation/core/spi';

/** How a store reaches PostgreSQL: a pool you own, or a connection string it opens a pool for. */
export interface PostgresConnectionOptions {
  /** A `pg.Pool` you created and end yourself; the store never ends it. */
  pool?: Pool | undefined;
  /** A connection string; the store opens a pool and ends it on `close()`. */
  connectionString?: string | undefined;
  /**
   * Settings of the pool opened from `connectionString` (`max`, `ssl`, `application_name`, timeouts).
   * Default `max` is 10: a claim loop needs one connection at a time, intake and batched outcomes a
   * few more, and `watchDue` holds one for `LISTEN`.
   */
  poolConfig?: Omit<PoolConfig, 'connectionString'> | undefined;
  /** Schema of the store's tables. Default `crm_automation`. */
  schema?: string | undefined;
}

export const CONNECTION_OPTION_KEYS = ['pool', 'connectionString', 'poolConfig', 'schema'] as const;

/** A named statement: prepared once per connection, by a name derived from its text. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export function statement(text: string): Statement {
  return { name: `crm_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
}

export interface Database {
  readonly pool: Pool;
  readonly schema: string;
  /** Runs a statement; schema-missing errors become a CRM_ERR_CONFIG that says to call `ensureSchema()`. */
  query<R extends QueryResultRow>(sql: Statement | string, values?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Ends the pool when the store opened it; a handed pool is left alone. */
  close(): Promise<void>;
}

// Keys several factories share; each is checked only where the factory takes it (absent keys are skipped).
const STORE_OPTION_SHAPES: Readonly<Record<string, OptionShape>> = {
  connectionString: { kind: 'string', what: 'a postgres:// connection string' },
  logger: LOGGER_OPTION_SHAPE,
  now: { kind: 'function', what: 'a function returning epoch milliseconds' },
};

export function openDatabase(factory: string, options: PostgresConnectionOptions, schema: string, logger: Logger): Database {
  checkOptionShapes(factory, options, STORE_OPTION_SHAPES);
  if (options.pool && options.connectionString !== undefined) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: pass either pool or connectionString, not both`);
  }
  if (options.pool && options.poolConfig) throw new AutomationError('CRM_ERR_CONFIG', `${factory}: poolConfig applies only to the pool opened from connectionString`);
  if (options.pool !== undefined && (typeof options.pool !== 'object' || options.pool === null || typeof (options.pool as Partial<Pool>).query !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: pool must be a pg.Pool`);
  }
  if (options.poolConfig !== undefined && (typeof options.poolConfig !== 'object' || options.poolConfig === null || Array.isArray(options.poolConfig))) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: poolConfig must be an object of pg.Pool settings`);
  }
  let pool: Pool;
  const owned = !options.pool;
  if (options.pool) pool = options.pool;
  else if (typeof options.connectionString === 'string' && options.connectionString.length > 0) {
    pool = new pg.Pool({ max: 10, ...options.poolConfig, connectionString: options.connectionString });
    // An idle client whose server went away (restart, failover) emits 'error' on the pool; unheard,
    // that would end the process. The next query simply opens a new connection.
    pool.on('error', (error) => logger.warn({ error: error.message }, 'postgres: idle connection lost'));
  } else throw new AutomationError('CRM_ERR_CONFIG', `${factory}: needs a pool or a connectionString`);

  let closed: Promise<void> | undefined;
  return {
    pool,
    schema,
    async query<R extends QueryResultRow>(sql: Statement | string, values: readonly unknown[] = []) {
      try {
        const config = typeof sql === 'string' ? { text: sql, values: [...values] } : { name: sql.name, text: sql.text, values: [...values] };
        return await pool.query<R>(config);
      } catch (error) {
        throw explainMissingSchema(error, schema);
      }
    },
    close() {
      if (!owned) return Promise.resolve();
      closed ??= pool.end();
      return closed;
    },
  };
}

/** SQLSTATE of a driver error, when it has one. */
export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/** A schema-missing error as the CRM_ERR_CONFIG that says to call `ensureSchema()`; any other error as it is. */
export function explainMissingSchema(error: unknown, schema: string): unknown {
  const state = sqlState(error);
  // 42P01 undefined_table, 3F000 invalid_schema_name
  if (state !== '42P01' && state !== '3F000') return error;
  return new AutomationError('CRM_ERR_CONFIG', `postgres store: schema "${schema}" is not set up (${(error as Error).message}); call ensureSchema() first`, { cause: error });
}

/**
 * The server could not be reached or went away mid-statement (restart, failover, network): SQLSTATE
 * class 08, an administrator shutdown or start-up (57P01-57P03), or a socket error from the driver.
 */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state) return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

/** Data exceptions (SQLSTATE class 22): a value PostgreSQL cannot store, such as U+0000 in text or JSON. */
export const isDataException = (error: unknown) => sqlState(error)?.startsWith('22') === true;

/** Text PostgreSQL can hold: no U+0000. A lookup by any other string matches nothing. */
export const storableText = (value: unknown): value is string => typeof value === 'string' && !value.includes('\u0000');

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Text as PostgreSQL receives it in a text parameter: the driver encodes a lone UTF-16 surrogate as
 * U+FFFD. Text that travels inside a JSON parameter instead would reach the server as a `\uD800`
 * escape, which JSONB refuses; this keeps such text what a text parameter would have made of it.
 */
export const wellFormed = (text: string): string => (ANY_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\uFFFD') : text);
