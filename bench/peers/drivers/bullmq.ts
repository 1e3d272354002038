/**
 * BullMQ, on Redis (its default backend) and on PostgreSQL (the backend BullMQ 6 ships). Delayed
 * jobs are added with `addBulk` and `opts.delay`; one Worker with `concurrency` slots runs them.
 *
 * Knobs: BENCH_PEERS_BULLMQ_CONCURRENCY (worker concurrency, default 50).
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker, createPostgresBackend, runMigrations, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { DelayedJob, DriverOptions, OnJobRun, PeerDriver } from '../driver.js';
import { positiveIntEnv } from '../knobs.js';
import { chunks } from './limit.js';
import { packageVersion } from './package-version.js';
import { createSchema, describePostgres, dropSchema, postgresUrl, runSchemaName } from './postgres.js';

interface JobData {
  id: string;
}

interface JobSpec {
  name: string;
  data: JobData;
  opts: { delay: number; removeOnComplete: boolean };
}

/** What the driver needs of a Queue, the same for both backends. */
interface BullQueue {
  add(name: string, data: JobData, opts: JobSpec['opts']): Promise<unknown>;
  addBulk(jobs: JobSpec[]): Promise<unknown>;
  waitUntilReady(): Promise<unknown>;
  obliterate(opts: { force: boolean }): Promise<void>;
  close(): Promise<void>;
}

interface BullWorker {
  run(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

/** One backend: how to open a run's queue and worker, and how to clean up after it. */
interface Backend {
  readonly label: string;
  describe(): Promise<string>;
  /** Prepares a fresh namespace and returns the queue/worker constructors bound to it. */
  open(): Promise<{
    queue: BullQueue;
    worker: (processor: (job: Job<JobData>) => Promise<void>, concurrency: number) => BullWorker;
    /** Deletes what the run created and closes the queue. */
    cleanup: () => Promise<void>;
  }>;
}

const redisUrl = (): string => process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const redisBackend: Backend = {
  label: 'Redis',
  async describe() {
    const client = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      const version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? '?';
      const config = async (key: string) => ((await client.config('GET', key)) as string[])[1] ?? '?';
      const save = await config('save');
      const url = new URL(redisUrl());
      return `Redis ${version} at ${url.host} (appendonly ${await config('appendonly')}, appendfsync ${await config('appendfsync')}, save "${save}")`;
    } finally {
      client.disconnect();
    }
  },
  async open() {
    const name = `bench-peers-${randomBytes(4).toString('hex')}`;
    const connection = { url: redisUrl() };
    const queue = new Queue<JobData, void, string>(name, { connection });
    return {
      queue,
      // Workers block on Redis, so BullMQ requires maxRetriesPerRequest: null for them.
      worker: (processor, concurrency) => new Worker<JobData, void, string>(name, processor, { connection: { ...connection, maxRetriesPerRequest: null }, concurrency, autorun: false }),
      cleanup: async () => {
        await queue.obliterate({ force: true });
        await queue.close();
      },
    };
  },
};

const postgresBackend: Backend = {
  label: 'PostgreSQL',
  describe: describePostgres,
  async open() {
    const schema = runSchemaName('bullmq');
    await createSchema(schema);
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      await runMigrations(client, schema);
    } finally {
      await client.end();
    }
    const connection = { connectionString: postgresUrl(), schema };
    const name = 'bench-peers';
    const queue = new Queue(name, { connection }, createPostgresBackend);
    return {
      queue,
      worker: (processor, concurrency) => new Worker(name, processor, { connection, concurrency, autorun: false }, createPostgresBackend),
      cleanup: async () => {
        await queue.close();
        await dropSchema(schema);
      },
    };
  },
};

function createDriver(backend: Backend, name: string, options: DriverOptions): PeerDriver {
  const concurrency = positiveIntEnv('BENCH_PEERS_BULLMQ_CONCURRENCY', 50);
  let server = '';
  let run: Awaited<ReturnType<Backend['open']>> | undefined;
  let worker: BullWorker | undefined;
  let running: Promise<void> | undefined;

  const current = () => {
    if (!run) throw new Error(`${name}: setup() was not called`);
    return run;
  };
  const spec = (job: DelayedJob, now: number): JobSpec => ({
    name: 'delayed',
    data: { id: job.id },
    opts: { delay: Math.max(0, job.dueAt - now), removeOnComplete: true },
  });

  return {
    name,
    version: `bullmq ${packageVersion('bullmq')}${backend === redisBackend ? `, ioredis ${packageVersion('ioredis')}` : `, pg ${packageVersion('pg')}`}`,
    get server() {
      return server;
    },
    settings: `Worker concurrency ${concurrency}; addBulk in chunks of ${options.addBatchSize} (single add() for one job); removeOnComplete: true; attempts 1`,
    async setup() {
      if (!server) server = await backend.describe();
      run = await backend.open();
      await run.queue.waitUntilReady();
    },
    async add(jobs) {
      const { queue } = current();
      const [only] = jobs;
      if (jobs.length === 1 && only) {
        const { name: jobName, data, opts } = spec(only, Date.now());
        await queue.add(jobName, data, opts);
        return;
      }
      for (const chunk of chunks(jobs, options.addBatchSize)) {
        const now = Date.now();
        await queue.addBulk(chunk.map((job) => spec(job, now)));
      }
    },
    async start(onRun: OnJobRun) {
      worker = current().worker(async (job) => onRun(job.data.id), concurrency);
      running = worker.run();
      await worker.waitUntilReady();
    },
    async stop() {
      await worker?.close();
      await running;
      worker = undefined;
      running = undefined;
    },
    async teardown() {
      await current().cleanup();
      run = undefined;
    },
  };
}

export const createBullmqRedisDriver = async (options: DriverOptions): Promise<PeerDriver> => createDriver(redisBackend, 'bullmq', options);
export const createBullmqPostgresDriver = async (options: DriverOptions): Promise<PeerDriver> => createDriver(postgresBackend, 'bullmq-pg', options);
