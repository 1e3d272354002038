/**
 * Delivery soak (a benchmark, not a test): N sends through a provider stand-in that accepts, refuses,
 * answers busy, answers too late and drops connections at set rates, by engines in child processes
 * on a durable store, SIGKILLed at random and restarted; then an audit of every send: the provider's
 * received messages against the delivery ledger's records (bench/src/delivery-soak-audit.ts).
 *
 *   npm run bench:soak -w @crm-automation/bench                 # 2,000 sends, MongoDB
 *   npm run bench:soak -w @crm-automation/bench -- --sends 10000 --stores mongo,postgres
 *
 * Half the events go to a webhook rule (the receiver deduplicates by `webhook-id`, the gateway declares
 * `dedupes`), half to an SMS rule (Twilio-shaped, no dedupe). Servers: `scripts/services.sh up mongo
 * postgres` (MONGODB_URI, POSTGRES_URL pick others). A store whose adapter keeps no delivery ledger is
 * reported as skipped. Options: see `--help`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createAutomationEngine, FINAL_STATUSES, type AutomationEngine, type Delivery, type Trigger, type TriggerStatus } from '@crm-automation/core';
import { accountingFailures, auditSoak, type ChannelAudit } from './delivery-soak-audit.js';
import type { EngineMessage } from './delivery-soak-engine.js';
import { startProviderStandIn, type ProviderRates, type ProviderStandIn } from './delivery-soak-provider.js';
import { SOAK_ACCOUNT, soakChannels, soakEngineOptions, soakEvent, soakRules, type SoakTuning } from './delivery-soak-setup.js';
import { openSoakStore, SOAK_STORE_KINDS, type OpenedSoakStore, type SoakStoreKind } from './delivery-soak-store.js';
import { fmt, machine, median } from './stats.js';

const HELP = `delivery soak: N sends through a faulty provider stand-in, engines killed at random, every send audited

  --sends N            sends (events, half webhook, half SMS); default 2000
  --stores a,b         mongo and/or postgres; default mongo,postgres (a store without a ledger is skipped)
  --engines N          engine processes at once; default 2
  --lifetime MIN-MAX   each engine is SIGKILLed a random time in this range after it is running, ms;
                       default 2000-6000
  --refuse R --busy R --timeout R --drop R
                       provider outcome rates (accept is the rest); default 0.05 each
  --slow-ms MS         how long a 'timeout' answer takes; default 1500
  --send-timeout-ms MS engine sendTimeoutMs; default 1000
  --lease-ms MS        engine leaseMs; default 3000
  --seed N             seed of the provider's draws; default 15
  --max-seconds S      give up waiting for settlement after this; default 900
  --keep               keep the run's database/schema
  --sms-claims-dedupe  control run: the SMS gateway declares dedupes (the provider does not), so the
                       engine resends unknown SMS; the audit must then report duplicates
`;

const { values: args } = parseArgs({
  options: {
    sends: { type: 'string', default: '2000' },
    stores: { type: 'string', default: 'mongo,postgres' },
    engines: { type: 'string', default: '2' },
    lifetime: { type: 'string', default: '2000-6000' },
    refuse: { type: 'string', default: '0.05' },
    busy: { type: 'string', default: '0.05' },
    timeout: { type: 'string', default: '0.05' },
    drop: { type: 'string', default: '0.05' },
    'slow-ms': { type: 'string', default: '1500' },
    'send-timeout-ms': { type: 'string', default: '1000' },
    'lease-ms': { type: 'string', default: '3000' },
    seed: { type: 'string', default: '15' },
    'max-seconds': { type: 'string', default: '900' },
    keep: { type: 'boolean', default: false },
    'sms-claims-dedupe': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function numberArg(name: keyof typeof args, min: number): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min}, got ${String(args[name])}`);
  return value;
}

const SENDS = numberArg('sends', 2);
const ENGINES = numberArg('engines', 1);
const [KILL_MIN, KILL_MAX] = (args.lifetime ?? '').split('-').map(Number) as [number, number];
if (!(KILL_MIN > 0 && KILL_MAX >= KILL_MIN)) throw new Error('--lifetime must be MIN-MAX in ms, 0 < MIN <= MAX');
const RATES: ProviderRates = { refuse: numberArg('refuse', 0), busy: numberArg('busy', 0), timeout: numberArg('timeout', 0), drop: numberArg('drop', 0) };
const SLOW_MS = numberArg('slow-ms', 1);
const TUNING: SoakTuning = {
  sendTimeoutMs: numberArg('send-timeout-ms', 1),
  leaseMs: numberArg('lease-ms', 2),
  pollIntervalMs: 200,
  concurrency: 16,
  batchSize: 100,
  smsClaimsDedupe: args['sms-claims-dedupe'] === true,
};
if (SLOW_MS <= TUNING.sendTimeoutMs) throw new Error('--slow-ms must exceed --send-timeout-ms, or a "timeout" answer would be in time');
const SEED = numberArg('seed', 0);
const MAX_MS = numberArg('max-seconds', 1) * 1000;
const STORES = (args.stores ?? '').split(',').filter(Boolean) as SoakStoreKind[];
for (const s of STORES) if (!SOAK_STORE_KINDS.includes(s)) throw new Error(`--stores: unknown store ${s}; known: ${SOAK_STORE_KINDS.join(', ')}`);

const ENGINE_SCRIPT = fileURLToPath(new URL('./delivery-soak-engine.ts', import.meta.url));
const NOT_FINAL: TriggerStatus[] = ['pending', 'processing', 'retrying'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

interface EngineFleetStats {
  starts: number;
  kills: number;
  /** Exits nobody asked for (an engine that failed on its own). */
  crashes: number;
  /** Spawn to running engine (process start, module loading, store connection, reconcile), ms. */
  startMs: number[];
  reconciledAtStart: number;
  lastStderr: string[];
  /** Each unplanned exit: the instance, its exit code or signal, and the end of its stderr. */
  crashReports: string[];
}

/**
 * The engine processes: `size` at once, each restarted as soon as it exits, until `stop()`. Each one is
 * SIGKILLed a random time (`lifetimeMs`) after it is running, wherever it is in its work; so every
 * incarnation does some work however slowly this machine starts processes.
 */
class EngineFleet {
  readonly stats: EngineFleetStats = { starts: 0, kills: 0, crashes: 0, startMs: [], reconciledAtStart: 0, lastStderr: [], crashReports: [] };
  private readonly live = new Map<number, { child: ChildProcess; ready: boolean; killed: boolean; spawnedAt: number; killTimer?: NodeJS.Timeout }>();
  private stopping = false;
  private killing = true;
  private generation = 0;

  constructor(
    private readonly size: number,
    private readonly env: Record<string, string>,
    private readonly lifetimeMs: () => number,
  ) {}

  start(): void {
    for (let slot = 0; slot < this.size; slot++) this.spawn(slot);
  }

  private spawn(slot: number): void {
    const instance = `soak-engine-${slot}-${++this.generation}`;
    const child = fork(ENGINE_SCRIPT, [], {
      execArgv: ['--conditions=source', '--import', 'tsx'],
      env: { ...process.env, ...this.env, SOAK_INSTANCE: instance },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const entry: { child: ChildProcess; ready: boolean; killed: boolean; spawnedAt: number; killTimer?: NodeJS.Timeout } = { child, ready: false, killed: false, spawnedAt: performance.now() };
    this.live.set(slot, entry);
    this.stats.starts += 1;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
      this.stats.lastStderr.push(`${instance}: ${chunk.toString().trim()}`);
      if (this.stats.lastStderr.length > 20) this.stats.lastStderr.shift();
    });
    child.on('message', (message: EngineMessage) => {
      if (message.type !== 'ready') return;
      entry.ready = true;
      this.stats.startMs.push(performance.now() - entry.spawnedAt);
      this.stats.reconciledAtStart += message.reconciled;
      if (this.killing) entry.killTimer = setTimeout(() => this.kill(entry), this.lifetimeMs());
    });
    child.on('exit', (code, signal) => {
      clearTimeout(entry.killTimer);
      if (this.live.get(slot)?.child === child) this.live.delete(slot);
      if (!entry.killed && !this.stopping) {
        this.stats.crashes += 1;
        this.stats.crashReports.push(`${instance} exited (${signal ?? `code ${String(code)}`}): ${stderr.trim() || '(no stderr)'}`);
      }
      if (!this.stopping) this.spawn(slot);
    });
  }

  private kill(entry: { child: ChildProcess; killed: boolean }): void {
    if (!this.killing || entry.killed || entry.child.exitCode !== null) return;
    entry.killed = true;
    entry.child.kill('SIGKILL');
    this.stats.kills += 1;
  }

  /** No more kills (the run is settled); running engines live on until `stop()`. */
  stopKilling(): void {
    this.killing = false;
    for (const entry of this.live.values()) clearTimeout(entry.killTimer);
  }

  get running(): number {
    return [...this.live.values()].filter((e) => e.ready && !e.killed).length;
  }

  /** Graceful stop of every engine (SIGTERM), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopKilling();
    this.stopping = true;
    await Promise.all(
      [...this.live.values()].map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    this.live.clear();
  }
}

async function allPages<T>(read: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

async function unsettledCount(engine: AutomationEngine, upTo: number): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await engine.triggers.list(SOAK_ACCOUNT, { status: NOT_FINAL, limit: Math.min(500, upTo - n), ...(cursor ? { cursor } : {}) });
    n += page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined && n < upTo);
  return n;
}

interface SoakResult {
  kind: SoakStoreKind;
  server: string;
  seedMs: number;
  soakMs: number;
  settled: boolean;
  fleet: EngineFleetStats;
  reconciledAfter: number;
  providerRequests: number;
  providerCounts: ReturnType<ProviderStandIn['counts']>;
  audits: ChannelAudit[];
  auditMs: number;
}

async function soak(kind: SoakStoreKind, opened: OpenedSoakStore, name: string): Promise<SoakResult> {
  const provider = await startProviderStandIn({ rates: RATES, slowMs: SLOW_MS, seed: SEED });
  // This process's engine is never started: it creates the rules, ingests the events and audits.
  const admin = createAutomationEngine({ store: opened.store, channels: soakChannels(provider.url, TUNING), instanceId: 'soak-orchestrator', ...soakEngineOptions(TUNING) });
  let fleet: EngineFleet | undefined;
  try {
    const seedStarted = performance.now();
    for (const rule of soakRules(provider.url)) await admin.rules.create(SOAK_ACCOUNT, rule);
    const at = new Date();
    for (let from = 0; from < SENDS; from += 500) {
      const events = Array.from({ length: Math.min(500, SENDS - from) }, (_, i) => soakEvent(from + i, at));
      const results = await admin.ingestMany(events);
      const refused = results.find((r) => !r.ok);
      if (refused && !refused.ok) throw refused.error;
    }
    const seedMs = performance.now() - seedStarted;
    console.log(`  ${kind}: ${fmt(SENDS)} triggers stored in ${seconds(seedMs)} s; starting ${ENGINES} engines`);

    const started = performance.now();
    fleet = new EngineFleet(ENGINES, { SOAK_STORE: kind, SOAK_STORE_NAME: name, SOAK_PROVIDER_URL: provider.url, SOAK_TUNING: JSON.stringify(TUNING) }, () => between(KILL_MIN, KILL_MAX));
    fleet.start();
    const running = fleet;
    let settled = false;
    let lastProgressAt = performance.now();
    while (performance.now() - started < MAX_MS) {
      await sleep(1_000);
      const now = performance.now();
      const left = await unsettledCount(admin, now - lastProgressAt > 10_000 ? SENDS : 1);
      if (left === 0) {
        settled = true;
        break;
      }
      if (now - lastProgressAt > 10_000) {
        lastProgressAt = now;
        const c = provider.counts();
        console.log(`  ${kind}: ${seconds(now - started)} s, ${fmt(left)} triggers unsettled, ${fmt(provider.received.length)} provider requests (accept ${c.accept}, refuse ${c.refuse}, busy ${c.busy}, timeout ${c.timeout}, drop ${c.drop}), ${running.stats.kills} kills, ${running.running} engines up`);
      }
    }
    const soakMs = performance.now() - started;
    running.stopKilling();
    await running.stop();
    if (!settled) console.log(`  ${kind}: NOT SETTLED after ${seconds(soakMs)} s; auditing what is there. Last engine stderr:\n    ${running.stats.lastStderr.join('\n    ')}`);

    // Intents whose engine was killed and whose trigger another engine finished (a webhook sent again)
    // are reconciled by the next engine start once they are older than the lease; that start is here.
    await sleep(TUNING.leaseMs + 500);
    let reconciledAfter = 0;
    for (let n = await admin.deliveries.reconcile(); n > 0; n = await admin.deliveries.reconcile()) reconciledAfter += n;

    const auditStarted = performance.now();
    const ledger = opened.ledger;
    if (!ledger) throw new Error('no ledger');
    const triggers: Trigger[] = await allPages((cursor) => admin.triggers.list(SOAK_ACCOUNT, { limit: 500, ...(cursor ? { cursor } : {}) }));
    const deliveries: Delivery[] = await allPages((cursor) => ledger.listDeliveries(SOAK_ACCOUNT, { limit: 500, ...(cursor ? { cursor } : {}) }));
    const audits = auditSoak(SENDS, triggers, deliveries, provider.received);
    return {
      kind,
      server: opened.describe(),
      seedMs,
      soakMs,
      settled,
      fleet: running.stats,
      reconciledAfter,
      providerRequests: provider.received.length,
      providerCounts: provider.counts(),
      audits,
      auditMs: performance.now() - auditStarted,
    };
  } finally {
    await fleet?.stop();
    await provider.close();
  }
}

const table = (rows: ReadonlyArray<readonly (string | number)[]>) => rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
const counts = (c: Partial<Record<string, number>>) =>
  Object.entries(c)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([k, n]) => `${k} ${fmt(n ?? 0)}`)
    .join(', ') || '—';

function report(r: SoakResult): string {
  const [webhook, sms] = r.audits as [ChannelAudit, ChannelAudit];
  const settledTriggers = r.audits.reduce((sum, a) => sum + a.expected - a.missing.unsettled - a.missing.noTrigger, 0);
  const lines = [
    `### ${r.kind}: ${r.server}`,
    '',
    `${fmt(SENDS)} sends (${fmt(webhook.expected)} webhook, ${fmt(sms.expected)} SMS), ${ENGINES} engine processes, ${r.fleet.kills} SIGKILLs (each engine ${KILL_MIN / 1000}-${KILL_MAX / 1000} s after it was running), ${r.fleet.starts} engine starts (median start ${fmt(median(r.fleet.startMs))} ms), ${r.fleet.crashes} unplanned exits; ${r.settled ? 'every trigger settled' : '**NOT every trigger settled**'} in **${seconds(r.soakMs)} s** = **${fmt(settledTriggers / (r.soakMs / 1000))} sends settled/s** (${fmt(r.providerRequests / (r.soakMs / 1000))} provider requests/s); seeding ${seconds(r.seedMs)} s, audit ${seconds(r.auditMs)} s.`,
    `Provider: ${fmt(r.providerRequests)} requests (${counts(r.providerCounts)}). Reconciled to \`unknown\`: ${fmt(r.fleet.reconciledAtStart)} at engine starts, ${fmt(r.reconciledAfter)} by a start after the run.`,
    '',
    table([
      ['', 'webhook (receiver dedupes)', 'SMS (no dedupe)'],
      ['---', '---', '---'],
      ['triggers by final status', counts(webhook.triggerStatuses), counts(sms.triggerStatuses)],
      ['failed, why', counts(webhook.failureReasons), counts(sms.failureReasons)],
      ['send per trigger (ledger)', counts(webhook.verdicts), counts(sms.verdicts)],
      ['ledger records by state', `${counts(webhook.ledgerStates)} (${fmt(webhook.ledgerRecords)})`, `${counts(sms.ledgerStates)} (${fmt(sms.ledgerRecords)})`],
      ['provider requests by outcome', counts(webhook.providerRequests), counts(sms.providerRequests)],
      ['messages delivered by the provider', fmt(webhook.providerDelivered), fmt(sms.providerDelivered)],
      ['resends absorbed by the receiver\'s dedupe', fmt(webhook.absorbedByDedupe), '—'],
      ['triggers that failed before any send (no record, nothing at the provider)', fmt(webhook.neverSent), fmt(sms.neverSent)],
      ['**duplicated** (extra copies delivered)', `**${webhook.duplicated}**`, `**${sms.duplicated}**`],
      ['**missing** (accounting failures, all kinds)', `**${accountingFailures(webhook)}**`, `**${accountingFailures(sms)}**`],
      ['missing, by kind', counts(webhook.missing), counts(sms.missing)],
      ['`unknown` held for an operator', fmt(webhook.held.total), fmt(sms.held.total)],
      ['… of which the provider did deliver / did not', `${webhook.held.providerDelivered} / ${webhook.held.providerDidNot}`, `${sms.held.providerDelivered} / ${sms.held.providerDidNot}`],
      ['triggers `failed` though their send is `accepted`', fmt(webhook.failedButAccepted), fmt(sms.failedButAccepted)],
      ['`unknown` records whose resend (same key) was accepted', fmt(webhook.supersededUnknown), '—'],
      ['`unknown` records whose trigger\'s history has the acceptance', fmt(webhook.unknownButHistorySaysSent), fmt(sms.unknownButHistorySaysSent)],
    ]),
  ];
  for (const crash of r.fleet.crashReports) lines.push('', `Unplanned exit: ${crash}`);
  const examples = r.audits.flatMap((a) => Object.entries(a.examples).map(([kind, refs]) => `- ${a.channel} ${kind}, e.g. ${refs.join('; ')}`));
  if (examples.length > 0) lines.push('', ...examples);
  return lines.join('\n');
}

async function main(): Promise<void> {
  console.log(`# Delivery soak (${machine()}, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  if (TUNING.smsClaimsDedupe) console.log('CONTROL RUN: the SMS gateway claims to deduplicate; duplicated SMS are expected');
  console.log(`rates: refuse ${RATES.refuse}, busy ${RATES.busy}, timeout ${RATES.timeout} (answer after ${SLOW_MS} ms), drop ${RATES.drop}; engine sendTimeoutMs ${TUNING.sendTimeoutMs}, leaseMs ${TUNING.leaseMs}, concurrency ${TUNING.concurrency}, batch ${TUNING.batchSize}, poll ${TUNING.pollIntervalMs} ms; seed ${SEED}`);
  let failed = false;
  for (const kind of STORES) {
    const name = `bench_soak_${randomBytes(4).toString('hex')}`;
    const opened = await openSoakStore(kind, name);
    try {
      if (!opened.ledger) {
        console.log(`\n### ${kind}: skipped — the ${kind} store keeps no delivery ledger yet`);
        continue;
      }
      await opened.prepare();
      const result = await soak(kind, opened, name);
      console.log(`\n${report(result)}\n`);
      if (!result.settled || result.audits.some((a) => accountingFailures(a) > 0 || a.duplicated > 0)) failed = true;
    } finally {
      if (!args.keep) await opened.drop().catch((error: unknown) => console.log(`  could not drop ${name}: ${String(error)}`));
      await opened.close();
    }
  }
  // A soak that lost or doubled a send says so in its exit code, for whoever runs it in a loop.
  if (failed) process.exitCode = 1;
}

await main();
