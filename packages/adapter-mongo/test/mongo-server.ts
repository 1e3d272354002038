import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

/** Where the services tests found a MongoDB-wire server. */
export interface MongoTestServer {
  uri: string;
  /**
   * `env`: MONGODB_URI; `local`: the mongo-java-server that `scripts/services.sh up mongo` runs on
   * 127.0.0.1:27017; `memory-server`: a mongod from mongodb-memory-server.
   */
  source: 'env' | 'local' | 'memory-server';
  /** Stops what the resolver started itself (only the memory server); a no-op otherwise. */
  stop(): Promise<void>;
}

const LOCAL_URI = 'mongodb://127.0.0.1:27017';
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
 * Finds a server for the services tests: `MONGODB_URI` (which CI must set: there a missing URI is an
 * error, never a skip); otherwise, on a developer machine, the mongo-java-server of
 * `scripts/services.sh up mongo` on 127.0.0.1:27017 (started here if it is not running), then
 * `mongodb-memory-server` if it is installed. Throws with instructions when none is reachable.
 */
export function resolveMongoServer(): Promise<MongoTestServer> {
  resolved ??= (async (): Promise<MongoTestServer> => {
    const fromEnv = process.env['MONGODB_URI'];
    if (fromEnv) {
      if (await pings(fromEnv)) return { uri: fromEnv, source: fromEnv.replace(/\/+$/, '') === LOCAL_URI ? 'local' : 'env', stop: async () => {} };
      throw new Error(`MONGODB_URI is set (${fromEnv.replace(/\/\/[^@/]*@/, '//***@')}) but the server does not answer ping`);
    }
    if (process.env['CI'] === 'true') {
      throw new Error('CI=true but MONGODB_URI is not set: the Mongo services tests need a server (scripts/test-services.sh exports it after `scripts/services.sh up mongo`)');
    }
    if (await pings(LOCAL_URI)) return { uri: LOCAL_URI, source: 'local', stop: async () => {} };
    try {
      await promisify(execFile)('bash', [SERVICES_SCRIPT, 'up', 'mongo'], { timeout: 600_000 });
      if (await pings(LOCAL_URI)) return { uri: LOCAL_URI, source: 'local', stop: async () => {} };
    } catch {
      // The local server could not be built or started here: try the next source.
    }
    const memory = await memoryServer();
    if (memory) return memory;
    throw new Error(
      'No MongoDB-wire server for the services tests: set MONGODB_URI, or run `scripts/services.sh up mongo` (mongo-java-server), ' +
        'or install mongodb-memory-server on a machine that can download a mongod (see packages/adapter-mongo/README.md).',
    );
  })();
  return resolved;
}

/** A database name no other test uses. */
export function uniqueDbName(prefix = 'crm_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Ids of the right general shape that this store could never have issued (its ids are lowercase 24-hex). */
export const MALFORMED_MONGO_IDS = [
  '64a5b8e8f1b2c3d4e5f6a7b', // 23 hex digits
  '64a5b8e8f1b2c3d4e5f6a7b1c', // 25
  '64A5B8E8F1B2C3D4E5F6A7B1', // upper case: the store never hands it out
  'zzzzzzzzzzzzzzzzzzzzzzzz', // 24 characters, not hex
  ' 64a5b8e8f1b2c3d4e5f6a7b1',
  '64a5b8e8f1b2c3d4e5f6a7b1\n',
  'ObjectId("64a5b8e8f1b2c3d4e5f6a7b1")',
  '5f0c7a1e-0001-4b3a-9c1d-000000000000', // a UUID: another store's id
];
