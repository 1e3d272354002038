/**
 * PostgreSQL store benchmark (not a test): intake events/s and drain (claim + evaluate + no-op send +
 * outcome) triggers/s through real engines, at 1 and 4 engines on one schema; claim latency with
 * 10,000 / 100,000 / 1,000,000 pending triggers; and `EXPLAIN (ANALYZE, BUFFERS)` of the claim
 * statement at the largest size.
 *
 *   npm run bench:postgres -w @crm-automation/bench
 *   npx tsx --conditions=source bench/src/postgres-store.bench.ts
 *
 * Server: POSTGRES_URL, else the cluster of `scripts/services.sh up postgres` (127.0.0.1:5433).
 * BENCH_PG_SIZES=10000,100000,1000000 sets the pending-trigger sizes; BENCH_PG_EVENTS,
 * BENCH_PG_TRIGGERS and BENCH_PG_ROUNDS size the throughput rounds; BENCH_PG_PARTS=intake,drain,latency
 * picks what runs.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createAutomationEngine, type AutomationEngine, type ChannelGateway, type NewTrigger, type Rule, type RuleInput } from '@crm-automation/core';
import { claimStatement, createPostgresStore, type PostgresStore } from '@crm-automation/adapter-postgres';
import { fmt, machine, median } from './stats.js';

const URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';
const SIZES = (process.env['BENCH_PG_SIZES'] ?? '10000,100000,1000000').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_PG_ROUNDS'] ?? 3);
const EVENTS = Number(process.env['BENCH_PG_EVENTS'] ?? 4_000);
const TRIGGERS = Number(process.env['BENCH_PG_TRIGGERS'] ?? 20_000);
const PARTS = new Set((process.env['BENCH_PG_PARTS'] ?? 'intake,drain,latency').split(','));
/** Engine settings of the drain: claims of up to 500 triggers, 64 processed at once. */
const DRAIN_TUNING = { batchSize: Number(process.env['BENCH_PG_BATCH'] ?? 500), concurrency: Number(process.env['BENCH_PG_CONCURRENCY'] ?? 64) };
/** Ingests in flight per engine, as a bus consumer with prefetch runs them. */
const INTAKE_IN_FLIGHT = 32;
const ACCOUNT = 'acc_bench';
const EVENT_NAMES = ['job.created', 'job.status.changed', 'invoice.paid', 'estimate.sent'];

const ruleInput = (eventName: string, i: number): RuleInput => ({
  name: `bench rule ${i}`,
  trigger: { eventName },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Job {{job.number}} done' } }],
});
const payload = (n: number) => ({ job: { id: `job_${n}`, number: n, status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } });

/** A gateway that accepts every command at once: the bench measures the store and the engine, not a provider. */
const noopGateway: ChannelGateway = { name: 'noop', send: async () => ({ id: 'ok' }) };

interface Worker {
  store: PostgresStore;
  engine: AutomationEngine;
}

const schemaName = (what: string) => `bench_pg_${what}_${randomBytes(3).toString('hex')}`;

/** `count` engines on one schema, each with a pool of its own (as separate processes would have). */
function workers(schema: string, count: number, tuning: { batchSize: number; concurrency: number } = DRAIN_TUNING): Worker[] {
  return Array.from({ length: count }, (_, i) => {
    const store = createPostgresStore({ connectionString: URL, schema });
    const engine = createAutomationEngine({ store, channels: { sms: noopGateway }, instanceId: `bench-${i}`, ...tuning, leaseMs: 1_800_000 });
    return { store, engine };
  });
}

async function dispose(ws: Worker[]): Promise<void> {
  await ws[0]?.store.pool.query(`DROP SCHEMA IF EXISTS "${ws[0].store.schema}" CASCADE`);
  for (const w of ws) await w.store.close();
}

/** Events/s through `engine.ingest`, each event matching 2 rules, spread over the engines, `inFlight` at a time per engine. */
async function intake(engineCount: number, events: number, inFlight: number): Promise<number> {
  const ws = workers(schemaName('intake'), engineCount);
  const first = ws[0] as Worker;
  await first.store.ensureSchema();
  for (let i = 0; i < 2 * EVENT_NAMES.length; i++) await first.engine.rules.create(ACCOUNT, ruleInput(EVENT_NAMES[i % EVENT_NAMES.length] as string, i));
  // Warm the pools and the prepared statements.
  await Promise.all(ws.map((w, k) => w.engine.ingest({ name: EVENT_NAMES[0] as string, accountId: ACCOUNT, id: `warm_${k}`, payload: payload(-1) })));
  const started = performance.now();
  await Promise.all(
    ws.map(async (w, k) => {
      let next = k;
      const lane = async () => {
        for (let n = next; n < events; n = next) {
          next += engineCount;
          await w.engine.ingest({ name: EVENT_NAMES[n % EVENT_NAMES.length] as string, accountId: ACCOUNT, payload: payload(n) });
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
    }),
  );
  const rate = events / ((performance.now() - started) / 1000);
  const { rows } = await first.store.pool.query(`SELECT count(*)::int AS n FROM "${first.store.schema}".triggers`);
  if (rows[0].n !== 2 * events + 2 * engineCount) throw new Error(`expected ${2 * events + 2 * engineCount} triggers, found ${rows[0].n}`);
  await dispose(ws);
  return rate;
}

/** Seeds through the store's own intake statement, 5,000 triggers a statement. */
async function seed(store: PostgresStore, rule: Rule, count: number, dueAt: Date): Promise<void> {
  for (let offset = 0; offset < count; offset += 5_000) {
    const batch: NewTrigger[] = [];
    for (let i = offset; i < Math.min(count, offset + 5_000); i++) {
      batch.push({ accountId: ACCOUNT, ruleId: rule.id, ruleVersion: 1, evaluateAt: new Date(dueAt.getTime() + i), triggeringEvent: { id: `evt_${i}`, name: rule.trigger.eventName, timestamp: dueAt, payload: payload(i) } });
    }
    await store.insertTriggers(batch, new Date());
  }
}

/** Triggers/s claimed, evaluated, sent and recorded, with `engineCount` engines draining in parallel. */
async function drain(engineCount: number, triggers: number): Promise<number> {
  const ws = workers(schemaName('drain'), engineCount);
  const first = ws[0] as Worker;
  await first.store.ensureSchema();
  const rule = await first.engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  await seed(first.store, rule, triggers, new Date(Date.now() - 3_600_000));
  await first.store.pool.query(`VACUUM ANALYZE "${first.store.schema}".triggers`);
  const started = performance.now();
  await Promise.all(
    ws.map(async (w) => {
      while ((await w.engine.runDue()).claimed > 0);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const { rows } = await first.store.pool.query(`SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*) FILTER (WHERE attempt <> 1)::int AS repeated FROM "${first.store.schema}".triggers`);
  if (rows[0].done !== triggers || rows[0].repeated !== 0) throw new Error(`drain: ${rows[0].done} of ${triggers} completed, ${rows[0].repeated} claimed more than once`);
  await dispose(ws);
  return triggers / elapsed;
}

/**
 * Median time of `claimDueTriggers(limit 100)` and of `nextDueAt()` with `pending` triggers, all
 * due, as a claim loop sees them: each claim takes the next 100 (so later claims step over the index
 * entries of earlier ones, as they do between vacuums).
 */
async function latencyAt(pending: number, explain: boolean): Promise<{ claimMs: number; nextDueMs: number; seedS: number; plan?: string }> {
  const ws = workers(schemaName(`lat${pending}`), 1);
  const { store, engine } = ws[0] as Worker;
  await store.ensureSchema();
  const rule = await engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  const seedStart = performance.now();
  const now = new Date();
  await seed(store, rule, pending, new Date(now.getTime() - 3_600_000));
  // What autovacuum does after a bulk load, done now rather than at its own pace.
  await store.pool.query(`VACUUM ANALYZE "${store.schema}".triggers`);
  const seedS = (performance.now() - seedStart) / 1000;
  const claims: number[] = [];
  const nextDue: number[] = [];
  for (let i = 0; i < 25; i++) {
    let t = performance.now();
    const claimed = await store.claimDueTriggers({ now, limit: 100, leaseMs: 1_800_000, owner: 'bench' });
    claims.push(performance.now() - t);
    if (claimed.length !== 100) throw new Error(`claimed ${claimed.length}, expected 100`);
    t = performance.now();
    await store.nextDueAt();
    nextDue.push(performance.now() - t);
  }
  let plan: string | undefined;
  if (explain) {
    const client = await store.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${claimStatement(store.schema)}`, [now.toISOString(), 100, new Date(now.getTime() + 1_800_000).toISOString(), 'bench']);
      plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }
  await dispose(ws);
  return { claimMs: median(claims), nextDueMs: median(nextDue), seedS, ...(plan ? { plan } : {}) };
}

async function main(): Promise<void> {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  const version = (await client.query('SHOW server_version')).rows[0].server_version as string;
  const settings = (await client.query(`SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections') ORDER BY name`)).rows.map((r) => `${r.name}=${r.setting}`).join(' ');
  await client.end();
  console.log(`# PostgreSQL store benchmark — PostgreSQL ${version} (${settings}), ${machine()}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`# drain engines: batchSize ${DRAIN_TUNING.batchSize}, concurrency ${DRAIN_TUNING.concurrency}; intake: ${INTAKE_IN_FLIGHT} ingests in flight per engine; each event matches 2 rules; ${ROUNDS} rounds, medians`);

  for (const engines of [1, 4]) {
    if (PARTS.has('intake')) {
      const rates: number[] = [];
      for (let r = 0; r < ROUNDS; r++) rates.push(await intake(engines, EVENTS, INTAKE_IN_FLIGHT));
      console.log(`engines=${engines} intake median ${fmt(median(rates))} events/s = ${fmt(2 * median(rates))} triggers/s (rounds: ${rates.map(fmt).join(', ')})`);
    }
    if (PARTS.has('drain')) {
      const rates: number[] = [];
      for (let r = 0; r < ROUNDS; r++) rates.push(await drain(engines, TRIGGERS));
      console.log(`engines=${engines} drain median ${fmt(median(rates))} triggers/s over ${fmt(TRIGGERS)} (rounds: ${rates.map(fmt).join(', ')})`);
    }
  }

  if (PARTS.has('latency')) {
    for (const pending of SIZES) {
      const result = await latencyAt(pending, pending === SIZES[SIZES.length - 1]);
      console.log(`pending=${fmt(pending)} claim(100) median ${result.claimMs.toFixed(2)} ms, nextDueAt median ${result.nextDueMs.toFixed(2)} ms (seeded in ${result.seedS.toFixed(1)} s)`);
      if (result.plan) console.log(`EXPLAIN (ANALYZE, BUFFERS) of the claim statement at ${fmt(pending)} pending (after 25 claims of 100):\n${result.plan}`);
    }
  }
  console.log(`# load at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
