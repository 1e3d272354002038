/**
 * The work every driver is measured on: delayed jobs, each to run exactly once. One function per
 * mode; both leave the driver torn down, whatever happened.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Mode } from './config.js';
import type { DelayedJob, PeerDriver } from './driver.js';
import { percentile } from './percentile.js';

/** One measured run of one driver in one mode. */
export interface RunResult {
  readonly driver: string;
  readonly mode: Mode;
  readonly round: number;
  readonly jobs: number;
  /** Wall clock from the first add() call until the last one resolved. */
  readonly addMs: number;
  readonly addPerSecond: number;
  /** Latency of one add() call: the whole batch in burst mode, one job in steady mode. */
  readonly addCallP50Ms: number;
  readonly addCallP99Ms: number;
  /** Jobs that ran, per second, from the first due time to the last first run. */
  readonly drainPerSecond: number;
  /** Run time minus due time of each job's first run, ms. */
  readonly lateness: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number };
  /** First runs more than 1 ms before their due time (1 ms: the clock's resolution). */
  readonly early: number;
  /** Jobs that ran more than once. */
  readonly duplicates: number;
  /** Jobs that had not run by the last due time plus the timeout. */
  readonly missing: number;
  /** Runs of ids this run never added (another run's jobs leaking in). */
  readonly unexpected: number;
  /** CPU time of this Node process (producer + consumer + the system's client), ms. */
  readonly clientCpuMs: number;
}

export interface WorkloadOptions {
  readonly timeoutMs: number;
  readonly graceMs: number;
}

/** Records every execution the driver reports and says when each added job has run once. */
class RunTracker {
  readonly firstRunAt = new Map<string, number>();
  readonly runCounts = new Map<string, number>();
  unexpected = 0;
  private readonly expected = new Set<string>();
  private onAllRan: (() => void) | undefined;

  expect(jobs: readonly DelayedJob[]): void {
    for (const job of jobs) this.expected.add(job.id);
  }

  readonly onRun = (id: string): void => {
    const at = Date.now();
    if (!this.expected.has(id)) {
      this.unexpected++;
      return;
    }
    const count = (this.runCounts.get(id) ?? 0) + 1;
    this.runCounts.set(id, count);
    if (count === 1) {
      this.firstRunAt.set(id, at);
      if (this.firstRunAt.size === this.expected.size) this.onAllRan?.();
    }
  };

  /** Resolves when `total` distinct jobs have run, or at `deadline` (epoch ms), whichever is first. */
  async waitForAll(total: number, deadline: number): Promise<void> {
    if (this.firstRunAt.size >= total) return;
    const timeout = new AbortController();
    await Promise.race([
      new Promise<void>((resolve) => {
        this.onAllRan = resolve;
      }),
      sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timeout.signal }).catch(() => undefined),
    ]);
    timeout.abort();
    this.onAllRan = undefined;
  }
}

interface Measured {
  readonly jobs: readonly DelayedJob[];
  readonly addMs: number;
  readonly addCallMs: readonly number[];
  readonly cpuMs: number;
}

function summarize(driver: PeerDriver, mode: Mode, round: number, tracker: RunTracker, measured: Measured): RunResult {
  const { jobs } = measured;
  const lateness: number[] = [];
  let firstDue = Number.POSITIVE_INFINITY;
  let lastRun = Number.NEGATIVE_INFINITY;
  let early = 0;
  for (const job of jobs) {
    firstDue = Math.min(firstDue, job.dueAt);
    const ranAt = tracker.firstRunAt.get(job.id);
    if (ranAt === undefined) continue;
    lastRun = Math.max(lastRun, ranAt);
    const late = ranAt - job.dueAt;
    if (late < -1) early++;
    lateness.push(late);
  }
  lateness.sort((a, b) => a - b);
  const ran = lateness.length;
  let duplicates = 0;
  for (const count of tracker.runCounts.values()) if (count > 1) duplicates++;
  const addCalls = [...measured.addCallMs].sort((a, b) => a - b);
  return {
    driver: driver.name,
    mode,
    round,
    jobs: jobs.length,
    addMs: measured.addMs,
    addPerSecond: jobs.length / (measured.addMs / 1000),
    addCallP50Ms: percentile(addCalls, 50),
    addCallP99Ms: percentile(addCalls, 99),
    // A drain window under 1 ms (a handful of jobs all run at once) would divide by ~0.
    drainPerSecond: ran === 0 ? 0 : ran / (Math.max(1, lastRun - firstDue) / 1000),
    lateness: { p50: percentile(lateness, 50), p95: percentile(lateness, 95), p99: percentile(lateness, 99), max: lateness.at(-1) ?? Number.NaN },
    early,
    duplicates,
    missing: jobs.length - ran,
    unexpected: tracker.unexpected,
    clientCpuMs: measured.cpuMs,
  };
}

const cpuMsSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

/** Consumer already running when the jobs arrive, as in an application; then wait, then clean up. */
async function measure(
  driver: PeerDriver,
  mode: Mode,
  round: number,
  options: WorkloadOptions,
  produce: (tracker: RunTracker) => Promise<Omit<Measured, 'cpuMs'>>,
): Promise<RunResult> {
  await driver.setup();
  try {
    const tracker = new RunTracker();
    await driver.start(tracker.onRun);
    try {
      const cpuStart = process.cpuUsage();
      const produced = await produce(tracker);
      const lastDue = produced.jobs.reduce((max, job) => Math.max(max, job.dueAt), 0);
      await tracker.waitForAll(produced.jobs.length, lastDue + options.timeoutMs);
      // Keep consuming a while so that a job delivered twice is seen twice.
      await sleep(options.graceMs);
      const cpuMs = cpuMsSince(cpuStart);
      await driver.stop();
      return summarize(driver, mode, round, tracker, { ...produced, cpuMs });
    } catch (error) {
      await driver.stop().catch(() => undefined);
      throw error;
    }
  } finally {
    await driver.teardown();
  }
}

/** `count` jobs added at once, all due `delayMs` after the add phase starts. */
export function runBurst(driver: PeerDriver, round: number, count: number, delayMs: number, options: WorkloadOptions): Promise<RunResult> {
  return measure(driver, 'burst', round, options, async (tracker) => {
    const dueAt = Date.now() + delayMs;
    const jobs = Array.from({ length: count }, (_, i): DelayedJob => ({ id: `b${round}-${i}`, dueAt }));
    tracker.expect(jobs);
    const started = performance.now();
    await driver.add(jobs);
    const addMs = performance.now() - started;
    return { jobs, addMs, addCallMs: [addMs] };
  });
}

/** Adds in flight at once before the pacer waits: bounds memory when a system falls behind the rate. */
const STEADY_MAX_IN_FLIGHT = 1_000;
/** The pacer's tick; at 200 jobs/s that is about one job per tick. */
const STEADY_TICK_MS = 5;

/** `rate` jobs per second for `seconds`, one add() per job, each due `delayMs` after its own add. */
export function runSteady(driver: PeerDriver, round: number, rate: number, seconds: number, delayMs: number, options: WorkloadOptions): Promise<RunResult> {
  return measure(driver, 'steady', round, options, async (tracker) => {
    const total = Math.max(1, Math.round(rate * seconds));
    const jobs: DelayedJob[] = [];
    const addCallMs: number[] = [];
    const inFlight = new Set<Promise<void>>();
    // The first failed add() ends the run; held in a box so the pacer loop sees it.
    let failure: { error: unknown } | undefined;
    const started = performance.now();
    while (jobs.length < total) {
      const owed = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      while (jobs.length < owed && inFlight.size < STEADY_MAX_IN_FLIGHT) {
        const job: DelayedJob = { id: `s${round}-${jobs.length}`, dueAt: Date.now() + delayMs };
        jobs.push(job);
        tracker.expect([job]);
        const callStarted = performance.now();
        const call: Promise<void> = driver.add([job]).then(
          () => {
            addCallMs.push(performance.now() - callStarted);
            inFlight.delete(call);
          },
          (error: unknown) => {
            failure ??= { error };
            inFlight.delete(call);
          },
        );
        inFlight.add(call);
      }
      if (failure) break;
      if (inFlight.size >= STEADY_MAX_IN_FLIGHT) await Promise.race(inFlight);
      else await sleep(STEADY_TICK_MS);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    return { jobs, addMs: performance.now() - started, addCallMs };
  });
}
