/**
 * Measures the three rule-lookup patterns of the design doc against the real services:
 * 1. lookup latency (p50 / p99) of one `findRulesForEvent`, uncached: REST and gRPC called from here
 *    with the trigger service's own clients; pub/sub as the round trip `rule_lookup_requested` →
 *    `rules_found` over the bus;
 * 2. intake throughput: events/s a trigger service turns into stored triggers, draining a backlog,
 *    with the lookup cache off and on (REST, gRPC; pub/sub has no cache, it carries the rules);
 * 3. the rules service down for a while: how many events are stored during the outage, and how long
 *    after its return the backlog is caught up, with and without stale-if-error answers.
 *
 *   npm run bench -w @crm-automation/example-three-services     (servers: scripts/services.sh up)
 *
 * Reads MONGODB_URI, RABBITMQ_URL / KAFKA_BROKERS, REDIS_URL, TRANSPORT, and BENCH_EVENTS,
 * BENCH_LOOKUPS, BENCH_OUTAGE_EVENTS, BENCH_OUTAGE_MS to size the runs. Bounded: every loop has a
 * count and a deadline, and only 127.0.0.1 is contacted.
 */
import { randomBytes } from 'node:crypto';
import { normalizeEvent, type AutomationEvent, type BusSubscription } from '@crm-automation/core';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { technicianSmsRule } from '../src/design-doc-rules.js';
import { exampleStack, randomSecrets } from '../src/launcher/example-stack.js';
import { freePorts } from '../src/launcher/free-ports.js';
import { openBus } from '../src/runtime/bus-transport.js';
import { CircuitBreaker } from '../src/trigger-service/rule-lookup/circuit-breaker.js';
import { grpcRuleSource } from '../src/trigger-service/rule-lookup/grpc-rule-source.js';
import { restRuleSource } from '../src/trigger-service/rule-lookup/rest-rule-source.js';
import { lookupRequest, parseLookupMessage } from '../src/wire/lookup-messages.js';
import { deleteKafkaNames, deleteRabbitNames, dropDatabases } from '../test/support/cleanup.js';

type Pattern = 'rest' | 'grpc' | 'pubsub';
const PATTERNS: Pattern[] = ['rest', 'grpc', 'pubsub'];
const env = process.env;
const transport = env['TRANSPORT'] === 'kafka' ? 'kafka' : 'rabbitmq';
const MONGODB_URI = env['MONGODB_URI'] ?? 'mongodb://127.0.0.1:27017';
const RABBITMQ_URL = env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const KAFKA_BROKERS = env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const REDIS_URL = env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const EVENTS = Number(env['BENCH_EVENTS'] ?? 1_000);
const LOOKUPS = Number(env['BENCH_LOOKUPS'] ?? 500);
const OUTAGE_EVENTS = Number(env['BENCH_OUTAGE_EVENTS'] ?? 200);
const OUTAGE_MS = Number(env['BENCH_OUTAGE_MS'] ?? 8_000);
const ACCOUNT = 'acc_12345';
const BUS_RETRY_DELAYS_MS = [500, 1_000, 2_000];

const runId = `bench${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const quiet = pino({ level: 'silent' });
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

const [rulesPort, grpcPort, triggerPort, notificationPort, standInsPort, crmPort] = (await freePorts(6)) as [number, number, number, number, number, number];
const secrets = randomSecrets();
const stack = exampleStack({
  transport,
  ruleLookup: 'rest',
  mongodbUri: MONGODB_URI,
  rabbitmqUrl: RABBITMQ_URL,
  kafkaBrokers: KAFKA_BROKERS,
  redisUrl: REDIS_URL,
  busPrefix: runId,
  rulesDb: `${runId}_rules`,
  triggersDb: `${runId}_triggers`,
  redisPrefix: `${runId}:`,
  ports: { rules: rulesPort, grpc: grpcPort, trigger: triggerPort, notification: notificationPort, standIns: standInsPort, crm: crmPort },
  secrets,
  logLevel: 'warn',
  env: { trigger: { BUS_MAX_ATTEMPTS: '1000', BUS_RETRY_DELAYS_MS: BUS_RETRY_DELAYS_MS.join(','), RULES_BREAKER_COOLDOWN_MS: '1000', KAFKA_SESSION_TIMEOUT_MS: '6000' } },
});
const busConfig = { TRANSPORT: transport, RABBITMQ_URL, KAFKA_BROKERS, BUS_PREFIX: runId, KAFKA_SESSION_TIMEOUT_MS: 6_000 } as const;
const mongo = new MongoClient(MONGODB_URI);
type TriggerDoc = { createdAt: Date; triggeringEvent: { id: string } };
/** Every intake run writes to a fresh triggers DB, so one run's triggers do not slow the next's writes. */
const databases = [`${runId}_rules`, `${runId}_triggers`];
let triggers = mongo.db(`${runId}_triggers`).collection<TriggerDoc>('pending_triggers');
const useTriggersDb = (name: string) => {
  if (!databases.includes(name)) databases.push(name);
  triggers = mongo.db(name).collection<TriggerDoc>('pending_triggers');
  return { TRIGGERS_DB_NAME: name };
};
const events = openBus(busConfig, { stream: 'events', logger: quiet, declareGroups: ['trigger-service'] });

const jobEvent = (tag: string, i: number): AutomationEvent => ({
  id: `${tag}-${i}`,
  name: 'job.status.changed',
  accountId: ACCOUNT,
  timestamp: new Date().toISOString(),
  payload: { job: { id: `job_${i}`, number: `J-${i}`, status: 'Done', client: { name: 'John Smith' }, assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
});

async function publishAll(tag: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, k) => events.bus.publish(jobEvent(tag, i + k))));
  }
}

const storedCount = (tag: string) => triggers.countDocuments({ 'triggeringEvent.id': { $regex: `^${tag}-` } });

async function waitStored(tag: string, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await storedCount(tag)) >= count) return true;
    await sleep(200);
  }
  return false;
}

/** Stored triggers per second between the first and the last one of a batch (the store's own clock). */
async function intakeRate(tag: string): Promise<number> {
  const docs = await triggers.find({ 'triggeringEvent.id': { $regex: `^${tag}-` } }, { projection: { createdAt: 1 } }).toArray();
  const times = docs.map((d) => new Date(d.createdAt).getTime()).sort((a, b) => a - b);
  const span = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
  return span > 0 ? (times.length - 1) / span : Number.NaN;
}

async function restartTrigger(pattern: Pattern, extra: Record<string, string>): Promise<void> {
  await stack.trigger.stop();
  stack.trigger.options.env = { ...stack.trigger.options.env, RULE_LOOKUP: pattern, RULES_CACHE_TTL_MS: '2000', RULES_CACHE_STALE_MS: '60000', ...extra };
  await stack.trigger.start();
}

async function lookupLatencies(pattern: Pattern): Promise<number[]> {
  const samples: number[] = [];
  if (pattern === 'pubsub') {
    const lookups = openBus(busConfig, { stream: 'rule-lookups', logger: quiet, declareGroups: ['rules-service'] });
    const updates = openBus(busConfig, { stream: 'rule-updates', logger: quiet });
    const waiting = new Map<string, () => void>();
    const sub: BusSubscription = await updates.bus.subscribe(async (message) => {
      const parsed = parseLookupMessage(message);
      if (parsed.kind === 'found') waiting.get(parsed.event.id)?.();
    }, { group: 'bench-probe' });
    for (let i = 0; i < LOOKUPS + 20; i++) {
      const event = normalizeEvent(jobEvent(`${runId}-probe`, i), new Date());
      const answered = new Promise<void>((resolve) => waiting.set(event.id, resolve));
      const started = performance.now();
      await lookups.bus.publish(lookupRequest(event));
      await Promise.race([answered, sleep(10_000)]);
      if (i >= 20) samples.push(performance.now() - started); // the first ones warm up connections
    }
    await sub.stop();
    await Promise.all([lookups.close(), updates.close()]);
    return samples;
  }
  const breaker = new CircuitBreaker({ failureThreshold: 1_000, cooldownMs: 1_000 });
  const common = { token: secrets.rulesServiceToken, timeoutMs: 5_000, retries: 0, breaker };
  const source = pattern === 'rest' ? restRuleSource({ baseUrl: stack.urls.rules, ...common }) : grpcRuleSource({ address: `127.0.0.1:${grpcPort}`, ...common });
  for (let i = 0; i < LOOKUPS + 20; i++) {
    const started = performance.now();
    const rules = await source.findRulesForEvent(ACCOUNT, 'job.status.changed');
    if (rules.length !== 1) throw new Error(`expected the one rule, got ${rules.length}`);
    if (i >= 20) samples.push(performance.now() - started);
  }
  if ('close' in source && typeof source.close === 'function') source.close();
  return samples;
}

interface Row {
  pattern: Pattern;
  p50: number;
  p99: number;
  uncached: number;
  cached: number;
  outage: Array<{ mode: string; during: number; catchUpS: number | null }>;
}

const rows: Row[] = [];
try {
  log(`run ${runId} on ${transport}: ${LOOKUPS} lookups, ${EVENTS} events per intake run, ${OUTAGE_EVENTS} events in a ${OUTAGE_MS} ms outage`);
  await stack.standIns.start();
  await stack.rules.start();
  // A long delay: triggers stay pending, so only intake is measured.
  const rule = await fetch(`${stack.urls.rules}/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secrets.devApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(technicianSmsRule({ smsDelay: { value: 1, unit: 'days' } })),
  });
  if (rule.status !== 201) throw new Error(`creating the rule answered ${rule.status}`);
  await stack.trigger.start();

  for (const pattern of PATTERNS) {
    const samples = (await lookupLatencies(pattern)).sort((a, b) => a - b);
    log(`${pattern}: lookup p50 ${ms(percentile(samples, 50))} ms, p99 ${ms(percentile(samples, 99))} ms`);

    const rates: number[] = [];
    for (const cacheTtl of pattern === 'pubsub' ? ['0'] : ['0', '2000']) {
      const tag = `${runId}-${pattern}-ttl${cacheTtl}`;
      await stack.trigger.stop();
      await publishAll(tag, EVENTS); // a backlog, drained when the trigger service starts
      await restartTrigger(pattern, { RULES_CACHE_TTL_MS: cacheTtl, ...useTriggersDb(`${runId}_in_${pattern}_${cacheTtl}`) });
      if (!(await waitStored(tag, EVENTS, 180_000))) throw new Error(`${pattern}: intake did not finish`);
      rates.push(await intakeRate(tag));
      log(`${pattern}: intake ${rates.at(-1)?.toFixed(0)} events/s (cache ttl ${cacheTtl} ms)`);
    }

    const outage: Row['outage'] = [];
    // REST and gRPC: with the default cache and stale-if-error, and with no cache at all.
    const modes = pattern === 'pubsub' ? [{ ttl: '0', stale: '0' }] : [{ ttl: '2000', stale: '60000' }, { ttl: '0', stale: '0' }];
    for (const { ttl, stale } of modes) {
      const tag = `${runId}-${pattern}-down-stale${stale}`;
      await restartTrigger(pattern, { RULES_CACHE_TTL_MS: ttl, RULES_CACHE_STALE_MS: stale, ...useTriggersDb(`${runId}_triggers`) });
      // One lookup first, so the REST / gRPC cache holds the rule as it would in steady traffic.
      const warm = `${runId}-${pattern}-warm${stale}`;
      await publishAll(warm, 1);
      await waitStored(warm, 1, 30_000);
      await stack.rules.stop();
      const downAt = Date.now();
      // Past the cache's TTL: what is served now is stale, or nothing.
      await sleep(2_500);
      await publishAll(tag, OUTAGE_EVENTS);
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      const during = await storedCount(tag);
      await stack.rules.start();
      const backAt = Date.now();
      const caughtUp = await waitStored(tag, OUTAGE_EVENTS, 180_000);
      const catchUpS = caughtUp ? (during === OUTAGE_EVENTS ? 0 : (Date.now() - backAt) / 1000) : null;
      const mode = pattern === 'pubsub' ? 'requests wait in the bus' : stale === '0' ? 'no cache' : '2 s cache, stale-if-error 60 s';
      outage.push({ mode, during, catchUpS });
      log(`${pattern} (${mode}): ${during}/${OUTAGE_EVENTS} stored during the outage, caught up ${catchUpS === null ? 'never (3 min)' : `${catchUpS.toFixed(1)} s`} after it`);
    }
    rows.push({ pattern, p50: percentile(samples, 50), p99: percentile(samples, 99), uncached: rates[0] ?? Number.NaN, cached: rates[1] ?? rates[0] ?? Number.NaN, outage });
  }

  const lines = [
    `Transport ${transport}, ${LOOKUPS} lookups, ${EVENTS}-event backlogs, ${OUTAGE_EVENTS} events during an ${OUTAGE_MS / 1000} s rules service outage`,
    '',
    '| Pattern | Lookup p50 | Lookup p99 | Intake, no cache | Intake, 2 s cache | Rules service down | Stored during outage | Caught up after return |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.flatMap((r) =>
      r.outage.map((o, i) =>
        i === 0
          ? `| ${r.pattern} | ${ms(r.p50)} ms | ${ms(r.p99)} ms | ${r.uncached.toFixed(0)} ev/s | ${r.pattern === 'pubsub' ? 'n/a' : `${r.cached.toFixed(0)} ev/s`} | ${o.mode} | ${o.during}/${OUTAGE_EVENTS} | ${o.catchUpS === null ? 'not within 3 min' : `${o.catchUpS.toFixed(1)} s`} |`
          : `| | | | | | ${o.mode} | ${o.during}/${OUTAGE_EVENTS} | ${o.catchUpS === null ? 'not within 3 min' : `${o.catchUpS.toFixed(1)} s`} |`,
      ),
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await stack.stopAll().catch(() => {});
  await events.close().catch(() => {});
  await mongo.close().catch(() => {});
  await dropDatabases(MONGODB_URI, databases).catch(() => {});
  if (transport === 'rabbitmq') await deleteRabbitNames(RABBITMQ_URL, runId, BUS_RETRY_DELAYS_MS, { 'rule-updates': ['bench-probe'] }).catch(() => {});
  else await deleteKafkaNames(KAFKA_BROKERS, runId, { 'rule-updates': ['bench-probe'] }).catch(() => {});
}
