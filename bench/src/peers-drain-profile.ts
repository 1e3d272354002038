/**
 * What a peers-bench burst costs per job, on the client and the server: the same drivers and settings
 * as bench/peers (`engine-postgres` by default, BENCH_PROFILE_DRIVER for another), one burst at a time, with every statement the process
 * sends counted by kind during the drain (the driver's `pg` client is patched), the transactions
 * committed on the database (`pg_stat_database.xact_commit`, every backend), and the drain rate and
 * client CPU. A diagnosis tool: it asserts nothing.
 *
 * Run: `bash scripts/services.sh up postgres`, then
 * `npx tsx --conditions=source bench/src/peers-drain-profile.ts`
 * (BENCH_PROFILE_JOBS, default 10,000; BENCH_PROFILE_ROUNDS, default 3; BENCH_PROFILE_DELAY_MS, how long
 * after the add phase starts the jobs are due, default 5,000; and the driver's BENCH_PEERS_ENGINE_* knobs).
 * BENCH_PROFILE_CPU=path writes a CPU profile of each round's drain alone (`path.<round>.cpuprofile`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import pg from 'pg';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { drivers } from '../peers/drivers/registry.js';
import { postgresUrl } from '../peers/drivers/postgres.js';
import { positiveIntEnv } from '../peers/knobs.js';

const jobs = positiveIntEnv('BENCH_PROFILE_JOBS', 10_000);
const rounds = positiveIntEnv('BENCH_PROFILE_ROUNDS', 3);
const delayMs = positiveIntEnv('BENCH_PROFILE_DELAY_MS', 5_000);
const driverName = process.env['BENCH_PROFILE_DRIVER'] ?? 'engine-postgres';
/** Where to write a CPU profile of each round's drain alone (`<path>.<round>.cpuprofile`); none when unset. */
const profilePath = process.env['BENCH_PROFILE_CPU'];

/**
 * User + system CPU of every `postgres` process in µs, from /proc (undefined where unreadable). Other
 * clients of the same server count too, and a backend that exits takes its time with it.
 */
function serverCpuUs(): number | undefined {
  let total = 0;
  let found = false;
  for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    // After the command: utime and stime are fields 14 and 15 (1-based, man proc), in 1/100 s.
    const fields = stat.slice(close + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) * 10_000;
    found = true;
  }
  return found ? total : undefined;
}

/** A statement's kind: its first words, which name the table it works on in every statement of the adapter. */
function kindOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const into = /(INSERT INTO|UPDATE|DELETE FROM|FROM) "?[\w]+"?\.(\w+)/i.exec(flat);
  const verb = /^(WITH \w+ AS \(\s*)?(\w+)/i.exec(flat)?.[2]?.toUpperCase() ?? '?';
  return `${verb}${into ? ` ${into[2]}` : ''} [${flat.slice(0, 48)}…]`;
}

interface Tally {
  count: number;
  /** Time from the call until its answer, summed, ms. */
  ms: number;
}
let counting = false;
const tallies = new Map<string, Tally>();
const original = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
pg.Client.prototype.query = function patched(this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : typeof first === 'object' && first !== null && 'text' in first ? String((first as { text: unknown }).text) : '';
  if (counting && text !== '') {
    const kind = kindOf(text);
    const started = performance.now();
    const tally = tallies.get(kind) ?? { count: 0, ms: 0 };
    tallies.set(kind, tally);
    tally.count += 1;
    const done = () => (tally.ms += performance.now() - started);
    // The pool passes a callback (its own release); a direct caller gets a promise.
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (...answer: unknown[]) => {
        done();
        return (callback as (...a: unknown[]) => unknown)(...answer);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result instanceof Promise) void result.then(done, done);
    return result;
  }
  return original.apply(this, args);
} as typeof pg.Client.prototype.query;

async function commits(): Promise<number> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]?.n ?? Number.NaN);
  } finally {
    await client.end();
  }
}

const entry = drivers[driverName];
if (!entry) throw new Error(`BENCH_PROFILE_DRIVER: no driver ${driverName}`);
const driver = await entry.create({ addBatchSize: 1_000, addConcurrency: 50 });
console.log(`# peers drain profile: ${driverName}, ${jobs} jobs a round, ${rounds} rounds; ${new Date().toISOString()}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`# ${driver.settings}`);
for (let round = 1; round <= rounds; round++) {
  await driver.setup();
  const firstRun = new Map<string, number>();
  let resolveAll: () => void = () => undefined;
  const allRan = new Promise<void>((resolve) => (resolveAll = resolve));
  await driver.start((id) => {
    if (!firstRun.has(id)) firstRun.set(id, Date.now());
    if (firstRun.size === jobs) resolveAll();
  });
  const dueAt = Date.now() + delayMs;
  await driver.add(Array.from({ length: jobs }, (_, i) => ({ id: `p${round}-${i}`, dueAt })));
  await sleep(Math.max(0, dueAt - Date.now() - 200));
  // Counted from just before the due time: the drain's statements only (the idle polls of the wait excluded).
  tallies.clear();
  const commitsBefore = await commits();
  counting = true;
  const cpu = process.cpuUsage();
  const serverBefore = serverCpuUs();
  const session = profilePath ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  await Promise.race([allRan, sleep(delayMs + 60_000)]);
  counting = false;
  const used = process.cpuUsage(cpu);
  const serverAfter = serverCpuUs();
  if (session && profilePath) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${profilePath}.${round}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
  const commitsAfter = await commits();
  const last = Math.max(...firstRun.values());
  const drainMs = Math.max(1, last - dueAt);
  await driver.stop();
  await driver.teardown();
  const total = [...tallies.values()].reduce((n, t) => n + t.count, 0);
  console.log(
    `round ${round}: ${firstRun.size} ran, drain ${Math.round(firstRun.size / (drainMs / 1000))}/s (${drainMs} ms), client CPU ${((used.user + used.system) / jobs).toFixed(1)} µs/job, ` +
      `server CPU ${serverBefore === undefined || serverAfter === undefined ? '?' : ((serverAfter - serverBefore) / jobs).toFixed(1)} µs/job, ` +
      `statements ${total} (${(total / jobs).toFixed(3)} per trigger), commits on the database ${commitsAfter - commitsBefore - 1} (${((commitsAfter - commitsBefore - 1) / jobs).toFixed(3)} per trigger)`,
  );
  for (const [kind, t] of [...tallies].sort((a, b) => b[1].count - a[1].count)) console.log(`  ${String(t.count).padStart(6)}  ${(t.count / jobs).toFixed(4)}/trigger  mean ${(t.ms / t.count).toFixed(2)} ms  ${kind}`);
}
console.log(`# load at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
