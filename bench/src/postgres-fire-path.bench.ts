/**
 * Fire path on PostgreSQL (a benchmark, not a test): the Node CPU spent per trigger while one engine
 * drains due triggers (`runDue`: claim, rule read, evaluation, no-op send, outcome write), on the
 * PostgreSQL store and, for reference, on the in-memory store; and the same for the store alone (claims
 * of 500 and outcome writes of 64, no engine). The difference between the two engines is what the
 * store costs Node per trigger; PostgreSQL's own CPU is not counted.
 *
 *   npm run bench:postgres-fire -w @crm-automation/bench
 *   npx tsx --conditions=source bench/src/postgres-fire-path.bench.ts
 *
 * Server: POSTGRES_URL, else the cluster of `scripts/services.sh up postgres` (127.0.0.1:5433).
 * BENCH_FIRE_TRIGGERS (default 10,000) and BENCH_FIRE_ROUNDS (default 5) size the rounds;
 * BENCH_FIRE_PARTS=memory,postgres,store picks what runs (also `contact`: the same PostgreSQL drain with
 * the contact policy ports off, and with an SMS to a person, whose send reads the suppression list, on
 * and off: what the policy's reads cost per trigger); BENCH_FIRE_PROFILE=<dir> writes a CPU profile
 * of each PostgreSQL drain (only the `runDue` call) there.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createAutomationEngine, createMemoryStore, type AutomationStore, type ChannelGateway, type FinishRequest, type RuleInput } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '@crm-automation/adapter-postgres';
import { fmt, machine, median } from './stats.js';

const URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';
const TRIGGERS = Number(process.env['BENCH_FIRE_TRIGGERS'] ?? 10_000);
const ROUNDS = Number(process.env['BENCH_FIRE_ROUNDS'] ?? 5);
const PARTS = new Set((process.env['BENCH_FIRE_PARTS'] ?? 'memory,postgres,store').split(','));
const PROFILE_DIR = process.env['BENCH_FIRE_PROFILE'];
/** Prints each drain's start and end on the monotonic clock, to cut the drains out of a `node --cpu-prof` profile. */
const WINDOWS = process.env['BENCH_FIRE_WINDOWS'] === '1';
const ACCOUNT = 'acc_bench';
const EVENT = 'bench.job';
/** The peer benchmark's engine settings and rule (bench/peers/drivers/engine.ts). */
const TUNING = { batchSize: 500, concurrency: 64 };
const rule = {
  name: 'bench job',
  trigger: { eventName: EVENT },
  delay: { value: 0, unit: 'seconds' as const },
  conditions: { all: [{ fact: 'job', path: '$.id', operator: 'notEqual', value: null }] },
  actions: [{ type: 'job', params: { id: '{{job.id}}' } }],
} satisfies RuleInput<'job'>;
/** The same rule sending an SMS to a person: the send reads the suppression list (and the policy) first. */
const smsRule = {
  ...rule,
  actions: [{ type: 'sms', params: { recipient: '+1555{{job.n}}', message: 'Job {{job.id}} done' } }],
} satisfies RuleInput<'sms'>;
const CONTACT_OFF = { contactPolicies: false, suppressions: false, contactCounter: false, sendThrottle: false } as const;

interface DrainOptions {
  /** The action's channel: `job` (nobody behind it) or `sms` (a person: suppression list read before the send). */
  channel?: 'job' | 'sms' | undefined;
  /** Whether the engine uses the store's contact policy ports (it does by default). */
  contact?: boolean | undefined;
}

setFlagsFromString('--expose-gc');
/**
 * A full collection before each measured drain, so that no part pays for the garbage of the one
 * before it (the in-memory engine otherwise measured 26 to 60 µs a trigger depending on its turn).
 */
const collectGarbage = runInNewContext('gc') as () => void;

interface Drain {
  perSecond: number;
  cpuUsPerTrigger: number;
  /** CPU of the PostgreSQL processes on this machine over the same time, when /proc shows them. */
  serverUsPerTrigger: number | undefined;
}

const cpuUs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/** Linux clock ticks (USER_HZ) are 100 a second on every platform Node runs on. */
const TICK_US = 10_000;

/**
 * User + system CPU of every `postgres` process (server, backends, WAL writer, autovacuum) in µs, read
 * from /proc; undefined where that is not readable (another machine, another OS). Other clients of
 * the same server are counted too: run this on a quiet server.
 */
function serverCpuUs(): number | undefined {
  let total = 0;
  let found = false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    // Fields after the command: state is field 3, utime 14 and stime 15 (1-based, man proc).
    const fields = stat.slice(close + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) * TICK_US;
    found = true;
  }
  return found ? total : undefined;
}

const perTrigger = (before: number | undefined, after: number | undefined) => (before === undefined || after === undefined ? undefined : (after - before) / TRIGGERS);

const openPostgres = async (): Promise<PostgresStore> => {
  const store = createPostgresStore({ connectionString: URL, schema: `bench_fire_${randomBytes(3).toString('hex')}` });
  await store.ensureSchema();
  return store;
};

/** One engine drains `TRIGGERS` due triggers with `runDue()`; only the drain is measured. */
async function drain(store: AutomationStore, profileTo: string | undefined, options: DrainOptions = {}): Promise<Drain> {
  let sent = 0;
  const gateway: ChannelGateway = {
    name: 'bench',
    send: async () => {
      sent += 1;
      return undefined;
    },
  };
  const sms = options.channel === 'sms';
  const engine = createAutomationEngine({ store, channels: sms ? { sms: gateway } : { job: gateway }, ...TUNING, eventTimeWindow: { maxFutureMs: 86_400_000 }, ...(options.contact === false ? CONTACT_OFF : {}) });
  await engine.rules.create(ACCOUNT, sms ? smsRule : rule);
  // Due a second ago, so they are due at once; nothing claims them until runDue (start() is not called).
  const due = new Date(Date.now() - 1_000);
  for (let i = 0; i < TRIGGERS; i += 1_000) {
    const events = Array.from({ length: Math.min(1_000, TRIGGERS - i) }, (_, k) => ({ id: `j${i + k}`, name: EVENT, accountId: ACCOUNT, payload: { job: { id: `j${i + k}`, n: String(1_000_000 + i + k) } }, timestamp: due }));
    const results = await engine.ingestMany(events);
    const refused = results.find((r) => !r.ok);
    if (refused && !refused.ok) throw refused.error;
  }
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  collectGarbage();
  const server = serverCpuUs();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const windowStart = process.hrtime.bigint();
  const counts = await engine.runDue();
  if (WINDOWS) console.log(`# drain window ${windowStart / 1000n} ${process.hrtime.bigint() / 1000n} µs (monotonic)`);
  const cpuSpent = cpuUs(cpu);
  const wall = performance.now() - started;
  const serverAfter = serverCpuUs();
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileTo, JSON.stringify(profile));
    session.disconnect();
  }
  if (counts.completed !== TRIGGERS || sent !== TRIGGERS) throw new Error(`drain: ${counts.completed} completed and ${sent} sent of ${TRIGGERS}`);
  return { perSecond: (TRIGGERS / wall) * 1_000, cpuUsPerTrigger: cpuSpent / TRIGGERS, serverUsPerTrigger: store.capabilities.name === 'postgres' ? perTrigger(server, serverAfter) : undefined };
}

/** The store alone: claims of 500, each claimed batch finished as completed in writes of 64 (the engine's outcome batches). */
async function storeOnly(store: PostgresStore): Promise<Drain> {
  const at = new Date(Date.now() - 1_000);
  for (let i = 0; i < TRIGGERS; i += 1_000) {
    const event = { id: `e${i}`, name: EVENT, accountId: ACCOUNT, payload: { job: { id: `j${i}` } }, timestamp: at };
    await store.insertTriggers(
      Array.from({ length: Math.min(1_000, TRIGGERS - i) }, (_, k) => ({ accountId: ACCOUNT, ruleId: `${k}`, ruleVersion: 1, triggeringEvent: { ...event, id: `e${i + k}` }, evaluateAt: at })),
      at,
    );
  }
  collectGarbage();
  const server = serverCpuUs();
  const started = performance.now();
  const cpu = process.cpuUsage();
  let finished = 0;
  for (;;) {
    const now = new Date();
    const claimed = await store.claimDueTriggers({ now, limit: 500, leaseMs: 60_000, owner: 'bench' });
    if (claimed.length === 0) break;
    const writes: Array<Promise<boolean[]>> = [];
    for (let i = 0; i < claimed.length; i += 64) {
      const requests = claimed.slice(i, i + 64).map(
        (t): FinishRequest => ({
          id: t.id,
          leaseToken: t.leaseToken,
          result: {
            status: 'completed',
            sentActions: [0],
            now,
            history: { at: now, attempt: t.attempt, outcome: 'completed', by: 'bench', ruleVersion: 1, actions: [{ type: 'job', index: 0, status: 'sent', durationMs: 0 }] },
          },
        }),
      );
      writes.push(store.finishAttempts(requests));
    }
    for (const saved of await Promise.all(writes)) finished += saved.filter(Boolean).length;
  }
  const cpuSpent = cpuUs(cpu);
  const wall = performance.now() - started;
  const serverAfter = serverCpuUs();
  if (finished !== TRIGGERS) throw new Error(`store only: ${finished} finished of ${TRIGGERS}`);
  return { perSecond: (TRIGGERS / wall) * 1_000, cpuUsPerTrigger: cpuSpent / TRIGGERS, serverUsPerTrigger: perTrigger(server, serverAfter) };
}

const report = (label: string, runs: Drain[]) => {
  const server = runs.map((r) => r.serverUsPerTrigger).filter((x): x is number => x !== undefined);
  const serverText = server.length > 0 ? `, server CPU median ${median(server).toFixed(1)} µs/trigger` : '';
  console.log(
    `${label.padEnd(20)} Node CPU median ${median(runs.map((r) => r.cpuUsPerTrigger)).toFixed(1)} µs/trigger${serverText}, ${fmt(median(runs.map((r) => r.perSecond)))} triggers/s ` +
      `(rounds: ${runs.map((r) => `${r.cpuUsPerTrigger.toFixed(1)} µs${r.serverUsPerTrigger === undefined ? '' : ` + ${r.serverUsPerTrigger.toFixed(0)} µs`} ${fmt(r.perSecond)}/s`).join(', ')})`,
  );
};

async function main(): Promise<void> {
  console.log(`# PostgreSQL fire path — ${machine()}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`# ${fmt(TRIGGERS)} triggers a round, ${ROUNDS} rounds after one warm-up of each part, engine batchSize ${TUNING.batchSize} concurrency ${TUNING.concurrency}; CPU is this process's (user + system)`);
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const results: Record<string, Drain[]> = { memory: [], postgres: [], store: [] };
  const contactParts: Array<{ label: string; options: DrainOptions }> = PARTS.has('contact')
    ? [
        { label: 'postgres, no contact', options: { contact: false } },
        { label: 'postgres sms', options: { channel: 'sms' } },
        { label: 'postgres sms, no contact', options: { channel: 'sms', contact: false } },
      ]
    : [];
  for (const part of contactParts) results[part.label] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const warmUp = round === 0;
    // Alternating, so that a change in the machine's load touches every part alike.
    if (PARTS.has('memory')) {
      const run = await drain(createMemoryStore(), undefined);
      if (!warmUp) results['memory']?.push(run);
    }
    if (PARTS.has('postgres')) {
      const store = await openPostgres();
      try {
        const run = await drain(store, PROFILE_DIR && !warmUp ? join(PROFILE_DIR, `drain-${round}.cpuprofile`) : undefined);
        if (!warmUp) results['postgres']?.push(run);
      } finally {
        await store.dropSchema();
        await store.close();
      }
    }
    for (const part of contactParts) {
      const store = await openPostgres();
      try {
        const run = await drain(store, undefined, part.options);
        if (!warmUp) results[part.label]?.push(run);
      } finally {
        await store.dropSchema();
        await store.close();
      }
    }
    if (PARTS.has('store')) {
      const store = await openPostgres();
      try {
        const run = await storeOnly(store);
        if (!warmUp) results['store']?.push(run);
      } finally {
        await store.dropSchema();
        await store.close();
      }
    }
  }
  if (PARTS.has('memory')) report('engine, memory', results['memory'] ?? []);
  if (PARTS.has('postgres')) report('engine, postgres', results['postgres'] ?? []);
  for (const part of contactParts) report(`engine, ${part.label}`, results[part.label] ?? []);
  if (PARTS.has('store')) report('postgres store only', results['store'] ?? []);
  console.log(`# load at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
