import type { SchemaReport } from '@crm-automation/adapter-postgres';
import { CliError } from '../cli-error.js';
import type { IndexedCollection } from '../commands/ensure-indexes.js';
import { loadAdapter } from '../load-adapter.js';
import type { StoreBackend } from './store-backend.js';
import { explainUnreachable, STORE_CONNECT_TIMEOUT_MS } from './store-unreachable.js';

/** SQLSTATEs of a missing schema or table. */
const MISSING = new Set(['3F000', '42P01']);

/** `ensureSchema()`'s report in the CLI's terms: what was applied this time, and the versions now. */
function schemaSummary(report: SchemaReport) {
  return {
    schema: report.schema,
    applied: report.applied.map((m) => `${m.component} ${m.version} (${m.name})`),
    versions: Object.entries(report.versions).map(([component, version]) => `${component} ${String(version)}`),
  };
}

/**
 * The PostgreSQL store on one small pool, reached once before any command runs (`SELECT 1`) so that a
 * server that is down fails in seconds with a hint. Tables are created or migrated only by
 * `ensure-indexes` (`ensureSchema()`); any other command on a schema not set up fails with the
 * adapter's `CRM_ERR_CONFIG` saying so.
 */
export async function openPostgresBackend(connectionString: string, schema: string | undefined): Promise<StoreBackend> {
  const { createPostgresIdempotencyStore, createPostgresStore } = await loadAdapter('@crm-automation/adapter-postgres', 'a PostgreSQL store (POSTGRES_URL)', () => import('@crm-automation/adapter-postgres'));
  const store = createPostgresStore({ connectionString, schema, poolConfig: { max: 4, application_name: 'crm-automation-cli', connectionTimeoutMillis: STORE_CONNECT_TIMEOUT_MS } });
  try {
    await store.pool.query('SELECT 1');
  } catch (error) {
    await store.close().catch(() => undefined);
    throw explainUnreachable('postgres', connectionString, error);
  }
  const quoted = `"${store.schema}"`;
  return {
    kind: 'postgres',
    store,
    retention: {
      purge: (request) => store.purgeTriggers(request),
      async count({ statuses, olderThan }) {
        try {
          const result = await store.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted}.triggers WHERE status = ANY($1::text[]) AND updated_at < $2`, [[...statuses], olderThan.toISOString()]);
          return result.rows[0]?.n ?? 0;
        } catch (error) {
          if (MISSING.has(String((error as { code?: unknown }).code))) throw new CliError('CRM_ERR_CLI_CONFIG', `schema "${store.schema}" has no triggers table: run crm-automation ensure-schema first`);
          throw error;
        }
      },
    },
    indexTargets(idempotencyCollection) {
      const targets: IndexedCollection[] = [{ name: `automation store (schema ${store.schema}: rules, triggers, deliveries, contact policy)`, what: 'schema', ensureIndexes: async () => schemaSummary(await store.ensureSchema()) }];
      if (idempotencyCollection !== false) {
        const keys = createPostgresIdempotencyStore({ pool: store.pool, schema: store.schema });
        targets.push({ name: `idempotency keys (schema ${store.schema}: idempotency_keys)`, what: 'schema', ensureIndexes: async () => schemaSummary(await keys.ensureSchema()) });
      }
      return targets;
    },
    close: () => store.close(),
  };
}
