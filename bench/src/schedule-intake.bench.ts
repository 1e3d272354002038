/**
 * Schedule intake benchmark (issue 17), not a test: intake events/s of rules with a `schedule` (a date
 * in the payload, a calendar offset, a local `at`, the client's zone from the payload, a business-hours
 * `window`) against the same number of rules with a plain `delay`, in one run, in alternating rounds,
 * on the memory store and PostgreSQL. The events carry appointments in several zones (both halves of
 * the world, a half-hour offset), so every trigger goes through the zone arithmetic. Each mode runs
 * unkeyed and keyed (`trigger.key: '$.appointment.id'`, `supersede`; for the schedule rules that is
 * the reschedule path: every second event moves its appointment).
 *
 *   npm run bench:schedule -w @crm-automation/bench
 *
 * Server: POSTGRES_URL (default the cluster of `scripts/services.sh up postgres`, 127.0.0.1:5433).
 * BENCH_SCHEDULE_STORES=memory,postgres picks the stores, BENCH_SCHEDULE_MODES (default
 * delay,schedule,delay-keyed,schedule-keyed) the modes; BENCH_SCHEDULE_RULES (rules per mode,
 * default 5), BENCH_SCHEDULE_ROUNDS (measured rounds per mode, default 9), BENCH_SCHEDULE_EVENTS_MEMORY
 * / _POSTGRES (events per round, default 3,000 / 1,000) size it.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import {
  computeDueTime,
  createAutomationEngine,
  createMemoryStore,
  type AutomationEngine,
  type AutomationStore,
  type ChannelGateway,
  type IntakeSummary,
  type RuleInput,
  type AutomationEvent,
  type RuleSchedule,
} from '@crm-automation/core';
import { createPostgresStore, type PostgresStore } from '@crm-automation/adapter-postgres';
import { fmt, machine, median } from './stats.js';

const POSTGRES_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5433/crm_automation';
const STORES = (process.env['BENCH_SCHEDULE_STORES'] ?? 'memory,postgres').split(',').map((s) => s.trim());
const RULES = Number(process.env['BENCH_SCHEDULE_RULES'] ?? 5);
const ROUNDS = Number(process.env['BENCH_SCHEDULE_ROUNDS'] ?? 9);
const EVENTS: Record<string, number> = {
  memory: Number(process.env['BENCH_SCHEDULE_EVENTS_MEMORY'] ?? 3_000),
  postgres: Number(process.env['BENCH_SCHEDULE_EVENTS_POSTGRES'] ?? 1_000),
};
/** Ingests in flight, as a bus consumer with prefetch runs them. */
const IN_FLIGHT = 32;
/** Keyed rounds: events per appointment (booked, then moved once). */
const EVENTS_PER_APPOINTMENT = 2;

/** Recipients' zones across the events: DST in both hemispheres, none, and half-hour offsets. */
const ZONES = ['America/New_York', 'America/Chicago', 'America/Los_Angeles', 'Europe/London', 'Europe/Berlin', 'Australia/Sydney', 'Asia/Kolkata', 'Asia/Tokyo'] as const;

type Mode = 'delay' | 'schedule' | 'delay-keyed' | 'schedule-keyed';
const ALL_MODES: readonly Mode[] = ['delay', 'schedule', 'delay-keyed', 'schedule-keyed'];
/** BENCH_SCHEDULE_MODES narrows the run (one mode alone under `--cpu-prof`, say); ratios need both of a pair. */
const MODES: readonly Mode[] = process.env['BENCH_SCHEDULE_MODES'] ? ALL_MODES.filter((m) => (process.env['BENCH_SCHEDULE_MODES'] ?? '').split(',').includes(m)) : ALL_MODES;
/** One account per mode: each event matches exactly its mode's rules. */
const ACCOUNT: Record<Mode, string> = { delay: 'acc_delay', schedule: 'acc_schedule', 'delay-keyed': 'acc_delay_keyed', 'schedule-keyed': 'acc_schedule_keyed' };
const isKeyed = (mode: Mode) => mode.endsWith('-keyed');
const isScheduled = (mode: Mode) => mode.startsWith('schedule');

/**
 * Rule `n` of a schedule mode: n+1 days before the appointment, at a different hour, inside weekday
 * business hours (due times on a weekend move to Monday), zone from the payload.
 */
const scheduleFor = (n: number): RuleSchedule => ({
  anchor: '$.appointment.startsAt',
  offset: { value: -(n + 1), unit: 'days' },
  at: `${String(8 + (n % 9)).padStart(2, '0')}:30`,
  timeZone: '$.client.timeZone',
  fallbackTimeZone: 'UTC',
  window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' },
});

/** The demo's reminder SMS; a delay of days keeps the claim loop out of the measurement, as the schedule does. */
const ruleFor = (mode: Mode, n: number): RuleInput => ({
  name: `bench ${mode} ${n}`,
  trigger: isKeyed(mode) ? { eventName: 'appointment.scheduled', key: '$.appointment.id' } : { eventName: 'appointment.scheduled' },
  ...(isKeyed(mode) ? { concurrency: { mode: 'supersede' as const } } : {}),
  ...(isScheduled(mode) ? { schedule: scheduleFor(n) } : { delay: { value: n + 1, unit: 'days' as const } }),
  conditions: { all: [{ fact: 'client', path: '$.phone', operator: 'present', value: true }] },
  actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'client', path: '$.phone' }, message: 'Hi {{client.name}}, see you on {{appointment.startsAt}}' } }],
});

const noopGateway: ChannelGateway = { name: 'noop', send: async () => ({ id: 'ok' }) };

type Event = AutomationEvent & { timestamp: Date; payload: Record<string, unknown> };

/**
 * Events of one round, the same payloads for every mode: appointments 10 to 40 days ahead at varied
 * minutes, written with a UTC `Z` or a numeric offset, clients in `ZONES` in turn. Keyed rounds book
 * each appointment, then move it (a later event, a later start).
 */
function roundEvents(mode: Mode, round: string, events: number): Event[] {
  const perAppointment = isKeyed(mode) ? EVENTS_PER_APPOINTMENT : 1;
  const appointments = Math.max(1, Math.floor(events / perAppointment));
  const now = Date.now();
  return Array.from({ length: events }, (_, i) => {
    const a = i % appointments;
    const move = Math.floor(i / appointments);
    const startsAt = new Date(now + (10 + (a % 30)) * 86_400_000 + (a % 600) * 60_000 + move * 86_400_000);
    const iso = a % 2 ? startsAt.toISOString() : `${startsAt.toISOString().slice(0, 19)}-05:00`;
    return {
      id: `${round}-${mode}-${i}`,
      name: 'appointment.scheduled',
      accountId: ACCOUNT[mode],
      timestamp: new Date(now - 60_000 + i),
      payload: {
        appointment: { id: `appt_${round}_${a}`, startsAt: iso },
        client: { name: 'Maria Garcia', phone: '+15553217654', timeZone: ZONES[a % ZONES.length] },
      },
    };
  });
}

interface Outcomes {
  created: number;
  superseded: number;
  rescheduled: number;
  skipped: number;
}

/**
 * Ingests the events `IN_FLIGHT` at a time; resolves with events/s, the process's CPU time per event
 * (user + system: on a shared machine it moves less than the wall clock when other work takes the
 * cores), and what intake did.
 */
async function ingestAll(engine: AutomationEngine, events: readonly Event[]): Promise<{ perSecond: number; cpuMicrosPerEvent: number; outcomes: Outcomes }> {
  const outcomes: Outcomes = { created: 0, superseded: 0, rescheduled: 0, skipped: 0 };
  const onIngested = ({ summary }: { summary: IntakeSummary }) => {
    outcomes.created += summary.created;
    outcomes.superseded += summary.superseded;
    outcomes.rescheduled += summary.rescheduled;
    outcomes.skipped += summary.skipped;
  };
  engine.on('event:ingested', onIngested);
  let next = 0;
  const cpuBefore = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpuBefore);
  engine.off('event:ingested', onIngested);
  return { perSecond: events.length / seconds, cpuMicrosPerEvent: (cpu.user + cpu.system) / events.length, outcomes };
}

interface Subject {
  name: string;
  events: number;
  engine: AutomationEngine;
  dispose(): Promise<void>;
}

async function withRules(name: string, events: number, store: AutomationStore, dispose: () => Promise<void>): Promise<Subject> {
  const engine = createAutomationEngine({ store, channels: { sms: noopGateway }, instanceId: `bench-schedule-${name}` });
  for (const mode of MODES) for (let n = 0; n < RULES; n++) await engine.rules.create(ACCOUNT[mode], ruleFor(mode, n));
  return { name, events, engine, dispose };
}

async function memorySubject(): Promise<Subject> {
  return withRules('memory', EVENTS['memory'] ?? 3_000, createMemoryStore(), async () => {});
}

async function postgresSubject(): Promise<Subject> {
  const schema = `bench_schedule_${randomBytes(3).toString('hex')}`;
  const store: PostgresStore = createPostgresStore({ connectionString: POSTGRES_URL, schema });
  try {
    await store.ensureSchema();
  } catch (error) {
    await store.close();
    throw error;
  }
  return withRules('postgres', EVENTS['postgres'] ?? 1_000, store, async () => {
    await store.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store.close();
  });
}

const OPEN: Record<string, () => Promise<Subject>> = { memory: memorySubject, postgres: postgresSubject };

/** computeDueTime alone, on the same payloads: the zone arithmetic's own cost per trigger. */
function dueTimesPerSecond(): number {
  const events = roundEvents('schedule', 'calc', 20_000);
  const schedules = Array.from({ length: RULES }, (_, n) => scheduleFor(n));
  const now = new Date();
  let computed = 0;
  const started = performance.now();
  for (const event of events) {
    const input = { timestamp: new Date(event.timestamp), payload: event.payload };
    for (const schedule of schedules) if (computeDueTime(schedule, input, now).ok) computed++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (computed !== events.length * schedules.length) throw new Error(`computeDueTime skipped ${events.length * schedules.length - computed} of the bench's due times`);
  return computed / seconds;
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`schedule intake benchmark: ${machine()}, ${cpus().length} × ${cpu}; ${RULES} rules per mode, ${ROUNDS} measured rounds per mode in rotating order, ${IN_FLIGHT} ingests in flight, ${ZONES.length} zones across the events`);
console.log(`load average (1/5/15 min) at start: ${load()}\n`);

// Warm-up of the due-time calculation, then its rate: what a trigger's zone arithmetic costs by itself.
dueTimesPerSecond();
const dueRates = [dueTimesPerSecond(), dueTimesPerSecond(), dueTimesPerSecond()];
console.log(`computeDueTime alone (offset + at + payload zone + window): median ${fmt(median(dueRates))} due times/s (${(1e6 / median(dueRates)).toFixed(2)} µs each)   rounds ${dueRates.map(fmt).join(', ')}\n`);

for (const name of STORES) {
  const open = OPEN[name];
  if (!open) throw new Error(`unknown store ${name} (memory, postgres)`);
  let subject: Subject;
  try {
    subject = await open();
  } catch (error) {
    console.log(`${name}: not measured (${error instanceof Error ? error.message : String(error)})\n`);
    continue;
  }
  try {
    const rates: Record<Mode, number[]> = { delay: [], schedule: [], 'delay-keyed': [], 'schedule-keyed': [] };
    const cpuPerEvent: Record<Mode, number[]> = { delay: [], schedule: [], 'delay-keyed': [], 'schedule-keyed': [] };
    const none = (): Outcomes => ({ created: 0, superseded: 0, rescheduled: 0, skipped: 0 });
    const totals: Record<Mode, Outcomes> = { delay: none(), schedule: none(), 'delay-keyed': none(), 'schedule-keyed': none() };
    // Warm-up: one round of each, not counted.
    for (const mode of MODES) await ingestAll(subject.engine, roundEvents(mode, 'warm', Math.min(subject.events, 400)));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating: no mode always runs first (the store grows; the machine's load drifts).
      const order = [...MODES.slice(round % MODES.length), ...MODES.slice(0, round % MODES.length)];
      for (const mode of order) {
        const { perSecond, cpuMicrosPerEvent, outcomes } = await ingestAll(subject.engine, roundEvents(mode, `r${round}`, subject.events));
        rates[mode].push(perSecond);
        cpuPerEvent[mode].push(cpuMicrosPerEvent);
        for (const k of Object.keys(outcomes) as Array<keyof Outcomes>) totals[mode][k] += outcomes[k];
      }
    }
    console.log(`${name}: ${subject.events.toLocaleString('en-US')} events per round, ${RULES} triggers per event`);
    for (const mode of MODES) {
      const baseline = mode === 'schedule' ? 'delay' : mode === 'schedule-keyed' ? 'delay-keyed' : undefined;
      const ratio = baseline && rates[baseline].length ? `   ${(median(rates[mode]) / median(rates[baseline])).toFixed(3)} × ${baseline}` : '';
      console.log(`  ${mode.padEnd(15)} median ${fmt(median(rates[mode]))} events/s (${fmt(median(rates[mode]) * RULES)} triggers/s)${ratio}   rounds ${rates[mode].map(fmt).join(', ')}`);
    }
    for (const mode of MODES) {
      const baseline = mode === 'schedule' ? 'delay' : mode === 'schedule-keyed' ? 'delay-keyed' : undefined;
      // Inverted, so that like the rates' ratio below 1 means the schedule costs more.
      const ratio = baseline && cpuPerEvent[baseline].length ? `   ${(median(cpuPerEvent[baseline]) / median(cpuPerEvent[mode])).toFixed(3)} × ${baseline} (inverse CPU)` : '';
      console.log(`  ${mode.padEnd(15)} median ${median(cpuPerEvent[mode]).toFixed(1)} CPU µs per event${ratio}   rounds ${cpuPerEvent[mode].map((c) => c.toFixed(0)).join(', ')}`);
    }
    for (const mode of MODES) {
      const o = totals[mode];
      console.log(`  ${mode} intake did: ${fmt(o.created)} created, ${fmt(o.superseded)} superseded, ${fmt(o.rescheduled)} rescheduled, ${fmt(o.skipped)} skipped`);
    }
    console.log(`  load average after ${name}: ${load()}\n`);
  } finally {
    await subject.dispose();
  }
}
