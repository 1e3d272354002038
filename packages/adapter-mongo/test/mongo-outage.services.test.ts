import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { createAutomationEngine, createRecordingChannel, silentLogger, type Logger } from '@crm-automation/core';
import { createMongoStore, type MongoStore, type TriggerDocument } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { resolveMongoServer, uniqueDbName } from './mongo-server.js';
import { singleHostUri, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/*
 * The local test server keeps its data in memory, so a restart would lose it: the outage is made by
 * cutting the connection instead. A proxy the test controls sits between the store and the server;
 * `cut()` destroys every connection and refuses new ones, `restore()` accepts them again. An
 * observer client connected to the server directly watches the data throughout.
 */

let direct: MongoClient;
let proxy: TcpProxy;
let proxiedUri: string;
let store: MongoStore | undefined;

beforeAll(async () => {
  const server = await resolveMongoServer();
  direct = await new MongoClient(server.uri).connect();
  const target = singleHostUri(server.uri);
  proxy = await startTcpProxy(target);
  proxiedUri = target.via(proxy.port);
});

afterAll(async () => {
  await store?.db.dropDatabase().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await proxy?.close();
  await direct?.close();
});

/** Records the claim loop's back-off delays, from the engine's own log line. */
function backoffRecorder(): { logger: Logger; delays: number[] } {
  const delays: number[] = [];
  const logger: Logger = {
    ...silentLogger,
    error: (bindings, message) => {
      if (message?.startsWith('claim loop pass failed') && typeof bindings['retryInMs'] === 'number') delays.push(bindings['retryInMs']);
    },
    child: () => logger,
  };
  return { logger, delays };
}

const OUTAGE_MS = 4_000;

describe('mongo store across a lost connection', () => {
  it('the claim loop backs off while the server is unreachable, then finishes every trigger with each action sent once', async () => {
    const dbName = uniqueDbName('crm_outage');
    // Operations wait at most 2 s for the server, so a claim during the outage fails (and the loop
    // backs off) while the engine's retries of an outcome (4 tries over ~7 s) outlast the outage.
    store = createMongoStore({ uri: proxiedUri, dbName, clientOptions: { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 1_000, heartbeatFrequencyMS: 500 } });
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const { logger, delays } = backoffRecorder();
    const engine = createAutomationEngine({ store, channels: { sms, email }, logger, instanceId: 'outage-engine', pollIntervalMs: 100, batchSize: 25, concurrency: 4, leaseMs: 10_000, sendTimeoutMs: 2_000 });
    let loopErrors = 0;
    engine.on('loop:error', () => {
      loopErrors += 1;
    });
    await store.ensureIndexes();
    const rule = await engine.rules.create(ACCOUNT, technicianRule());
    const total = 600;
    const now = new Date();
    await store.insertTriggers(Array.from({ length: total }, (_, i) => dueTrigger(rule, `evt_${i}`, new Date(now.getTime() - 1_000 + i))), now);

    const observed = direct.db(dbName).collection<TriggerDocument>('pending_triggers');
    const completed = () => observed.countDocuments({ status: 'completed' });
    await engine.start();
    let duringOutage: number[] = [];
    try {
      await waitFor('a quarter of the triggers to complete', async () => (await completed()) >= total / 4, 120_000, 50);
      await proxy.cut();
      const errorsBefore = loopErrors;
      // Writes already on the wire may still land just after the cut; from then on nothing moves.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const frozenAt = await completed();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - 500));
      duringOutage = [frozenAt, await completed()];
      expect(loopErrors).toBeGreaterThan(errorsBefore);
      await proxy.restore();
      await waitFor('every trigger to complete after the connection is back', async () => (await completed()) === total, 300_000, 250);
    } finally {
      await engine.stop();
    }

    // The outage was real: no trigger completed while the proxy refused connections.
    expect(duringOutage[1]).toBe(duringOutage[0]);
    expect(duringOutage[0]).toBeLessThan(total);
    // The loop backed off: each failed pass waited longer than the one before.
    expect(delays.length).toBeGreaterThan(0);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1] as number);
    expect(await observed.countDocuments({ status: { $ne: 'completed' } })).toBe(0);
    const sent = [...sms.sent, ...email.sent].map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`);
    // Every action reached its gateway exactly once: nothing lost, nothing sent twice.
    expect(new Set(sent).size).toBe(2 * total);
    expect(sent).toHaveLength(2 * total);
    const reclaimed = await observed.countDocuments({ attempt: { $gt: 1 } });
    console.info(`[outage] ${OUTAGE_MS} ms cut after ${duringOutage[0]} of ${total} completed; loop errors ${loopErrors}, back-off delays ${delays.join(', ')} ms; triggers claimed again after their lease: ${reclaimed}; proxy connections accepted: ${proxy.accepted}`);
  }, 600_000);
});
