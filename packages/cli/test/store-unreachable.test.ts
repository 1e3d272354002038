import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoStore } from '@crm-automation/adapter-mongo';
import { createPostgresStore } from '@crm-automation/adapter-postgres';
import { DEFAULT_DATABASE_NAME } from '../src/index.js';
import { printableUrl } from '../src/stores/store-unreachable.js';
import { runCaptured } from './cli-run.js';

/** The real CLI with its real connections (no `connect` injected), as `crm-automation <args>`. */
const cli = (args: string[]) => runCaptured(args);

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no port'));
    });
  });

// A port nothing listens on: taken from the system, then given back.
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// The driver's own defaults would wait 30 s (MongoDB) or forever (PostgreSQL); these tests get 15 s.
const GUARD_MS = 15_000;

describe('a store the CLI cannot reach', () => {
  let refused = 0;
  let silentPort = 0;
  // Accepts connections and never answers: a server that hangs, or a firewall that swallows packets.
  const silent = createServer((socket: Socket) => sockets.add(socket));
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    refused = await closedPort();
    silentPort = await listen(silent);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it.concurrent(
    'MongoDB refusing the connection: CRM_ERR_CLI_UNREACHABLE naming the address without credentials, and how to start a test server',
    async () => {
      const run = await cli(['--mongodb-uri', `mongodb://alice:s3cret@127.0.0.1:${refused}/crm?authSource=admin`, 'triggers', 'list', '--account', 'acc_1']);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `error CRM_ERR_CLI_UNREACHABLE: cannot reach MongoDB at mongodb://127.0.0.1:${refused}/crm (connection refused): is the server running, and is that its address? ` +
          'In the crm-automation repository, `bash scripts/services.sh up mongo` starts a local MongoDB for tests.\n',
      );
      expect(run.stderr).not.toMatch(/alice|s3cret/);
    },
    GUARD_MS,
  );

  it.concurrent(
    'PostgreSQL refusing the connection: the same, with --json',
    async () => {
      const run = await cli(['--postgres-url', `postgres://bob:hunter2@127.0.0.1:${refused}/crm_automation`, '--json', 'purge', '--older-than', '30d', '--dry-run']);
      expect(run.code).toBe(1);
      const { error } = JSON.parse(run.stdout) as { error: { code: string; message: string } };
      expect(error.code).toBe('CRM_ERR_CLI_UNREACHABLE');
      expect(error.message).toContain(`cannot reach PostgreSQL at postgres://127.0.0.1:${refused}/crm_automation (connection refused)`);
      expect(error.message).toContain('`bash scripts/services.sh up postgres`');
      expect(run.stdout).not.toMatch(/bob|hunter2/);
    },
    GUARD_MS,
  );

  it.concurrent(
    'MongoDB not answering: fails after the connect timeout, not the driver default',
    async () => {
      const run = await cli(['--mongodb-uri', `mongodb://127.0.0.1:${silentPort}`, 'rules', 'export', '--account', 'acc_1']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^error CRM_ERR_CLI_UNREACHABLE: cannot reach MongoDB at mongodb://127\\.0\\.0\\.1:${silentPort} \\(no answer within 5 s\\)`));
    },
    GUARD_MS,
  );

  it.concurrent(
    'PostgreSQL not answering: fails after the connect timeout instead of waiting forever',
    async () => {
      const run = await cli(['--postgres-url', `postgres://postgres@127.0.0.1:${silentPort}/crm_automation`, 'ensure-schema']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^error CRM_ERR_CLI_UNREACHABLE: cannot reach PostgreSQL at postgres://127\\.0\\.0\\.1:${silentPort}/crm_automation \\(no answer within 5 s\\)`));
    },
    GUARD_MS,
  );
});

describe('the addresses and names the CLI prints and uses', () => {
  it('prints addresses without user, password or query', () => {
    expect(printableUrl('mongodb+srv://u:p%40ss@cluster0.example.net/app?retryWrites=true&tlsCertificateKeyFilePassword=x')).toBe('mongodb+srv://cluster0.example.net/app');
    expect(printableUrl('mongodb://a:b@h1:27017,h2:27018/db')).toBe('mongodb://h1:27017,h2:27018/db');
    expect(printableUrl('postgres://postgres@127.0.0.1:5433/crm_automation?sslmode=require&password=x')).toBe('postgres://127.0.0.1:5433/crm_automation');
    expect(printableUrl('postgresql://127.0.0.1/db')).toBe('postgresql://127.0.0.1/db');
  });

  it('uses the database and schema the adapters (and so the apps and services) default to', async () => {
    // Constructed only: neither connects before its first operation.
    const mongo = createMongoStore({ uri: 'mongodb://127.0.0.1:1', autoIndex: false });
    const postgres = createPostgresStore({ connectionString: 'postgres://127.0.0.1:1/x' });
    expect([mongo.db.databaseName, postgres.schema]).toEqual([DEFAULT_DATABASE_NAME, DEFAULT_DATABASE_NAME]);
    expect(DEFAULT_DATABASE_NAME).toBe('crm_automation');
    await Promise.all([mongo.close(), postgres.close()]);
  });
});
