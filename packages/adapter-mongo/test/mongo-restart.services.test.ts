import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createRecordingChannel } from '@crm-automation/core';
import { createMongoStore, type MongoStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { resolveMongoServer, uniqueDbName, type MongoTestServer } from './mongo-server.js';

const SERVICES_SCRIPT = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url));
const run = promisify(execFile);

let server: MongoTestServer;
let store: MongoStore | undefined;

/**
 * How to restart the server: MONGODB_RESTART_COMMAND when set (for an external server), else the
 * services script, which manages the local FerretDB (also when MONGODB_URI is its default URI).
 */
async function restartServer(): Promise<void> {
  const command = process.env['MONGODB_RESTART_COMMAND'];
  if (command) await run('bash', ['-c', command], { timeout: 300_000 });
  else await run('bash', [SERVICES_SCRIPT, 'restart', 'mongo'], { timeout: 300_000 });
}

beforeAll(async () => {
  server = await resolveMongoServer();
  if (server.source === 'memory-server') throw new Error('the restart test needs a server it can restart: FerretDB from scripts/services.sh or MONGODB_RESTART_COMMAND');
  if (server.source === 'env' && !process.env['MONGODB_RESTART_COMMAND'] && !/^mongodb:\/\/(127\.0\.0\.1|localhost):27017\/?$/.test(server.uri)) {
    throw new Error('MONGODB_URI points to an external server: set MONGODB_RESTART_COMMAND to let the restart test restart it');
  }
});

afterAll(async () => {
  if (!store) return;
  await store.db.dropDatabase().catch(() => undefined);
  await store.close();
});

describe('mongo store across a server restart', () => {
  it('the claim loop backs off while the server is down and then finishes every trigger once', async () => {
    const dbName = uniqueDbName('crm_restart');
    store = createMongoStore({ uri: server.uri, dbName, clientOptions: { serverSelectionTimeoutMS: 3_000 } });
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: 'restart-engine', pollIntervalMs: 100, batchSize: 25, concurrency: 2, leaseMs: 20_000, sendTimeoutMs: 2_000 });
    let loopErrors = 0;
    engine.on('loop:error', () => {
      loopErrors += 1;
    });
    await store.ensureIndexes();
    const rule = await engine.rules.create(ACCOUNT, technicianRule());
    const total = 600;
    const now = new Date();
    await store.insertTriggers(Array.from({ length: total }, (_, i) => dueTrigger(rule, `evt_${i}`, new Date(now.getTime() - 1_000 + i))), now);

    const completed = () => store?.collections.triggers.countDocuments({ status: 'completed' }) ?? Promise.resolve(0);
    await engine.start();
    try {
      await waitFor('a quarter of the triggers to complete', async () => (await completed()) >= total / 4, 300_000, 100);
      await restartServer();
      await waitFor('every trigger to complete after the restart', async () => (await completed().catch(() => 0)) === total, 600_000, 500);
    } finally {
      await engine.stop();
    }

    const triggers = store.collections.triggers;
    expect(await triggers.countDocuments({ status: { $ne: 'completed' } })).toBe(0);
    const sent = [...sms.sent, ...email.sent].map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`);
    // Every action reached its gateway exactly once: nothing lost, nothing sent twice.
    expect(new Set(sent).size).toBe(2 * total);
    expect(sent).toHaveLength(2 * total);
    console.info(`[restart] loop errors while the server was down: ${loopErrors}; attempts > 1: ${await triggers.countDocuments({ attempt: { $gt: 1 } })}`);
  }, 900_000);
});
