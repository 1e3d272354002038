/**
 * In-memory throughput of the two hot paths, with 10,000 rules over 100 accounts and no-op gateways:
 *  - intake: events/s through validation, indexed rule lookup and trigger storage;
 *  - fire path: triggers/s through claim, rule read, json-rules-engine evaluation, rendering and dispatch.
 * Run: npm run bench  (single Node process = one core). Prints medians of several rounds.
 */
import { cpus } from 'node:os';
import { createAutomationEngine, createManualClock, createMemoryStore, type ChannelGateway, type RuleInput } from '@crm-automation/core';
import { fmt, machine, median } from './stats.js';

const ACCOUNTS = 100;
const RULES_PER_ACCOUNT = 100;
const EVENT_NAMES = 20; // 5 rules per (account, event name)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const EVENTS_PER_ROUND = Number(process.env['BENCH_EVENTS'] ?? 20_000);

const noop: ChannelGateway = { send: async () => undefined };

function ruleFor(i: number): RuleInput {
  return {
    name: `rule ${i}`,
    trigger: { eventName: `job.event${i % EVENT_NAMES}` },
    delay: { value: 0, unit: 'minutes' as const },
    conditions: {
      all: [
        { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
        { fact: 'job', path: '$.total', operator: 'greaterThanInclusive', value: i % 3 === 0 ? 10_000 : 100 },
        { fact: 'job', path: '$.assignedTechnician.phone', operator: 'notEqual', value: null },
      ],
    },
    actions: [
      {
        type: 'sms',
        params: {
          recipient: { source: 'fact' as const, fact: 'job', path: '$.assignedTechnician.phone' },
          message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} for {{job.client.name}} has been completed.',
        },
      },
    ],
  };
}

const payload = (n: number) => ({
  job: {
    id: `job_${n}`,
    number: `J-${n}`,
    status: 'Done',
    total: 2500,
    client: { name: 'John Smith', type: 'Commercial' },
    assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' },
  },
});

async function setup() {
  const clock = createManualClock('2026-01-01T00:00:00Z');
  const store = createMemoryStore();
  const engine = createAutomationEngine({ store, clock, channels: { sms: noop }, batchSize: 500, concurrency: 64 });
  for (let a = 0; a < ACCOUNTS; a++) {
    for (let r = 0; r < RULES_PER_ACCOUNT; r++) await engine.rules.create(`acc_${a}`, ruleFor(r));
  }
  return { engine, store };
}

async function round() {
  const { engine, store } = await setup();
  const events = Array.from({ length: EVENTS_PER_ROUND }, (_, n) => ({
    name: `job.event${n % EVENT_NAMES}`,
    accountId: `acc_${n % ACCOUNTS}`,
    payload: payload(n),
    id: `evt_${n}`,
  }));
  let start = performance.now();
  for (const event of events) await engine.ingest(event);
  const intakeMs = performance.now() - start;
  const triggers = store.size.triggers;

  start = performance.now();
  const counts = await engine.runDue();
  const fireMs = performance.now() - start;
  if (counts.claimed !== triggers) throw new Error(`claimed ${counts.claimed} of ${triggers}`);
  return { eventsPerSec: (events.length / intakeMs) * 1000, triggersStoredPerSec: (triggers / intakeMs) * 1000, firePerSec: (counts.claimed / fireMs) * 1000, triggers, counts };
}

const results = [];
await round(); // warm-up: JIT and caches
for (let i = 0; i < ROUNDS; i++) results.push(await round());

const intake = median(results.map((r) => r.eventsPerSec));
const stored = median(results.map((r) => r.triggersStoredPerSec));
const fire = median(results.map((r) => r.firePerSec));
const last = results.at(-1);
console.log(`machine: ${machine()}, ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores; one used)`);
console.log(`rules: ${ACCOUNTS * RULES_PER_ACCOUNT} over ${ACCOUNTS} accounts; ${EVENTS_PER_ROUND} events per round -> ${last?.triggers} triggers; ${ROUNDS} rounds after a warm-up`);
console.log(`fire outcomes per round: ${JSON.stringify(last?.counts)}`);
console.log(`intake:    median ${fmt(intake)} events/s (${fmt(stored)} triggers stored/s)   target >= 50,000 events/s`);
console.log(`fire path: median ${fmt(fire)} triggers/s (claim + evaluate + render + dispatch)   target >= 20,000 triggers/s`);
