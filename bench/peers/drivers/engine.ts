/**
 * This engine, driven like the peers: each job is an event whose timestamp is its due time, matched by
 * one rule (delay 0, one condition, one action of a custom `job` type whose gateway reports the run).
 * So every job goes through the whole engine: intake (validation, indexed rule lookup, trigger
 * storage), the leasing claim loop, re-reading the rule, evaluating its condition, rendering the action
 * and recording the outcome and history. A burst is added with `ingestMany` (one store call per chunk).
 *
 * Stores: in memory, on PostgreSQL (@crm-automation/adapter-postgres, POSTGRES_URL, a schema per run)
 * and on the MongoDB-wire server (@crm-automation/adapter-mongo, MONGODB_URI, a database per run).
 *
 * Knobs: BENCH_PEERS_ENGINE_CONCURRENCY (triggers processed at once; default the claim batch on
 * PostgreSQL, 64 on the other stores),
 * BENCH_PEERS_ENGINE_BATCH (claim batch, default 500), BENCH_PEERS_ENGINE_POLL_MS (idle poll, default 500),
 * BENCH_PEERS_ENGINE_INSTANCES (engines in the process on the one store, each with its own claim loop,
 * as pg-boss's localConcurrency runs several workers; default 1).
 */
import { randomBytes } from 'node:crypto';
import {
  createAutomationEngine,
  createMemoryStore,
  type AutomationEngine,
  type AutomationEvent,
  type AutomationStore,
  type ChannelGateway,
  type RuleInput,
} from '@crm-automation/core';
import type { DelayedJob, DriverOptions, OnJobRun, PeerDriver } from '../driver.js';
import { positiveIntEnv } from '../knobs.js';
import { chunks } from './limit.js';
import { packageVersion } from './package-version.js';
import { describePostgres, postgresUrl, runSchemaName } from './postgres.js';

export type EngineStoreKind = 'memory' | 'postgres' | 'mongo';

const ACCOUNT = 'acc_bench';
const EVENT = 'bench.job';

interface OpenedStore {
  store: AutomationStore;
  describe(): Promise<string>;
  /** Drops the run's schema/database and closes the store. */
  dispose(): Promise<void>;
}

async function openStore(kind: EngineStoreKind): Promise<OpenedStore> {
  if (kind === 'memory') return { store: createMemoryStore(), describe: async () => 'in memory (this process)', dispose: async () => undefined };
  if (kind === 'postgres') {
    const { createPostgresStore } = await import('@crm-automation/adapter-postgres');
    const schema = runSchemaName('engine');
    const store = createPostgresStore({ connectionString: postgresUrl(), schema });
    await store.ensureSchema();
    return {
      store,
      describe: describePostgres,
      dispose: async () => {
        await store.dropSchema?.();
        await store.close();
      },
    };
  }
  const { createMongoStore } = await import('@crm-automation/adapter-mongo');
  const uri = process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
  const store = createMongoStore({ uri, dbName: `bench_engine_${randomBytes(4).toString('hex')}` });
  await store.ensureIndexes();
  return {
    store,
    describe: async () => `MongoDB-wire server at ${new URL(uri).host}`,
    dispose: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
}

const rule = {
  name: 'bench job',
  trigger: { eventName: EVENT },
  delay: { value: 0, unit: 'seconds' as const },
  conditions: { all: [{ fact: 'job', path: '$.id', operator: 'notEqual', value: null }] },
  actions: [{ type: 'job', params: { id: '{{job.id}}' } }],
} satisfies RuleInput<'job'>;

const eventOf = (job: DelayedJob): AutomationEvent => ({ id: job.id, name: EVENT, accountId: ACCOUNT, payload: { job: { id: job.id } }, timestamp: new Date(job.dueAt) });

export async function createEngineDriver(kind: EngineStoreKind, options: DriverOptions): Promise<PeerDriver> {
  const batchSize = positiveIntEnv('BENCH_PEERS_ENGINE_BATCH', 500);
  // On PostgreSQL a whole claim batch at once, as pg-boss hands its handler 500 jobs: the batch's
  // intents then share a few commits (group commit) instead of two per 64 sends, which measured
  // ~40% less CPU per job (client + server) than 64 on a loaded machine (bench/README.md).
  const concurrency = positiveIntEnv('BENCH_PEERS_ENGINE_CONCURRENCY', kind === 'postgres' ? batchSize : 64);
  const pollIntervalMs = positiveIntEnv('BENCH_PEERS_ENGINE_POLL_MS', 500);
  const instances = positiveIntEnv('BENCH_PEERS_ENGINE_INSTANCES', 1);
  let server = '';
  let opened: OpenedStore | undefined;
  let engine: AutomationEngine<'job'> | undefined;
  /** The engines besides `engine` (which adds the jobs): claim loops of their own on the same store. */
  let others: Array<AutomationEngine<'job'>> = [];
  let onRun: OnJobRun = () => undefined;
  const job: ChannelGateway = {
    name: 'bench',
    send: async (command) => {
      onRun(String(command.params['id']));
      return undefined;
    },
  };

  const current = (): AutomationEngine => {
    if (!engine) throw new Error('engine driver: setup() was not called');
    return engine;
  };

  const adapter = kind === 'memory' ? '' : kind === 'postgres' ? `, @crm-automation/adapter-postgres ${packageVersion('@crm-automation/adapter-postgres')}` : `, @crm-automation/adapter-mongo ${packageVersion('@crm-automation/adapter-mongo')}`;
  return {
    name: `engine-${kind}`,
    version: `@crm-automation/core ${packageVersion('@crm-automation/core')}${adapter}`,
    get server() {
      return server;
    },
    settings: `${instances === 1 ? 'one engine' : `${instances} engines on one store (one pool)`}: concurrency ${concurrency}, batchSize ${batchSize} (adaptive below that), poll ${pollIntervalMs} ms, lease 60 s; ingestMany in chunks of ${options.addBatchSize}, ingest() for one job; rule with 1 condition and 1 action`,
    async setup() {
      opened = await openStore(kind);
      if (!server) server = await opened.describe();
      const store = opened.store;
      const make = () => createAutomationEngine({ store, channels: { job }, concurrency, batchSize, pollIntervalMs, eventTimeWindow: { maxFutureMs: 7 * 86_400_000 } });
      engine = make();
      others = Array.from({ length: instances - 1 }, make);
      await engine.rules.create(ACCOUNT, rule);
    },
    async add(jobs) {
      const e = current();
      const [only] = jobs;
      if (jobs.length === 1 && only) {
        await e.ingest(eventOf(only));
        return;
      }
      for (const chunk of chunks(jobs, options.addBatchSize)) {
        const results = await e.ingestMany(chunk.map(eventOf));
        const refused = results.find((r) => !r.ok);
        if (refused && !refused.ok) throw refused.error;
      }
    },
    async start(run) {
      onRun = run;
      await Promise.all([current(), ...others].map((e) => e.start()));
    },
    async stop() {
      await Promise.all([engine, ...others].map((e) => e?.stop()));
    },
    async teardown() {
      try {
        await Promise.all([engine, ...others].map((e) => e?.stop()));
        await opened?.dispose();
      } finally {
        engine = undefined;
        others = [];
        opened = undefined;
      }
    },
  };
}
