import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

/** Where the services tests found a MongoDB-wire server. */
export interface MongoTestServer {
  uri: string;
  /** `env`: MONGODB_URI; `ferretdb`: the server `scripts/services.sh up mongo` runs; `memory-server`: a mongod from mongodb-memory-server. */
  source: 'env' | 'ferretdb' | 'memory-server';
  /** Stops what the resolver started itself (only the memory server); a no-op otherwise. */
  stop(): Promise<void>;
}

const FERRETDB_URI = 'mongodb://127.0.0.1:27017';
const SERVICES_SCRIPT = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url));

async function pings(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 2_000 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** mongodb-memory-server is not a dependency (its install downloads a mongod); use it only if present. */
async function memoryServer(): Promise<MongoTestServer | undefined> {
  for (const name of ['mongodb-memory-server', 'mongodb-memory-server-core']) {
    let module: { MongoMemoryServer?: { create(): Promise<{ getUri(): string; stop(): Promise<unknown> }> } };
    try {
      module = (await import(/* @vite-ignore */ name)) as typeof module;
    } catch {
      continue;
    }
    if (!module.MongoMemoryServer) continue;
    const server = await module.MongoMemoryServer.create();
    return { uri: server.getUri(), source: 'memory-server', stop: async () => void (await server.stop()) };
  }
  return undefined;
}

let resolved: Promise<MongoTestServer> | undefined;

/**
 * Finds a server for the services tests, in this order: `MONGODB_URI`; the FerretDB that
 * `scripts/services.sh up mongo` runs on 127.0.0.1:27017 (started here if it is not running);
 * `mongodb-memory-server` if it is installed. Throws with instructions when none is reachable —
 * services tests fail loudly rather than skip.
 */
export function resolveMongoServer(): Promise<MongoTestServer> {
  resolved ??= (async (): Promise<MongoTestServer> => {
    const fromEnv = process.env['MONGODB_URI'];
    if (fromEnv) {
      if (await pings(fromEnv)) return { uri: fromEnv, source: 'env', stop: async () => {} };
      throw new Error(`MONGODB_URI is set (${fromEnv.replace(/\/\/[^@/]*@/, '//***@')}) but the server does not answer ping`);
    }
    if (await pings(FERRETDB_URI)) return { uri: FERRETDB_URI, source: 'ferretdb', stop: async () => {} };
    try {
      await promisify(execFile)('bash', [SERVICES_SCRIPT, 'up', 'mongo'], { timeout: 600_000 });
      if (await pings(FERRETDB_URI)) return { uri: FERRETDB_URI, source: 'ferretdb', stop: async () => {} };
    } catch {
      // FerretDB could not be built or started here: try the next source.
    }
    const memory = await memoryServer();
    if (memory) return memory;
    throw new Error(
      'No MongoDB-wire server for the services tests: set MONGODB_URI, or run `scripts/services.sh up mongo` (FerretDB), ' +
        'or install mongodb-memory-server on a machine that can download a mongod (see packages/adapter-mongo/README.md).',
    );
  })();
  return resolved;
}

/** A database name no other test uses. */
export function uniqueDbName(prefix = 'crm_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Whether the server is FerretDB (which lacks TTL indexes and evaluates filters by scanning). */
export async function isFerretDb(client: MongoClient): Promise<boolean> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  return typeof info['ferretdbVersion'] === 'string';
}
