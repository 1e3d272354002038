/**
 * MongoDB store benchmark (not a test): intake events/s and claim+complete triggers/s with 1 and 4
 * engines on one database, the claim query's explain output, and claim latency as the number of
 * pending triggers grows.
 *
 *   npx tsx --conditions=source bench/src/mongo-store.bench.ts
 *
 * Server: MONGODB_URI, else the FerretDB of `scripts/services.sh up mongo` (127.0.0.1:27017).
 * BENCH_MONGO_SIZES=1000,10000,100000 sets the pending-trigger sizes (add 1000000 on a real mongod);
 * BENCH_MONGO_EVENTS / BENCH_MONGO_TRIGGERS / BENCH_MONGO_ROUNDS size the throughput rounds.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, type Document } from 'mongodb';
import { createAutomationEngine, createRecordingChannel, type AutomationEngine, type NewTrigger, type Rule } from '@crm-automation/core';
import { createMongoStore, dueClaimQuery, type MongoStore } from '@crm-automation/adapter-mongo';
import { fmt, machine, median } from './stats.js';

const URI = process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
const SIZES = (process.env['BENCH_MONGO_SIZES'] ?? '1000,10000,100000').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_MONGO_ROUNDS'] ?? 3);
const ACCOUNT = 'acc_bench';
const EVENTS = ['job.created', 'job.status.changed', 'invoice.paid', 'estimate.sent'];

const ruleInput = (eventName: string, i: number) => ({
  name: `bench rule ${i}`,
  trigger: { eventName },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Job {{job.number}} done' } }],
});
const payload = (n: number) => ({ job: { id: `job_${n}`, number: n, status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } });

interface Worker {
  store: MongoStore;
  engine: AutomationEngine;
}

function workers(dbName: string, count: number): Worker[] {
  return Array.from({ length: count }, (_, i) => {
    const store = createMongoStore({ uri: URI, dbName });
    const channel = createRecordingChannel({ respond: () => ({ id: 'ok' }) });
    const engine = createAutomationEngine({ store, channels: { sms: channel }, instanceId: `bench-${i}`, batchSize: 100, concurrency: 2, leaseMs: 1_800_000 });
    return { store, engine };
  });
}

const dbName = (what: string) => `bench_mongo_${what}_${randomBytes(3).toString('hex')}`;

async function dispose(ws: Worker[]): Promise<void> {
  await ws[0]?.store.db.dropDatabase();
  for (const w of ws) await w.store.close();
}

/** Events/s through `engine.ingest`, each event matching 2 rules, split over the engines. */
async function intake(engineCount: number, events: number): Promise<number> {
  const ws = workers(dbName('intake'), engineCount);
  const first = ws[0] as Worker;
  await first.store.ensureIndexes();
  for (let i = 0; i < 2 * EVENTS.length; i++) await first.engine.rules.create(ACCOUNT, ruleInput(EVENTS[i % EVENTS.length] as string, i));
  const started = performance.now();
  await Promise.all(
    ws.map(async (w, k) => {
      for (let n = k; n < events; n += engineCount) await w.engine.ingest({ name: EVENTS[n % EVENTS.length] as string, accountId: ACCOUNT, payload: payload(n) });
    }),
  );
  const rate = events / ((performance.now() - started) / 1000);
  await dispose(ws);
  return rate;
}

async function seed(store: MongoStore, rule: Rule, count: number, dueAt: Date): Promise<void> {
  for (let offset = 0; offset < count; offset += 5_000) {
    const batch: NewTrigger[] = [];
    for (let i = offset; i < Math.min(count, offset + 5_000); i++) {
      batch.push({ accountId: ACCOUNT, ruleId: rule.id, ruleVersion: 1, evaluateAt: dueAt, triggeringEvent: { id: `evt_${i}`, name: rule.trigger.eventName, timestamp: dueAt, payload: payload(i) } });
    }
    await store.insertTriggers(batch, new Date());
  }
}

/** Triggers/s claimed, evaluated, sent and recorded, with `engineCount` engines running `runDue` in parallel. */
async function claimComplete(engineCount: number, triggers: number): Promise<number> {
  const ws = workers(dbName('fire'), engineCount);
  const first = ws[0] as Worker;
  await first.store.ensureIndexes();
  const rule = await first.engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  await seed(first.store, rule, triggers, new Date(Date.now() - 60_000));
  const started = performance.now();
  await Promise.all(ws.map(async (w) => {
    while ((await w.engine.runDue()).claimed > 0);
  }));
  const elapsed = (performance.now() - started) / 1000;
  const done = await first.store.collections.triggers.countDocuments({ status: 'completed' });
  if (done !== triggers) throw new Error(`only ${done} of ${triggers} completed`);
  await dispose(ws);
  return triggers / elapsed;
}

function planSummary(explain: Document): string {
  const ferret = explain['serverInfo']?.ferretdbVersion;
  if (ferret) {
    return JSON.stringify({ ferretdbVersion: ferret, queryPlanner: explain['queryPlanner'], filterPushdown: explain['filterPushdown'], sortPushdown: explain['sortPushdown'], limitPushdown: explain['limitPushdown'] }, null, 2);
  }
  const stage = (s: Document | undefined): Document | undefined => s && { stage: s['stage'], indexName: s['indexName'], keyPattern: s['keyPattern'], indexBounds: s['indexBounds'], inputStage: stage(s['inputStage']), inputStages: (s['inputStages'] as Document[] | undefined)?.map(stage) };
  const stats = explain['executionStats'];
  return JSON.stringify({ winningPlan: stage(explain['queryPlanner']?.winningPlan), totalKeysExamined: stats?.totalKeysExamined, totalDocsExamined: stats?.totalDocsExamined, nReturned: stats?.nReturned }, null, 2);
}

/** Median latency of `claimDueTriggers(limit 100)` and of `nextDueAt()` with `pending` triggers waiting. */
async function latencyAt(pending: number): Promise<{ claimMs: number; nextDueMs: number; seedS: number; explain?: string }> {
  const ws = workers(dbName(`lat${pending}`), 1);
  const { store, engine } = ws[0] as Worker;
  await store.ensureIndexes();
  const rule = await engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  const seedStart = performance.now();
  const now = new Date();
  // Everything is due: the claim query has the most to wade through.
  await seed(store, rule, pending, new Date(now.getTime() - 60_000));
  const seedS = (performance.now() - seedStart) / 1000;
  const claims: number[] = [];
  const nextDue: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    await store.claimDueTriggers({ now, limit: 100, leaseMs: 1_800_000, owner: 'bench' });
    claims.push(performance.now() - t);
    t = performance.now();
    await store.nextDueAt();
    nextDue.push(performance.now() - t);
  }
  const { filter, sort } = dueClaimQuery(now);
  const explain = pending === SIZES[SIZES.length - 1] ? planSummary(await store.collections.triggers.find(filter).sort(sort).limit(100).explain('executionStats')) : undefined;
  await dispose(ws);
  return { claimMs: median(claims), nextDueMs: median(nextDue), seedS, ...(explain ? { explain } : {}) };
}

async function main(): Promise<void> {
  const client = await new MongoClient(URI, { serverSelectionTimeoutMS: 5_000 }).connect();
  const info = await client.db('admin').command({ buildInfo: 1 });
  await client.close();
  const server = info['ferretdbVersion'] ? `FerretDB ${String(info['ferretdbVersion'])} (SQLite backend)` : `MongoDB ${String(info['version'])}`;
  console.log(`# MongoDB store benchmark — ${server}, ${machine()}, ${new Date().toISOString()}`);

  for (const engines of [1, 4]) {
    const intakeRates: number[] = [];
    const fireRates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      intakeRates.push(await intake(engines, Number(process.env['BENCH_MONGO_EVENTS'] ?? 200)));
      fireRates.push(await claimComplete(engines, Number(process.env['BENCH_MONGO_TRIGGERS'] ?? 300)));
    }
    console.log(`engines=${engines} intake median ${fmt(median(intakeRates))} events/s (rounds: ${intakeRates.map(fmt).join(', ')})`);
    console.log(`engines=${engines} claim+complete median ${fmt(median(fireRates))} triggers/s (rounds: ${fireRates.map(fmt).join(', ')})`);
  }

  for (const pending of SIZES) {
    const result = await latencyAt(pending);
    console.log(`pending=${fmt(pending)} claim(100) median ${result.claimMs.toFixed(1)} ms, nextDueAt median ${result.nextDueMs.toFixed(1)} ms (seeded in ${result.seedS.toFixed(1)} s)`);
    if (result.explain) console.log(`explain of the due-claim query at ${fmt(pending)} pending:\n${result.explain}`);
  }
}

await main();
