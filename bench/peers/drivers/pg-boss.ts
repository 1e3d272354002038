/**
 * pg-boss on PostgreSQL. Delayed jobs carry `startAfter`; a batch goes in with one `insert()` call.
 * Workers poll (LISTEN/NOTIFY only wakes them at insert time, which does not help a job that is
 * due later), so the polling interval bounds how late a job can start.
 *
 * Knobs: BENCH_PEERS_PGBOSS_BATCH (jobs per fetch, default 500), BENCH_PEERS_PGBOSS_POLL_S (polling
 * interval, default 0.5, pg-boss's minimum), BENCH_PEERS_PGBOSS_WORKERS (localConcurrency, default 2).
 */
import { PgBoss } from 'pg-boss';
import type { DelayedJob, DriverOptions, OnJobRun, PeerDriver } from '../driver.js';
import { positiveIntEnv, positiveNumberEnv } from '../knobs.js';
import { chunks } from './limit.js';
import { packageVersion } from './package-version.js';
import { describePostgres, dropSchema, postgresUrl, runSchemaName } from './postgres.js';

const QUEUE = 'bench-peers';

interface JobData {
  id: string;
}

export async function createPgBossDriver(options: DriverOptions): Promise<PeerDriver> {
  const batchSize = positiveIntEnv('BENCH_PEERS_PGBOSS_BATCH', 500);
  const pollingIntervalSeconds = positiveNumberEnv('BENCH_PEERS_PGBOSS_POLL_S', 0.5);
  const localConcurrency = positiveIntEnv('BENCH_PEERS_PGBOSS_WORKERS', 2);
  let server = '';
  let boss: PgBoss | undefined;
  let schema = '';
  let bossError: unknown;

  const current = (): PgBoss => {
    if (!boss) throw new Error('pg-boss: setup() was not called');
    if (bossError) throw bossError;
    return boss;
  };
  const insert = (job: DelayedJob) => ({ data: { id: job.id }, startAfter: new Date(job.dueAt) });

  return {
    name: 'pg-boss',
    version: `pg-boss ${packageVersion('pg-boss')}, pg ${packageVersion('pg')}`,
    get server() {
      return server;
    },
    settings:
      `work(): batchSize ${batchSize}, pollingIntervalSeconds ${pollingIntervalSeconds}, localConcurrency ${localConcurrency}, burstWhenBatchFull; ` +
      `insert() in chunks of ${options.addBatchSize} (send() for one job); cron scheduling off; other options default`,
    async setup() {
      if (!server) server = await describePostgres();
      schema = runSchemaName('pgboss');
      bossError = undefined;
      // schedule: false: the benchmark uses no cron jobs, so the cron loop would only add load.
      boss = new PgBoss({ connectionString: postgresUrl(), schema, schedule: false });
      boss.on('error', (error: unknown) => {
        bossError ??= error;
      });
      await boss.start();
      await boss.createQueue(QUEUE);
    },
    async add(jobs) {
      const client = current();
      const [only] = jobs;
      if (jobs.length === 1 && only) {
        await client.send(QUEUE, { id: only.id }, { startAfter: new Date(only.dueAt) });
        return;
      }
      for (const chunk of chunks(jobs, options.addBatchSize)) await client.insert(QUEUE, chunk.map(insert));
    },
    async start(onRun: OnJobRun) {
      await current().work<JobData>(QUEUE, { batchSize, pollingIntervalSeconds, localConcurrency, burstWhenBatchFull: true }, async (batch) => {
        for (const job of batch) onRun(job.data.id);
      });
    },
    async stop() {
      await boss?.offWork(QUEUE, { wait: true });
    },
    async teardown() {
      try {
        await boss?.stop({ graceful: true });
      } finally {
        boss = undefined;
        if (schema) await dropSchema(schema);
      }
    },
  };
}
