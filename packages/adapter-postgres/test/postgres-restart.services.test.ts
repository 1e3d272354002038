import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createRecordingChannel } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { ACCOUNT, dueTrigger, technicianRule, waitFor } from './fixtures.js';
import { postgresUrl, uniqueSchema } from './postgres-server.js';

const SERVICES_SCRIPT = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url));
const run = promisify(execFile);
const url = postgresUrl();
const DEFAULT_URL = /^postgres(ql)?:\/\/postgres@127\.0\.0\.1:5433\//;

/**
 * Restarts, stops or starts the server: POSTGRES_<RESTART|STOP|START>_COMMAND when set (an external
 * server), else the services script, which manages the local cluster (a real stop and start of the
 * postmaster; committed data survives).
 */
async function server(action: 'restart' | 'stop' | 'start'): Promise<number> {
  const started = Date.now();
  const command = process.env[`POSTGRES_${action.toUpperCase()}_COMMAND`];
  if (command) await run('bash', ['-c', command], { timeout: 300_000 });
  else if (url && DEFAULT_URL.test(url)) await run('bash', [SERVICES_SCRIPT, action, 'postgres'], { timeout: 300_000 });
  else throw new Error(`POSTGRES_URL points to a server the services script does not manage: set POSTGRES_${action.toUpperCase()}_COMMAND to let this test ${action} it`);
  return Date.now() - started;
}

let store: PostgresStore | undefined;

afterAll(async () => {
  if (!store) return;
  await store.pool.query(`DROP SCHEMA IF EXISTS "${store.schema}" CASCADE`).catch(() => undefined);
  await store.close();
});

describe.skipIf(!url)('postgres store across a server restart', () => {
  it('a restart mid-work and an outage while idle: the claim loop backs off, wake-ups reconnect, every trigger is finished once', async () => {
    store = createPostgresStore({ connectionString: url as string, schema: uniqueSchema('crm_restart'), poolConfig: { connectionTimeoutMillis: 3_000 } });
    await store.ensureSchema();
    const sms = createRecordingChannel();
    const email = createRecordingChannel();
    const engine = createAutomationEngine({ store, channels: { sms, email }, instanceId: 'restart-engine', pollIntervalMs: 100, batchSize: 25, concurrency: 2, leaseMs: 20_000, sendTimeoutMs: 2_000 });
    let loopErrors = 0;
    engine.on('loop:error', () => {
      loopErrors += 1;
    });
    const rule = await engine.rules.create(ACCOUNT, technicianRule());
    const total = 600;
    const now = new Date();
    await store.insertTriggers(Array.from({ length: total }, (_, i) => dueTrigger(rule, `evt_${i}`, new Date(now.getTime() - 1_000 + i))), now);

    const pool = store.pool;
    const completed = async () => (await pool.query(`SELECT count(*)::int AS n FROM "${store?.schema}".triggers WHERE status = 'completed'`)).rows[0].n as number;
    const wakeUps: Date[] = [];
    const unwatch = await store.watchDue((d) => wakeUps.push(d));
    await engine.start();
    let restartMs = 0;
    let doneBefore = 0;
    let outageErrors = 0;
    try {
      await waitFor('a quarter of the triggers to complete', async () => (await completed()) >= total / 4, 300_000, 20);
      doneBefore = await completed();
      restartMs = await server('restart');
      await waitFor('every trigger to complete after the restart', async () => (await completed().catch(() => 0)) === total, 600_000, 250);
      // Intake after the restart still wakes watchers: the LISTEN connection came back.
      const heard = wakeUps.length;
      await store.insertTriggers([dueTrigger(rule, 'evt_after', new Date())], new Date());
      await waitFor('a wake-up after the restart', () => wakeUps.length > heard, 30_000, 20);
      await waitFor('the last trigger', async () => (await completed()) === total + 1, 30_000, 50);

      // An outage while the loop is idle: its passes fail and it backs off instead of spinning.
      const errorsBefore = loopErrors;
      await server('stop');
      try {
        await waitFor('the idle loop to fail against the stopped server', () => loopErrors >= errorsBefore + 2, 60_000, 20);
      } finally {
        await server('start');
      }
      outageErrors = loopErrors - errorsBefore;
      await store.insertTriggers(Array.from({ length: 50 }, (_, i) => dueTrigger(rule, `evt_late_${i}`, new Date())), new Date());
      await waitFor('the triggers stored after the outage', async () => (await completed().catch(() => 0)) === total + 51, 120_000, 100);
    } finally {
      await unwatch();
      await engine.stop();
    }

    const { rows } = await pool.query(`SELECT count(*) FILTER (WHERE status <> 'completed')::int AS unfinished, count(*) FILTER (WHERE attempt > 1)::int AS retried FROM "${store.schema}".triggers`);
    expect(rows[0].unfinished).toBe(0);
    const sent = [...sms.sent, ...email.sent].map((c) => `${c.metadata.triggerId}:${c.metadata.actionIndex}`);
    // Every action reached its gateway exactly once: nothing lost, nothing sent twice.
    expect(new Set(sent).size).toBe(2 * (total + 51));
    expect(sent).toHaveLength(2 * (total + 51));
    // The ledger accounts for every action: one record each, none held as unknown. An intent whose
    // insert committed while its reply was lost was removed before the retry read the trigger's sends;
    // a record left at `intent` is a send whose outcome write the restart lost (the trigger's own write
    // was retried and completed it).
    const ledger = await pool.query<{ n: number; actions: number; unknown: number; intents: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (trigger_id, action_index))::int AS actions, count(*) FILTER (WHERE state = 'unknown')::int AS unknown, count(*) FILTER (WHERE state = 'intent')::int AS intents FROM "${store.schema}".deliveries`,
    );
    const ledgerRow = ledger.rows[0];
    expect(ledgerRow).toMatchObject({ n: 2 * (total + 51), actions: 2 * (total + 51), unknown: 0 });
    expect(doneBefore).toBeLessThan(total);
    expect(outageErrors).toBeGreaterThanOrEqual(2);
    console.info(`[restart] server restart took ${restartMs} ms with ${doneBefore}/${total} completed; loop errors: ${loopErrors} (${outageErrors} during the idle outage); triggers with attempt > 1: ${rows[0].retried}; deliveries left at intent (outcome write lost): ${ledgerRow?.intents}`);
  }, 900_000);
});
