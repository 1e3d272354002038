/**
 * What tracing costs on the engine's hot paths (in memory, no-op gateways), to back "off by default,
 * no cost when off":
 *  - no tracer: the engine's default (core's `noopTracer`, nothing allocated per span), and the same
 *    `noopTracer` passed explicitly, whose difference from the default shows the noise of the run;
 *  - OTel API, no SDK: `createOtelTracer()` where no OpenTelemetry SDK is registered (the OTel API
 *    hands out non-recording spans): tracing "wired but off";
 *  - OTel SDK, sampled: a `BasicTracerProvider` recording every span into an exporter that drops them,
 *    i.e. the cost of tracing on, before any export.
 * Variants run interleaved, round by round, so machine noise spreads over all of them.
 * Run: npx tsx --conditions=source bench/src/tracing-overhead.bench.ts  (BENCH_ROUNDS, BENCH_EVENTS)
 */
import { cpus } from 'node:os';
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createAutomationEngine, createManualClock, createMemoryStore, noopTracer, type ChannelGateway, type Tracer, type RuleInput } from '@crm-automation/core';
import { createOtelTracer } from '@crm-automation/otel';
import { fmt, machine, median } from './stats.js';

const ACCOUNTS = 100;
const RULES_PER_ACCOUNT = 5;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const EVENTS_PER_ROUND = Number(process.env['BENCH_EVENTS'] ?? 4_000); // x5 rules = 20,000 triggers

const noop: ChannelGateway = { name: 'noop', send: async () => undefined };

/** Drops every span: measures recording, not exporting. */
const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};

const variants: Array<{ name: string; tracer: () => Tracer | undefined }> = [
  { name: 'no tracer (default)', tracer: () => undefined },
  // The same object the default uses, passed explicitly: its spread against the default is the noise floor.
  { name: "core's noopTracer, explicit", tracer: () => noopTracer },
  { name: 'OTel API, no SDK registered', tracer: () => createOtelTracer() },
  {
    name: 'OTel SDK, every span sampled',
    tracer: () => createOtelTracer({ tracer: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] }).getTracer('bench') }),
  },
];

const rule = (i: number): RuleInput => ({
  name: `rule ${i}`,
  trigger: { eventName: 'job.status.changed' },
  delay: { value: 0, unit: 'minutes' as const },
  conditions: {
    all: [
      { fact: 'job', path: '$.status', operator: 'equal', value: 'Done' },
      { fact: 'job', path: '$.assignedTechnician.phone', operator: 'notEqual', value: null },
    ],
  },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact' as const, fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}}, job #{{job.number}} is done.' } }],
});

async function round(tracer: Tracer | undefined) {
  const store = createMemoryStore();
  const engine = createAutomationEngine({ store, clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms: noop }, batchSize: 500, concurrency: 64, ...(tracer ? { tracer } : {}) });
  for (let a = 0; a < ACCOUNTS; a++) for (let r = 0; r < RULES_PER_ACCOUNT; r++) await engine.rules.create(`acc_${a}`, rule(r));
  const events = Array.from({ length: EVENTS_PER_ROUND }, (_, n) => ({
    id: `evt_${n}`,
    name: 'job.status.changed',
    accountId: `acc_${n % ACCOUNTS}`,
    payload: { job: { number: `J-${n}`, status: 'Done', assignedTechnician: { name: 'Jane Doe', phone: '+15557654321' } } },
  }));
  let start = performance.now();
  for (const event of events) await engine.ingest(event);
  const intakeMs = performance.now() - start;
  start = performance.now();
  const counts = await engine.runDue();
  const fireMs = performance.now() - start;
  if (counts.completed !== EVENTS_PER_ROUND * RULES_PER_ACCOUNT) throw new Error(`completed ${counts.completed}`);
  return { intake: (events.length / intakeMs) * 1000, fire: (counts.claimed / fireMs) * 1000 };
}

const results = new Map(variants.map((v) => [v.name, [] as Array<{ intake: number; fire: number }>]));
for (const variant of variants) await round(variant.tracer()); // warm-up of every code path
for (let i = 0; i < ROUNDS; i++) {
  // Rotate the order so no variant always runs first (after a GC-heavy neighbour).
  for (let j = 0; j < variants.length; j++) {
    const variant = variants[(i + j) % variants.length];
    if (variant) results.get(variant.name)?.push(await round(variant.tracer()));
  }
}

console.log(`machine: ${machine()}, ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores; one used)`);
console.log(`${ACCOUNTS * RULES_PER_ACCOUNT} rules; ${EVENTS_PER_ROUND} events -> ${EVENTS_PER_ROUND * RULES_PER_ACCOUNT} triggers per round; ${ROUNDS} rounds per variant after a warm-up`);
const baseline = results.get(variants[0]?.name ?? '') ?? [];
const baseFire = median(baseline.map((r) => r.fire));
const baseIntake = median(baseline.map((r) => r.intake));
console.log('| Tracer | Fire path, median triggers/s | vs default | Intake, median events/s | vs default |');
console.log('| --- | --- | --- | --- | --- |');
for (const variant of variants) {
  const rows = results.get(variant.name) ?? [];
  const fire = median(rows.map((r) => r.fire));
  const intake = median(rows.map((r) => r.intake));
  const pct = (v: number, base: number) => `${v >= base ? '+' : ''}${(((v - base) / base) * 100).toFixed(1)}%`;
  console.log(`| ${variant.name} | ${fmt(fire)} (${fmt(Math.min(...rows.map((r) => r.fire)))}–${fmt(Math.max(...rows.map((r) => r.fire)))}) | ${pct(fire, baseFire)} | ${fmt(intake)} | ${pct(intake, baseIntake)} |`);
}
