import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { createAutomationEngine, createRecordingChannel, describeError, silentLogger, type Logger, type NewDelivery } from '@crm-automation/core';
import { createMongoDeliveryLedger, createMongoStore, type DeliveryDocument, type MongoStore, type TriggerDocument } from '../src/index.js';
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
// Operations wait at most 2 s for the server, so one made during a cut fails rather than waits it out.
const CLIENT_OPTIONS = { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 1_000, heartbeatFrequencyMS: 500 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mongo store across a lost connection', () => {
  it('in-flight work survives a cut, the idle claim loop backs off while the server is unreachable, and every action is sent once', async () => {
    const dbName = uniqueDbName('crm_outage');
    // Operations wait at most 2 s for the server, so a claim during a cut fails (and the loop backs
    // off), while the engine's retries of an outcome (4 tries over ~7 s) outlast a 4 s cut.
    store = createMongoStore({ uri: proxiedUri, dbName, clientOptions: CLIENT_OPTIONS });
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
    const observed = direct.db(dbName).collection<TriggerDocument>('pending_triggers');
    const completed = () => observed.countDocuments({ status: 'completed' });
    const busy = 600;
    const later = 200;
    const now = new Date();
    await store.insertTriggers(Array.from({ length: busy }, (_, i) => dueTrigger(rule, `busy_${i}`, new Date(now.getTime() - 1_000 + i))), now);

    await engine.start();
    let frozen: number[] = [];
    let errorsWhileIdle = 0;
    try {
      // 1. A cut while the loop is busy: whatever was claimed, sent or being saved must come through.
      await waitFor('a quarter of the triggers to complete', async () => (await completed()) >= busy / 4, 120_000, 50);
      await proxy.cut();
      // Writes already on the wire may still land just after the cut; from then on nothing moves.
      await sleep(500);
      frozen = [await completed()];
      await sleep(OUTAGE_MS - 500);
      frozen.push(await completed());
      await proxy.restore();
      await waitFor('every trigger to complete after the first cut', async () => (await completed()) === busy, 300_000, 250);

      // 2. A cut while the loop is idle, with triggers falling due during it: every pass fails, and
      // the loop waits longer after each failure instead of spinning.
      const dueSoon = new Date(Date.now() + 1_000);
      await store.insertTriggers(Array.from({ length: later }, (_, i) => dueTrigger(rule, `later_${i}`, dueSoon)), new Date());
      const errorsBefore = loopErrors;
      const delaysBefore = delays.length;
      await proxy.cut();
      await waitFor('two failed claim loop passes while the server is unreachable', () => loopErrors - errorsBefore >= 2, 60_000, 50);
      errorsWhileIdle = loopErrors - errorsBefore;
      expect(delays.slice(delaysBefore).length).toBeGreaterThanOrEqual(2);
      await proxy.restore();
      await waitFor('the triggers that fell due during the cut to complete', async () => (await completed()) === busy + later, 300_000, 250);
    } finally {
      await engine.stop();
    }

    // The first cut was real: no trigger completed while the proxy refused connections.
    expect(frozen[1]).toBe(frozen[0]);
    expect(frozen[0]).toBeLessThan(busy);
    // The loop backed off: each failed pass in a row waited longer than the one before (the engine
    // resets the delay after a good pass).
    const idleDelays = delays.slice(-errorsWhileIdle);
    for (let i = 1; i < idleDelays.length; i++) expect(idleDelays[i]).toBeGreaterThan(idleDelays[i - 1] as number);
    const total = busy + later;
    expect(await observed.countDocuments({ status: { $ne: 'completed' } })).toBe(0);
    const sent = [...sms.sent, ...email.sent].map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`);
    // Every action reached its gateway exactly once: nothing lost, nothing sent twice.
    expect(new Set(sent).size).toBe(2 * total);
    expect(sent).toHaveLength(2 * total);
    const reclaimed = await observed.countDocuments({ attempt: { $gt: 1 } });
    console.info(`[outage] busy cut of ${OUTAGE_MS} ms after ${frozen[0]} of ${busy} completed; idle cut: ${errorsWhileIdle} failed passes, back-off delays ${idleDelays.join(', ')} ms; all loop errors ${loopErrors}; triggers claimed again after their lease: ${reclaimed}; proxy connections accepted: ${proxy.accepted}`);
  }, 600_000);

  it('an intent batch whose reply was lost fails as retryable, and its intents, written all the same, are gone before the next read', async () => {
    const dbName = uniqueDbName('crm_outage_ledger');
    const ledger = createMongoDeliveryLedger({ uri: proxiedUri, dbName, clientOptions: CLIENT_OPTIONS });
    const observed = direct.db(dbName).collection<DeliveryDocument>('deliveries');
    const triggerId = 'trigger-lost-reply';
    const intent = (actionIndex: number, attempt: number): NewDelivery => ({
      accountId: ACCOUNT,
      triggerId,
      ruleId: 'rule-1',
      actionIndex,
      attempt,
      type: 'sms',
      provider: 'twilio',
      idempotencyKey: `${triggerId}:${actionIndex}`,
      dedupes: false,
      at: new Date(),
    });
    try {
      await ledger.ensureIndexes();
      proxy.muteReplies();
      const failed = ledger.recordIntents([intent(0, 1), intent(1, 1)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitFor('the batch to be written at the server', async () => (await observed.countDocuments({ triggerId })) === 2, 10_000, 20);
      await proxy.cut();
      const error = await failed;
      await proxy.restore();
      // Nothing was sent for the batch: core retries a retryable failure instead of failing the action.
      expect(error).toBeInstanceOf(Error);
      expect(describeError(error).retryable).toBe(true);
      // An intent left behind would read as a send that may have reached the provider, and be held.
      expect(await ledger.deliveriesOfTrigger(ACCOUNT, triggerId)).toEqual([]);
      expect(await observed.countDocuments({ triggerId })).toBe(0);
      const [retried] = await ledger.recordIntents([intent(0, 2)]);
      expect((await ledger.deliveriesOfTrigger(ACCOUNT, triggerId)).map((d) => [d.id, d.attempt, d.state])).toEqual([[retried?.id, 2, 'intent']]);
    } finally {
      await ledger.db.dropDatabase().catch(() => undefined);
      await ledger.close();
    }
  }, 60_000);
});
