/**
 * Event buses end to end: events/s from `bus.publish()` to triggers stored by an engine's intake,
 * through RabbitMQ and Kafka (and the in-process memory bus as a baseline), with the memory store and
 * with the Mongo store. Needs the servers of `scripts/services.sh up rabbitmq kafka mongo`; a row
 * whose server variable (RABBITMQ_URL, KAFKA_BROKERS, MONGODB_URI) is unset is skipped with a note.
 *
 * Run: npx tsx --conditions=source bench/src/bus-throughput.bench.ts
 * (BENCH_ROUNDS, BENCH_BUS_EVENTS, BENCH_BUS_MONGO_EVENTS, BENCH_BUS_IN_FLIGHT override the sizes.)
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { createAutomationEngine, createMemoryBus, createMemoryStore, type AutomationStore, type EventBus, type RuleInput } from '@crm-automation/core';
import { createKafkaBus } from '@crm-automation/adapter-kafka';
import { createRabbitBus } from '@crm-automation/adapter-rabbitmq';
import { fmt, machine, median } from './stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const EVENTS = Number(process.env['BENCH_BUS_EVENTS'] ?? 10_000);
const MONGO_EVENTS = Number(process.env['BENCH_BUS_MONGO_EVENTS'] ?? 2_000);
const IN_FLIGHT = Number(process.env['BENCH_BUS_IN_FLIGHT'] ?? 500);
const ACCOUNTS = 20;

const env = (name: string) => process.env[name] ?? '';

const rule = {
  name: 'bench rule',
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 1, unit: 'days' as const },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [{ type: 'sms', params: { recipient: '+15550000000', message: 'Job {{job.number}} is done' } }],
} satisfies RuleInput;

interface Subject {
  bus: EventBus;
  /** Deletes what the bus declared (queues, topics); runs after the bus is closed. */
  cleanup: () => Promise<void>;
}

type BusKind = 'memory' | 'rabbitmq' | 'kafka';
type StoreKind = 'memory' | 'mongo';

async function openBus(kind: BusKind): Promise<Subject> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  if (kind === 'memory') return { bus: createMemoryBus(), cleanup: async () => {} };
  if (kind === 'rabbitmq') {
    const url = env('RABBITMQ_URL');
    const bus = createRabbitBus({ url, exchange: name, queuePrefix: name, prefetch: 64 });
    return {
      bus,
      cleanup: async () => {
        const { connect } = await import('amqplib');
        const model = await connect(url);
        const channel = await model.createChannel();
        const main = `${name}.intake`;
        for (const queue of [main, `${main}.dead-letter`, ...[1_000, 5_000, 30_000, 120_000].map((d) => `${main}.retry.${d}ms`)]) await channel.deleteQueue(queue);
        await channel.deleteExchange(name);
        await model.close();
      },
    };
  }
  const brokers = env('KAFKA_BROKERS');
  const bus = createKafkaBus({ brokers, topic: name });
  return {
    bus,
    cleanup: async () => {
      const { Kafka, logLevel } = await import('kafkajs');
      const admin = new Kafka({ clientId: 'bench-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteGroups(['intake', 'intake.retry']).catch(() => []);
      await admin.deleteTopics({ topics: [name, `${name}.retry`, `${name}.dead-letter`] }).catch(() => {});
      await admin.disconnect();
    },
  };
}

async function openStore(kind: StoreKind): Promise<{ store: AutomationStore; close: () => Promise<void> } | string> {
  if (kind === 'memory') return { store: createMemoryStore(), close: async () => {} };
  if (!env('MONGODB_URI')) return 'MONGODB_URI is not set';
  let mongo: typeof import('@crm-automation/adapter-mongo');
  try {
    mongo = await import('@crm-automation/adapter-mongo');
  } catch {
    return '@crm-automation/adapter-mongo is not available';
  }
  const store = mongo.createMongoStore({ uri: env('MONGODB_URI'), dbName: `bench_bus_${randomUUID().slice(0, 8)}` });
  return {
    store,
    close: async () => {
      await store.db.dropDatabase().catch(() => {});
      await store.close();
    },
  };
}

interface Round {
  /** Events/s from the first publish until every event's trigger was stored. */
  endToEnd: number;
  /** Events/s from the first publish until the last publish was confirmed by the broker. */
  published: number;
}

/** Publishes `count` events (IN_FLIGHT at a time) and waits until intake stored every trigger. */
async function round(bus: EventBus, ingested: { count: number }, count: number, tag: string): Promise<Round> {
  const target = ingested.count + count;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next;
      next += 1;
      await bus.publish({ id: `${tag}-${i}`, name: 'job.status.changed', accountId: `acc_${i % ACCOUNTS}`, payload: { job: { number: `J-${i}`, status: 'Done' } } });
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, worker));
  const publishedAt = performance.now();
  while (ingested.count < target) await new Promise((resolve) => setTimeout(resolve, 5));
  const done = performance.now();
  return { endToEnd: (count / (done - started)) * 1_000, published: (count / (publishedAt - started)) * 1_000 };
}

async function measure(busKind: BusKind, storeKind: StoreKind): Promise<{ row: string[]; note?: string }> {
  const label = [busKind === 'memory' ? 'memory bus (in-process)' : busKind === 'rabbitmq' ? 'RabbitMQ' : 'Kafka', `${storeKind} store`];
  const need = busKind === 'rabbitmq' ? 'RABBITMQ_URL' : busKind === 'kafka' ? 'KAFKA_BROKERS' : undefined;
  if (need && !env(need)) return { row: [...label, 'skipped', '', ''], note: `${need} is not set` };
  const opened = await openStore(storeKind);
  if (typeof opened === 'string') return { row: [...label, 'skipped', '', ''], note: opened };
  const subject = await openBus(busKind);
  const engine = createAutomationEngine({ store: opened.store, bus: subject.bus, group: 'intake', pollIntervalMs: 60_000 });
  const ingested = { count: 0 };
  engine.on('event:ingested', () => {
    ingested.count += 1;
  });
  try {
    for (let a = 0; a < ACCOUNTS; a += 1) await engine.rules.create(`acc_${a}`, rule);
    await engine.start();
    const count = storeKind === 'mongo' ? MONGO_EVENTS : EVENTS;
    await round(subject.bus, ingested, Math.min(500, count), `warm-${randomUUID()}`);
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r += 1) rounds.push(await round(subject.bus, ingested, count, `r${r}-${randomUUID()}`));
    const e2e = rounds.map((x) => x.endToEnd);
    return {
      row: [...label, `**${fmt(median(e2e))}**`, `${fmt(Math.min(...e2e))}–${fmt(Math.max(...e2e))}`, fmt(median(rounds.map((x) => x.published)))],
    };
  } finally {
    await engine.stop();
    await subject.bus.close();
    await subject.cleanup().catch(() => {});
    await opened.close();
  }
}

const table: string[][] = [];
const notes: string[] = [];
for (const storeKind of ['memory', 'mongo'] as const) {
  for (const busKind of ['memory', 'rabbitmq', 'kafka'] as const) {
    process.stderr.write(`measuring ${busKind} bus + ${storeKind} store...\n`);
    const { row, note } = await measure(busKind, storeKind);
    table.push(row);
    if (note) notes.push(`${row[0]} + ${row[1]}: ${note}`);
  }
}

console.log(`\n${machine()}, ${cpus().length} vCPUs (${cpus()[0]?.model ?? 'unknown'}); ${ROUNDS} rounds of ${fmt(EVENTS)} events (Mongo store: ${fmt(MONGO_EVENTS)}), ${IN_FLIGHT} publishes in flight, ${ACCOUNTS} accounts, 1 matching rule each\n`);
console.log('| Bus | Store | Publish → stored trigger, median events/s | Range | Publishes confirmed/s (median) |');
console.log('| --- | --- | --- | --- | --- |');
for (const row of table) console.log(`| ${row.join(' | ')} |`);
for (const note of notes) console.log(`\nSkipped ${note}`);
