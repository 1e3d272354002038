import type { Mode } from './config.js';
import type { RunResult } from './workload.js';
import { fmt, median } from '../src/stats.js';

type Metric = (run: RunResult) => number;

interface Column {
  readonly title: string;
  readonly value: Metric;
  /** Integers by default; ms figures under 10 keep one decimal. */
  readonly format?: (n: number) => string;
  /** Print `(×r)` against the baseline's median. */
  readonly ratio?: boolean;
  /** Summed over rounds instead of the median (counts that must be 0). */
  readonly sum?: boolean;
}

const ms = (n: number): string => (Number.isNaN(n) ? '–' : Math.abs(n) < 10 ? n.toFixed(1) : fmt(n));
const seconds = (n: number): string => (n / 1000).toFixed(1);

const common: Column[] = [
  { title: 'drain/s', value: (r) => r.drainPerSecond, ratio: true },
  { title: 'lateness p50 ms', value: (r) => r.lateness.p50, format: ms, ratio: true },
  { title: 'p95 ms', value: (r) => r.lateness.p95, format: ms },
  { title: 'p99 ms', value: (r) => r.lateness.p99, format: ms, ratio: true },
  { title: 'max ms', value: (r) => r.lateness.max, format: ms },
  { title: 'duplicates', value: (r) => r.duplicates, sum: true },
  { title: 'missing', value: (r) => r.missing, sum: true },
  { title: 'early', value: (r) => r.early, sum: true },
  { title: 'client CPU s', value: (r) => r.clientCpuMs, format: seconds },
];

const columns: Record<Mode, Column[]> = {
  burst: [{ title: 'add/s', value: (r) => r.addPerSecond, ratio: true }, { title: 'add phase s', value: (r) => r.addMs, format: seconds }, ...common],
  steady: [
    { title: 'add/s', value: (r) => r.addPerSecond },
    { title: 'add() p50 ms', value: (r) => r.addCallP50Ms, format: ms },
    { title: 'add() p99 ms', value: (r) => r.addCallP99Ms, format: ms, ratio: true },
    ...common,
  ],
};

const aggregate = (column: Column, runs: readonly RunResult[]): number =>
  column.sum ? runs.reduce((total, run) => total + column.value(run), 0) : median(runs.map(column.value));

const ratio = (value: number, base: number): string => (base === 0 || !Number.isFinite(value / base) ? '' : ` (×${(value / base).toFixed(2)})`);

/** One Markdown table per mode: medians over the rounds, ratios against the baseline's medians. */
export function resultTable(mode: Mode, drivers: readonly string[], baseline: string, runs: readonly RunResult[]): string {
  const byDriver = (name: string) => runs.filter((run) => run.mode === mode && run.driver === name);
  const baseRuns = byDriver(baseline);
  const header = ['driver', 'rounds', ...columns[mode].map((c) => c.title)];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const name of drivers) {
    const driverRuns = byDriver(name);
    if (driverRuns.length === 0) continue;
    const cells = columns[mode].map((column) => {
      const value = aggregate(column, driverRuns);
      const text = (column.format ?? fmt)(value);
      return column.ratio && baseRuns.length > 0 ? text + ratio(value, aggregate(column, baseRuns)) : text;
    });
    lines.push(`| ${name} | ${driverRuns.length} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** One line per run, printed as it finishes. */
export function runLine(run: RunResult): string {
  const l = run.lateness;
  return (
    `round ${run.round} ${run.mode} ${run.driver}: ${fmt(run.jobs)} jobs, add ${fmt(run.addPerSecond)}/s (${seconds(run.addMs)} s, add() p99 ${ms(run.addCallP99Ms)} ms), ` +
    `drain ${fmt(run.drainPerSecond)}/s, lateness p50 ${ms(l.p50)} / p95 ${ms(l.p95)} / p99 ${ms(l.p99)} / max ${ms(l.max)} ms, ` +
    `duplicates ${run.duplicates}, missing ${run.missing}, early ${run.early}${run.unexpected ? `, unexpected ${run.unexpected}` : ''}, client CPU ${seconds(run.clientCpuMs)} s`
  );
}
