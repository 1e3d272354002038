/**
 * MongoDB store benchmark (not a test): intake events/s and drain triggers/s through real engines
 * (1 and 4, no-op gateway), claim latency as the number of pending triggers grows, the claim and
 * outcome strategies the adapter chose between (same run, same data), and the claim query's explain
 * output where the server has `explain`.
 *
 *   npx tsx --conditions=source bench/src/mongo-store.bench.ts
 *
 * Server: MONGODB_URI, else the mongo-java-server of `scripts/services.sh up mongo` (127.0.0.1:27017).
 * BENCH_MONGO_SIZES=1000,10000,100000 sets the pending-trigger sizes (add 1000000 on a real mongod);
 * BENCH_MONGO_EVENTS / BENCH_MONGO_TRIGGERS / BENCH_MONGO_ROUNDS size the throughput rounds.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { MongoClient, MongoServerError, ObjectId, type Collection, type Document } from 'mongodb';
import { createAutomationEngine, type AutomationEngine, type ChannelGateway, type NewTrigger, type Rule, type TriggerStatus, type RuleInput } from '@crm-automation/core';
import { createMongoStore, dueClaimQuery, type MongoStore, type TriggerDocument } from '@crm-automation/adapter-mongo';
import { fmt, machine, median } from './stats.js';

const URI = process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
const SIZES = (process.env['BENCH_MONGO_SIZES'] ?? '1000,10000,100000').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_MONGO_ROUNDS'] ?? 3);
const EVENTS = Number(process.env['BENCH_MONGO_EVENTS'] ?? 2_000);
const TRIGGERS = Number(process.env['BENCH_MONGO_TRIGGERS'] ?? 5_000);
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

/** A gateway that accepts every command at once: the store is what is measured. */
const noopGateway: ChannelGateway = { name: 'noop', send: async () => ({ id: 'noop' }) };

interface Worker {
  store: MongoStore;
  engine: AutomationEngine;
}

/** `count` engines, each with its own client and store instance, on one database (the engine's default batch and concurrency). */
function workers(dbName: string, count: number): Worker[] {
  return Array.from({ length: count }, (_, i) => {
    const store = createMongoStore({ uri: URI, dbName });
    const engine = createAutomationEngine({ store, channels: { sms: noopGateway }, instanceId: `bench-${i}`, pollIntervalMs: 100, leaseMs: 60_000 });
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
  for (let i = 0; i < 2 * EVENT_NAMES.length; i++) await first.engine.rules.create(ACCOUNT, ruleInput(EVENT_NAMES[i % EVENT_NAMES.length] as string, i));
  const started = performance.now();
  await Promise.all(
    ws.map(async (w, k) => {
      for (let n = k; n < events; n += engineCount) await w.engine.ingest({ name: EVENT_NAMES[n % EVENT_NAMES.length] as string, accountId: ACCOUNT, payload: payload(n) });
    }),
  );
  const rate = events / ((performance.now() - started) / 1000);
  await dispose(ws);
  return rate;
}

async function seed(store: MongoStore, rule: Pick<Rule, 'id' | 'trigger'>, count: number, dueAt: Date): Promise<void> {
  for (let offset = 0; offset < count; offset += 5_000) {
    const batch: NewTrigger[] = [];
    for (let i = offset; i < Math.min(count, offset + 5_000); i++) {
      batch.push({ accountId: ACCOUNT, ruleId: rule.id, ruleVersion: 1, evaluateAt: new Date(dueAt.getTime() + (i % 1_000)), triggeringEvent: { id: `evt_${i}`, name: rule.trigger.eventName, timestamp: dueAt, payload: payload(i) } });
    }
    await store.insertTriggers(batch, new Date());
  }
}

/** Triggers/s from start to the last saved outcome, with `engineCount` running engines (`engine.start()`) sharing the backlog. */
async function drain(engineCount: number, triggers: number): Promise<number> {
  const ws = workers(dbName('drain'), engineCount);
  const first = ws[0] as Worker;
  await first.store.ensureIndexes();
  const rule = await first.engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  await seed(first.store, rule, triggers, new Date(Date.now() - 60_000));
  let saved = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  for (const w of ws) {
    w.engine.on('trigger:finished', (info) => {
      if (info.saved && info.result.status === 'completed' && ++saved === triggers) resolveDone();
    });
  }
  const started = performance.now();
  await Promise.all(ws.map((w) => w.engine.start()));
  await done;
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(ws.map((w) => w.engine.stop()));
  const notCompleted = await first.store.collections.triggers.countDocuments({ status: { $ne: 'completed' } });
  if (notCompleted !== 0) throw new Error(`${notCompleted} of ${triggers} triggers not completed`);
  const attempts = await first.store.collections.triggers.countDocuments({ attempt: { $ne: 1 } });
  if (attempts !== 0) throw new Error(`${attempts} triggers were claimed more than once`);
  await dispose(ws);
  return triggers / elapsed;
}

// ---------------------------------------------------------------- claim strategies, same data ---

const DUE: TriggerStatus[] = ['pending', 'retrying'];
const leaseUpdate = (now: Date, leaseToken: string) => ({ $set: { status: 'processing' as const, leaseToken, leaseExpiresAt: new Date(now.getTime() + 1_800_000), leaseOwner: 'bench', updatedAt: now }, $inc: { attempt: 1 } });

/** A `findOneAndUpdate` sorted on `{ status, evaluateAt }`, once per trigger: the server picks the head each time. */
async function claimBySortedFindOneAndUpdate(triggers: Collection<TriggerDocument>, now: Date, limit: number): Promise<number> {
  let claimed = 0;
  while (claimed < limit) {
    const doc = await triggers.findOneAndUpdate({ status: { $in: DUE }, evaluateAt: { $lte: now } }, leaseUpdate(now, randomBytes(16).toString('hex')), { sort: { evaluateAt: 1 }, returnDocument: 'after' });
    if (!doc) break;
    claimed += 1;
  }
  return claimed;
}

/** Candidate ids, then one conditional `findOneAndUpdate({ _id, ...still due })` per candidate, 16 in flight. */
async function claimByFindOneAndUpdatePerId(triggers: Collection<TriggerDocument>, now: Date, limit: number): Promise<number> {
  const { filter, sort, projection } = dueClaimQuery(now);
  const ids = (await triggers.find(filter, { projection }).sort(sort).limit(limit).toArray()).map((d) => d._id);
  let claimed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const _id = ids[next++];
        if (!_id) return;
        const doc = await triggers.findOneAndUpdate({ _id, status: { $in: DUE }, evaluateAt: { $lte: now } }, leaseUpdate(now, randomBytes(16).toString('hex')), { returnDocument: 'after' });
        if (doc) claimed += 1;
      }
    }),
  );
  return claimed;
}

/** 16 outcomes written as 16 guarded `findOneAndUpdate`s in flight at once (what the store does), or as one `bulkWrite`. */
async function outcomeWrites(store: MongoStore, now: Date): Promise<{ parallelMs: number; bulkMs: number }> {
  const claimed = await store.claimDueTriggers({ now, limit: 32, leaseMs: 1_800_000, owner: 'bench' });
  const result = { status: 'completed' as const, sentActions: [0], now, history: { at: now, attempt: 1, outcome: 'completed' as const, by: 'bench' } };
  const [viaStore, viaBulk] = [claimed.slice(0, 16), claimed.slice(16)];
  let t = performance.now();
  const saved = await Promise.all(viaStore.map((c) => store.finishAttempt(c.id, c.leaseToken, result)));
  const parallelMs = performance.now() - t;
  t = performance.now();
  const bulk = await store.collections.triggers.bulkWrite(
    viaBulk.map((c) => ({
      updateOne: {
        filter: { _id: ObjectId.createFromHexString(c.id), status: 'processing' as const, leaseToken: c.leaseToken },
        update: { $set: { status: 'completed', updatedAt: now }, $unset: { leaseToken: '', leaseExpiresAt: '', leaseOwner: '' }, $push: { executionHistory: result.history }, $addToSet: { sentActions: { $each: [0] } } },
      },
    })),
    { ordered: false },
  );
  const bulkMs = performance.now() - t;
  if (saved.some((s) => !s) || bulk.matchedCount !== viaBulk.length) throw new Error('an outcome write did not apply');
  return { parallelMs, bulkMs };
}

interface LatencyResult {
  claimMs: number;
  nextDueMs: number;
  loopMs: number;
  perIdMs: number;
  parallelOutcomesMs: number;
  bulkOutcomesMs: number;
  seedS: number;
  explain: string;
}

/** Explain of the claim's candidate query, or why there is none. */
async function explainClaim(triggers: Collection<TriggerDocument>, now: Date): Promise<string> {
  const { filter, sort, projection } = dueClaimQuery(now);
  let explain: Document;
  try {
    explain = await triggers.find(filter, { projection }).sort(sort).limit(100).explain('executionStats');
  } catch (error) {
    if (error instanceof MongoServerError) return `this server does not support explain (${error.codeName ?? error.code}: ${error.message})`;
    throw error;
  }
  const stage = (s: Document | undefined): Document | undefined =>
    s && { stage: s['stage'], indexName: s['indexName'], keyPattern: s['keyPattern'], indexBounds: s['indexBounds'], inputStage: stage(s['inputStage']), inputStages: (s['inputStages'] as Document[] | undefined)?.map(stage) };
  const stats = explain['executionStats'];
  return JSON.stringify({ winningPlan: stage(explain['queryPlanner']?.winningPlan), totalKeysExamined: stats?.totalKeysExamined, totalDocsExamined: stats?.totalDocsExamined, nReturned: stats?.nReturned, executionTimeMillis: stats?.executionTimeMillis }, null, 2);
}

/** With `pending` due triggers waiting: each strategy's claim of 100, `nextDueAt`, and 16 outcome writes both ways. */
async function latencyAt(pending: number): Promise<LatencyResult> {
  const ws = workers(dbName(`lat${pending}`), 1);
  const { store, engine } = ws[0] as Worker;
  await store.ensureIndexes();
  const rule = await engine.rules.create(ACCOUNT, ruleInput('job.status.changed', 0));
  const seedStart = performance.now();
  const now = new Date();
  // Everything is due: the candidate query has the most to wade through.
  await seed(store, rule, pending, new Date(now.getTime() - 60_000));
  const seedS = (performance.now() - seedStart) / 1000;
  const triggers = store.collections.triggers;
  // Between measurements everything goes back to pending, so each one sees exactly `pending` due triggers.
  const reset = () => triggers.updateMany({ status: { $ne: 'pending' } }, { $set: { status: 'pending', attempt: 0 }, $unset: { leaseToken: '', leaseExpiresAt: '', leaseOwner: '' } });
  const timed = async (rounds: number, run: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await reset();
      const t = performance.now();
      await run();
      times.push(performance.now() - t);
    }
    return median(times);
  };
  const claimMs = await timed(5, () => store.claimDueTriggers({ now, limit: 100, leaseMs: 1_800_000, owner: 'bench' }));
  const nextDueMs = await timed(5, () => store.nextDueAt());
  // The loop reads the whole backlog once per trigger on a server that scans: one round at the largest sizes.
  const loopMs = await timed(pending >= 100_000 ? 1 : 3, () => claimBySortedFindOneAndUpdate(triggers, now, 100));
  const perIdMs = await timed(3, () => claimByFindOneAndUpdatePerId(triggers, now, 100));
  const outcomes: Array<{ parallelMs: number; bulkMs: number }> = [];
  for (let i = 0; i < 5; i++) {
    await reset();
    outcomes.push(await outcomeWrites(store, now));
  }
  const explain = await explainClaim(triggers, now);
  await dispose(ws);
  return { claimMs, nextDueMs, loopMs, perIdMs, parallelOutcomesMs: median(outcomes.map((o) => o.parallelMs)), bulkOutcomesMs: median(outcomes.map((o) => o.bulkMs)), seedS, explain };
}

async function main(): Promise<void> {
  const client = await new MongoClient(URI, { serverSelectionTimeoutMS: 5_000 }).connect();
  const info = await client.db('admin').command({ buildInfo: 1 });
  const hello = await client.db('admin').command({ isMaster: 1 });
  const status = await client.db('admin').command({ serverStatus: 1 }).catch(() => undefined);
  await client.close();
  const driver = (createRequire(import.meta.url)('mongodb/package.json') as { version: string }).version;
  const ttl = status === undefined ? 'unknown (serverStatus refused)' : status['metrics']?.ttl ? 'runs' : 'none (TTL indexes never fire)';
  console.log(`# MongoDB store benchmark — server reports ${String(info['version'])} (maxWireVersion ${String(hello['maxWireVersion'])}, TTL monitor: ${ttl}), driver ${driver}, ${machine()}, ${new Date().toISOString()}`);
  console.log(`# ${cpus().length} cores, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${ROUNDS} rounds, medians; intake ${fmt(EVENTS)} events (2 matching rules each), drain ${fmt(TRIGGERS)} due triggers`);

  for (const engines of [1, 4]) {
    const intakeRates: number[] = [];
    const drainRates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      intakeRates.push(await intake(engines, EVENTS));
      drainRates.push(await drain(engines, TRIGGERS));
    }
    console.log(`engines=${engines} intake median ${fmt(median(intakeRates))} events/s (rounds: ${intakeRates.map(fmt).join(', ')})`);
    console.log(`engines=${engines} drain median ${fmt(median(drainRates))} triggers/s (rounds: ${drainRates.map(fmt).join(', ')})`);
  }

  for (const pending of SIZES) {
    const r = await latencyAt(pending);
    console.log(`pending=${fmt(pending)} (seeded in ${r.seedS.toFixed(1)} s): claim(100) median ${r.claimMs.toFixed(1)} ms; nextDueAt ${r.nextDueMs.toFixed(1)} ms`);
    console.log(`  claim(100) by strategy: candidates + updateMany claim token + read by _id (the store) ${r.claimMs.toFixed(1)} ms, candidates + conditional findOneAndUpdate per id ${r.perIdMs.toFixed(1)} ms, sorted findOneAndUpdate loop ${r.loopMs.toFixed(1)} ms`);
    console.log(`  16 outcomes: parallel findOneAndUpdate (the store) ${r.parallelOutcomesMs.toFixed(1)} ms, one bulkWrite ${r.bulkOutcomesMs.toFixed(1)} ms`);
    if (pending === SIZES[SIZES.length - 1]) console.log(`explain of the claim's candidate query at ${fmt(pending)} pending:\n${r.explain}`);
  }
  console.log(`# load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
