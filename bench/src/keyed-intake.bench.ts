/**
 * Keyed intake benchmark (issue 16), not a test: intake events/s of a keyed rule in `supersede` mode
 * (`trigger.key: '$.job.id'`) against the same rule unkeyed, in one run, in alternating rounds, on the
 * memory store, PostgreSQL and MongoDB; then what each mode costs the store per event: calls on the
 * store port, and on the server statements (PostgreSQL: statements sent, index and sequential scans,
 * rows inserted and updated; MongoDB: commands by name and collection). The keyed rule runs twice:
 * `keyed-new`, every event about a job with no pending run (the slot is taken, nothing superseded), and
 * `keyed-supersede`, several events per job (after its first, each supersedes the pending run).
 *
 *   npm run bench:keyed -w @crm-automation/bench
 *
 * Servers: POSTGRES_URL (default the cluster of `scripts/services.sh up postgres`, 127.0.0.1:5433),
 * MONGODB_URI (default mongodb://127.0.0.1:27017). BENCH_KEYED_STORES=memory,postgres,mongo picks
 * the stores; BENCH_KEYED_ROUNDS (measured rounds per mode, default 5), BENCH_KEYED_EVENTS_MEMORY /
 * _POSTGRES / _MONGO (events per round), BENCH_KEYED_EVENTS_PER_ENTITY (keyed-supersede's events per
 * job, default 4: one run created, three superseding it) size it.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { createAutomationEngine, createMemoryStore, type AutomationEngine, type AutomationStore, type ChannelGateway, type IntakeSummary, type RuleInput } from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '@crm-automation/adapter-postgres';
import { createMongoStore, type MongoStore } from '@crm-automation/adapter-mongo';
import { fmt, machine, median } from './stats.js';

const POSTGRES_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';
const MONGODB_URI = process.env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
const STORES = (process.env['BENCH_KEYED_STORES'] ?? 'memory,postgres,mongo').split(',').map((s) => s.trim());
const ROUNDS = Number(process.env['BENCH_KEYED_ROUNDS'] ?? 5);
const EVENTS: Record<string, number> = {
  memory: Number(process.env['BENCH_KEYED_EVENTS_MEMORY'] ?? 20_000),
  postgres: Number(process.env['BENCH_KEYED_EVENTS_POSTGRES'] ?? 2_000),
  mongo: Number(process.env['BENCH_KEYED_EVENTS_MONGO'] ?? 1_000),
};
const EVENTS_PER_ENTITY = Number(process.env['BENCH_KEYED_EVENTS_PER_ENTITY'] ?? 4);
/** Events counted per mode in the operation-count pass. */
const COUNT_EVENTS = 400;
/** Ingests in flight, as a bus consumer with prefetch runs them. */
const IN_FLIGHT = 32;

type Mode = 'unkeyed' | 'keyed-new' | 'keyed-supersede';
const MODES: readonly Mode[] = ['unkeyed', 'keyed-new', 'keyed-supersede'];
/** One account per mode: each event matches exactly one rule, its mode's. */
const ACCOUNT: Record<Mode, string> = { unkeyed: 'acc_unkeyed', 'keyed-new': 'acc_keyed_new', 'keyed-supersede': 'acc_keyed_supersede' };
const EVENTS_PER_JOB: Record<Mode, number> = { unkeyed: 1, 'keyed-new': 1, 'keyed-supersede': EVENTS_PER_ENTITY };

/** The example's SMS rule; a day's delay keeps the claim loop out of the measurement. */
const ruleFor = (mode: Mode): RuleInput => ({
  name: `bench ${mode}`,
  trigger: mode === 'unkeyed' ? { eventName: 'job.status.changed' } : { eventName: 'job.status.changed', key: '$.job.id' },
  ...(mode === 'unkeyed' ? {} : { concurrency: { mode: 'supersede' as const } }),
  delay: { value: 1, unit: 'days' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Job {{job.number}} done' } }],
});

const noopGateway: ChannelGateway = { name: 'noop', send: async () => ({ id: 'ok' }) };

/** Calls on the store port, by method: what the engine asks of the store per event. */
class PortCalls {
  readonly counts = new Map<string, number>();
  wrap<S extends object>(store: S): S {
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          this.counts.set(property, (this.counts.get(property) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
  reset(): void {
    this.counts.clear();
  }
  perEvent(events: number): string {
    return [...this.counts].map(([name, n]) => `${name} ${(n / events).toFixed(2)}`).join(', ');
  }
}

/** Statements sent by every pg client of this process (the adapter's pool included: one `pg` module), by their first words. */
let pgStatements = 0;
/** The last keyed intake statement sent, to show its plan. */
let lastKeyedStatement: { text: string; values: unknown[] } | undefined;
const pgStatementKinds = new Map<string, number>();
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  pgStatements += 1;
  const first = args[0];
  const text = typeof first === 'string' ? first : typeof first === 'object' && first !== null && 'text' in first ? String((first as { text: unknown }).text) : '?';
  const kind = text.replace(/\s+/g, ' ').trim().slice(0, 48);
  pgStatementKinds.set(kind, (pgStatementKinds.get(kind) ?? 0) + 1);
  const values = Array.isArray(args[1]) ? args[1] : typeof first === 'object' && first !== null && 'values' in first ? (first as { values: unknown }).values : undefined;
  if (text.includes('jsonb_to_recordset') && Array.isArray(values)) lastKeyedStatement = { text, values: values as unknown[] };
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

interface Subject {
  name: string;
  events: number;
  engine: AutomationEngine;
  calls: PortCalls;
  ruleIds: Record<Mode, string>;
  /** The server-side operations of `run` (the counting pass), as "name per event" text. */
  countServer?: ((mode: Mode, run: () => Promise<void>, events: number, calls: PortCalls) => Promise<string>) | undefined;
  dispose(): Promise<void>;
}

/** Events of one round: `events` status changes over `events / EVENTS_PER_JOB[mode]` jobs, in time order. */
function roundEvents(mode: Mode, round: string, events: number): Array<Parameters<AutomationEngine['ingest']>[0]> {
  const entities = Math.max(1, Math.floor(events / EVENTS_PER_JOB[mode]));
  const base = Date.now() - 60_000;
  return Array.from({ length: events }, (_, i) => ({
    id: `${round}-${mode}-${i}`,
    name: 'job.status.changed',
    accountId: ACCOUNT[mode],
    timestamp: new Date(base + i),
    payload: { job: { id: `job_${round}_${i % entities}`, number: i, status: 'Done', assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
  }));
}

interface Outcomes {
  created: number;
  superseded: number;
  stale: number;
  redelivered: number;
}

/** Ingests the events `IN_FLIGHT` at a time; resolves with events/s and what intake did. */
async function ingestAll(engine: AutomationEngine, events: ReturnType<typeof roundEvents>): Promise<{ perSecond: number; outcomes: Outcomes }> {
  const outcomes: Outcomes = { created: 0, superseded: 0, stale: 0, redelivered: 0 };
  const onIngested = ({ summary }: { summary: IntakeSummary }) => {
    outcomes.created += summary.created - summary.superseded;
    outcomes.superseded += summary.superseded;
    outcomes.stale += summary.stale;
    outcomes.redelivered += summary.redelivered;
  };
  engine.on('event:ingested', onIngested);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < events.length) {
        const event = events[next++];
        if (event) await engine.ingest(event);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  engine.off('event:ingested', onIngested);
  return { perSecond: events.length / seconds, outcomes };
}

async function withRules(name: string, events: number, store: AutomationStore, extra: Partial<Subject>, dispose: () => Promise<void>): Promise<Subject> {
  const calls = new PortCalls();
  const engine = createAutomationEngine({ store: calls.wrap(store), channels: { sms: noopGateway }, instanceId: `bench-keyed-${name}` });
  const ruleIds: Record<Mode, string> = { unkeyed: '', 'keyed-new': '', 'keyed-supersede': '' };
  for (const mode of MODES) ruleIds[mode] = (await engine.rules.create(ACCOUNT[mode], ruleFor(mode))).id;
  return { name, events, engine, calls, ruleIds, ...extra, dispose };
}

async function memorySubject(): Promise<Subject> {
  return withRules('memory', EVENTS['memory'] ?? 20_000, createMemoryStore(), {}, async () => {});
}

async function postgresSubject(): Promise<Subject> {
  const schema = `bench_keyed_${randomBytes(3).toString('hex')}`;
  const open = () => createPostgresStore({ connectionString: POSTGRES_URL, schema });
  const store: PostgresStore = open();
  await store.ensureSchema();
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  const tableStats = async () => {
    // Other backends' counters reach the views when they exit: the counting pass closes its pool first.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ idx: string; seq: string; ins: string; upd: string }>(
      'SELECT sum(coalesce(idx_scan, 0)) AS idx, sum(seq_scan) AS seq, sum(n_tup_ins) AS ins, sum(n_tup_upd) AS upd FROM pg_stat_user_tables WHERE schemaname = $1',
      [schema],
    );
    const byIndex = await admin.query<{ name: string; scans: string; tuples: string }>('SELECT indexrelname AS name, idx_scan AS scans, idx_tup_read AS tuples FROM pg_stat_user_indexes WHERE schemaname = $1', [schema]);
    const row = rows[0];
    return { idx: Number(row?.idx ?? 0), seq: Number(row?.seq ?? 0), ins: Number(row?.ins ?? 0), upd: Number(row?.upd ?? 0), byIndex: new Map(byIndex.rows.map((r) => [r.name, { scans: Number(r.scans), tuples: Number(r.tuples) }])) };
  };
  /**
   * The plan of the last keyed intake statement, run again for new events and jobs (its round's name
   * changed in the parameters) inside a transaction rolled back: which index each lookup uses, and how
   * many entries it reads.
   */
  const keyedPlan = async (round: string): Promise<string> => {
    const statement = lastKeyedStatement;
    if (!statement || !JSON.stringify(statement.values).includes(round)) return '';
    const values = JSON.parse(JSON.stringify(statement.values).replaceAll(round, `${round}x`)) as unknown[];
    const client = await admin.connect();
    const scansOf = (rows: Array<{ 'QUERY PLAN': string }>) =>
      rows
        .map((r) => r['QUERY PLAN'].trim())
        .filter((line) => /Index|Seq Scan/.test(line) && /triggers/.test(line))
        .map((line) => line.replace(/^->\s*/, ''))
        .join(' | ');
    try {
      await client.query('BEGIN');
      const custom = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${statement.text}`, values);
      // The adapter sends it as a named statement: after five runs PostgreSQL may keep a generic plan.
      await client.query('SAVEPOINT generic');
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE bench_keyed_generic AS ${statement.text}`);
      // EXECUTE takes no bind parameters: the values go in as literals.
      const literal = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : client.escapeLiteral(typeof v === 'string' ? v : JSON.stringify(v)));
      const generic = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE bench_keyed_generic(${values.map(literal).join(', ')})`);
      return `plan of one merged statement, custom: ${scansOf(custom.rows)}\n                  generic: ${scansOf(generic.rows)}\n                  `;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      // A prepared statement outlives the transaction.
      await client.query('DEALLOCATE bench_keyed_generic').catch(() => undefined);
      client.release();
    }
  };
  return withRules('postgres', EVENTS['postgres'] ?? 2_000, store, {
    countServer: async (mode, _run, events, calls) => {
      // Its own engine and pool, closed afterwards, so the statistics views have every counter of the pass.
      const counted = open();
      const engine = createAutomationEngine({ store: calls.wrap(counted), channels: { sms: noopGateway }, instanceId: `bench-keyed-count-${mode}` });
      const warm = roundEvents(mode, `warm${randomBytes(2).toString('hex')}`, 8);
      for (const event of warm) await engine.ingest(event);
      calls.reset();
      const before = await tableStats();
      const statementsBefore = pgStatements;
      const round = `count${randomBytes(2).toString('hex')}`;
      pgStatementKinds.clear();
      await ingestAll(engine, roundEvents(mode, round, events));
      const statements = pgStatements - statementsBefore;
      await counted.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = await tableStats();
      const per = (n: number) => (n / events).toFixed(2);
      // Scans, and index entries read (a scan that reads many entries is not one indexed operation).
      const indexes = [...after.byIndex]
        .map(([name, a]) => ({ name, scans: a.scans - (before.byIndex.get(name)?.scans ?? 0), tuples: a.tuples - (before.byIndex.get(name)?.tuples ?? 0) }))
        .filter((i) => i.scans > 0)
        .map((i) => `${i.name} ${per(i.scans)} (${per(i.tuples)} entries read)`);
      // The statistics reads of this pass are the bench's own.
      const kinds = [...pgStatementKinds].filter(([kind]) => !kind.includes('pg_stat') && !kind.includes('idx_scan')).map(([kind, n]) => `"${kind}…" ${per(n)}`);
      const plan = mode === 'unkeyed' ? '' : await keyedPlan(round);
      return `${plan}statements ${per(statements)} [${kinds.join('; ')}], index scans ${per(after.idx - before.idx)} [${indexes.join(', ')}], seq scans ${per(after.seq - before.seq)}, rows inserted ${per(after.ins - before.ins)}, rows updated ${per(after.upd - before.upd)}`;
    },
  }, async () => {
    await store.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store.close();
    await admin.end();
  });
}

async function mongoSubject(): Promise<Subject> {
  const dbName = `bench_keyed_${randomBytes(3).toString('hex')}`;
  const client = new MongoClient(MONGODB_URI, { monitorCommands: true });
  await client.connect();
  const commands = new Map<string, number>();
  client.on('commandStarted', (event) => {
    // By command and collection: the command's first field names the collection (find: 'rules').
    const target = (event.command as Record<string, unknown>)[event.commandName];
    const key = typeof target === 'string' ? `${event.commandName} ${target}` : event.commandName;
    commands.set(key, (commands.get(key) ?? 0) + 1);
  });
  const store: MongoStore = createMongoStore({ client, dbName });
  await store.ensureIndexes();
  return withRules('mongo', EVENTS['mongo'] ?? 1_000, store, {
    countServer: async (_mode, run, events) => {
      commands.clear();
      await run();
      return [...commands].filter(([name]) => !/^(hello|isMaster|ping)\b/.test(name)).map(([name, n]) => `${name} ${(n / events).toFixed(2)}`).join(', ');
    },
  }, async () => {
    await client.db(dbName).dropDatabase();
    await store.close();
    await client.close();
  });
}

const OPEN: Record<string, () => Promise<Subject>> = { memory: memorySubject, postgres: postgresSubject, mongo: mongoSubject };

const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`keyed intake benchmark: ${machine()}, ${cpus().length} × ${cpu}; ${ROUNDS} measured rounds per mode, in rotating order, ${IN_FLIGHT} ingests in flight, keyed-supersede ${EVENTS_PER_ENTITY} events per job`);
console.log(`load average (1/5/15 min) at start: ${load()}\n`);

for (const name of STORES) {
  const open = OPEN[name];
  if (!open) throw new Error(`unknown store ${name} (memory, postgres, mongo)`);
  let subject: Subject;
  try {
    subject = await open();
  } catch (error) {
    console.log(`${name}: not measured (${error instanceof Error ? error.message : String(error)})\n`);
    continue;
  }
  try {
    const rates: Record<Mode, number[]> = { unkeyed: [], 'keyed-new': [], 'keyed-supersede': [] };
    const none = (): Outcomes => ({ created: 0, superseded: 0, stale: 0, redelivered: 0 });
    const keyedOutcomes: Record<Mode, Outcomes> = { unkeyed: none(), 'keyed-new': none(), 'keyed-supersede': none() };
    // Warm-up: one round of each, not counted.
    for (const mode of MODES) await ingestAll(subject.engine, roundEvents(mode, 'warm', Math.min(subject.events, 500)));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating: no mode always runs first (the store grows; the machine's load drifts).
      const order = [...MODES.slice(round % MODES.length), ...MODES.slice(0, round % MODES.length)];
      for (const mode of order) {
        const { perSecond, outcomes } = await ingestAll(subject.engine, roundEvents(mode, `r${round}`, subject.events));
        rates[mode].push(perSecond);
        for (const k of Object.keys(outcomes) as Array<keyof Outcomes>) keyedOutcomes[mode][k] += outcomes[k];
      }
    }
    const unkeyed = median(rates.unkeyed);
    console.log(`${name}: ${subject.events.toLocaleString('en-US')} events per round`);
    for (const mode of MODES) {
      const ratio = mode === 'unkeyed' ? '' : `   ${(median(rates[mode]) / unkeyed).toFixed(3)} × unkeyed`;
      console.log(`  ${mode.padEnd(15)} median ${fmt(median(rates[mode]))} events/s${ratio}   rounds ${rates[mode].map(fmt).join(', ')}`);
    }
    for (const mode of MODES.filter((m) => m !== 'unkeyed')) {
      const o = keyedOutcomes[mode];
      console.log(`  ${mode} intake did: ${fmt(o.created)} created, ${fmt(o.superseded)} superseded a pending run, ${fmt(o.stale)} stale (a newer event was pending)`);
    }

    // What one event costs the store, per mode.
    for (const mode of MODES) {
      subject.calls.reset();
      const events = roundEvents(mode, `ops${randomBytes(2).toString('hex')}`, COUNT_EVENTS);
      const run = async () => void (await ingestAll(subject.engine, events));
      const server = subject.countServer ? await subject.countServer(mode, run, COUNT_EVENTS, subject.calls) : (await run(), '');
      const port = subject.calls.perEvent(COUNT_EVENTS);
      console.log(`  ${mode.padEnd(15)} per event: port ${port}${server ? `; server ${server}` : ''}`);
    }
    console.log(`  load average after ${name}: ${load()}\n`);
  } finally {
    await subject.dispose();
  }
}
