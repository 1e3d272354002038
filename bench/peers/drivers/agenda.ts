/**
 * Agenda 6, whose storage is pluggable: on PostgreSQL (@agendajs/postgres-backend, with its
 * LISTEN/NOTIFY channel) and on the MongoDB wire protocol (@agendajs/mongo-backend). Agenda has no
 * batch API: each job is one `schedule(date, name, data)` call, `addConcurrency` of them in flight.
 * Its processor locks due (and soon-due) jobs one query per job and runs each at its `nextRunAt`.
 *
 * Knobs: BENCH_PEERS_AGENDA_PROCESS_EVERY_MS (default 1000), BENCH_PEERS_AGENDA_CONCURRENCY
 * (per job type and global maxConcurrency, default 50), BENCH_PEERS_AGENDA_LOCK_LIMIT (jobs locked
 * at once, default 1000; 0 = no limit, Agenda's default). Agenda locks every due job, one query each,
 * before it runs any of them; without a limit a 10,000-job burst waits for 10,000 lock queries.
 */
import { randomBytes } from 'node:crypto';
import { Agenda, type AgendaBackend } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { PostgresBackend } from '@agendajs/postgres-backend';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import type { DriverOptions, OnJobRun, PeerDriver } from '../driver.js';
import { positiveIntEnv } from '../knobs.js';
import { forEachLimited } from './limit.js';
import { packageVersion } from './package-version.js';
import { createSchema, describePostgres, dropSchema, postgresUrl, runSchemaName } from './postgres.js';

const JOB_NAME = 'delayed';

interface JobData {
  id: string;
}

interface Storage {
  readonly versions: string;
  describe(): Promise<string>;
  /** A backend on a fresh namespace, and how to delete that namespace once Agenda has stopped. */
  open(): Promise<{ backend: AgendaBackend; cleanup: () => Promise<void> }>;
}

const postgresStorage: Storage = {
  versions: `@agendajs/postgres-backend ${packageVersion('@agendajs/postgres-backend')}, pg ${packageVersion('pg')}`,
  describe: describePostgres,
  async open() {
    const schema = runSchemaName('agenda');
    await createSchema(schema);
    // Agenda creates its table unqualified, so the run's schema goes first on the search path; the
    // NOTIFY channel is per run too, so a run never hears another one's jobs.
    const backend = new PostgresBackend({
      poolConfig: { connectionString: postgresUrl(), options: `-c search_path=${pg.escapeIdentifier(schema)}` },
      channelName: schema,
    });
    return { backend, cleanup: () => dropSchema(schema) };
  },
};

const mongoUri = (): string => process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';

const mongoStorage: Storage = {
  versions: `@agendajs/mongo-backend ${packageVersion('@agendajs/mongo-backend')}, mongodb ${packageVersion('mongodb')}`,
  async describe() {
    const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 5_000 });
    try {
      const info = await client.db('admin').command({ buildInfo: 1 });
      const ferret = (info as { ferretdbVersion?: unknown }).ferretdbVersion;
      // Wire-compatible servers (mongo-java-server, FerretDB) answer buildInfo with a MongoDB version.
      const product = typeof ferret === 'string' ? `FerretDB ${ferret}` : `MongoDB-wire server (buildInfo version ${String(info['version'])})`;
      return `${product} at ${new URL(mongoUri()).host}`;
    } finally {
      await client.close();
    }
  },
  async open() {
    const dbName = `bench_agenda_${randomBytes(4).toString('hex')}`;
    const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 5_000 });
    const backend = new MongoBackend({ mongo: client.db(dbName) });
    return {
      backend,
      cleanup: async () => {
        try {
          await client.db(dbName).dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  },
};

function createDriver(storage: Storage, name: string, options: DriverOptions): PeerDriver {
  const processEvery = positiveIntEnv('BENCH_PEERS_AGENDA_PROCESS_EVERY_MS', 1_000);
  const concurrency = positiveIntEnv('BENCH_PEERS_AGENDA_CONCURRENCY', 50);
  // 0 turns the limit off (Agenda's default), so it is read apart from the positive-only knobs.
  const lockLimitRaw = process.env['BENCH_PEERS_AGENDA_LOCK_LIMIT'];
  const lockLimit = lockLimitRaw === '0' ? 0 : positiveIntEnv('BENCH_PEERS_AGENDA_LOCK_LIMIT', 1_000);
  let server = '';
  let run: { agenda: Agenda; cleanup: () => Promise<void> } | undefined;
  let agendaError: unknown;

  const current = (): Agenda => {
    if (!run) throw new Error(`${name}: setup() was not called`);
    if (agendaError) throw agendaError;
    return run.agenda;
  };

  return {
    name,
    version: `agenda ${packageVersion('agenda')}, ${storage.versions}`,
    get server() {
      return server;
    },
    settings:
      `processEvery ${processEvery} ms, concurrency ${concurrency} (job type) / maxConcurrency ${concurrency}, lockLimit ${lockLimit || 'none'}, removeOnComplete: true; ` +
      `no batch API: schedule() per job, ${options.addConcurrency} in flight`,
    async setup() {
      if (!server) server = await storage.describe();
      agendaError = undefined;
      const { backend, cleanup } = await storage.open();
      const agenda = new Agenda({ backend, processEvery, maxConcurrency: concurrency, defaultConcurrency: concurrency, lockLimit, removeOnComplete: true });
      agenda.on('error', (error: Error) => {
        agendaError ??= error;
      });
      await agenda.ready;
      run = { agenda, cleanup };
    },
    async add(jobs) {
      const agenda = current();
      await forEachLimited(jobs, options.addConcurrency, (job) => agenda.schedule<JobData>(new Date(job.dueAt), JOB_NAME, { id: job.id }));
    },
    async start(onRun: OnJobRun) {
      const agenda = current();
      agenda.define<JobData>(JOB_NAME, async (job) => onRun(job.attrs.data.id), { concurrency });
      await agenda.start();
    },
    async stop() {
      // drain() stops taking new jobs and waits for the running ones; the connection stays open.
      await run?.agenda.drain({ timeout: 30_000 });
    },
    async teardown() {
      if (!run) return;
      const { agenda, cleanup } = run;
      run = undefined;
      try {
        await agenda.stop(true);
      } finally {
        await cleanup();
      }
    },
  };
}

export const createAgendaPostgresDriver = async (options: DriverOptions): Promise<PeerDriver> => createDriver(postgresStorage, 'agenda-pg', options);
export const createAgendaMongoDriver = async (options: DriverOptions): Promise<PeerDriver> => createDriver(mongoStorage, 'agenda-mongo', options);
