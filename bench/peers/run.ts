/**
 * Peer benchmark (not a test): the same delayed-job work ("N jobs, each due after a delay, each run
 * exactly once") for several job systems in one run, in alternation (A B C A B C ...), so each
 * system's figures come from the same minutes of the same shared machine.
 *
 *   npx tsx bench/peers/run.ts --drivers=bullmq,pg-boss,agenda-pg --jobs=10000 --rate=200 --duration=30
 *
 * `--help` lists every knob. Drivers live in `drivers/registry.ts`.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfig, usage, type Mode, type RunConfig } from './config.js';
import type { PeerDriver } from './driver.js';
import { drivers as registry } from './drivers/registry.js';
import { resultTable, runLine } from './report.js';
import { runBurst, runSteady, type RunResult } from './workload.js';
import { machine } from '../src/stats.js';

/** Lets the previous system's server-side cleanup (obliterate, DROP SCHEMA) settle before the next run. */
const PAUSE_BETWEEN_RUNS_MS = 1_000;
const WARMUP_JOBS = 500;

/** The machine is shared: the load average says how much else ran during the measurement. */
const load = (): string => loadavg().map((n) => n.toFixed(2)).join(' ');

const errorText = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

function runOnce(driver: PeerDriver, mode: Mode, round: number, config: RunConfig): Promise<RunResult> {
  const options = { timeoutMs: config.timeoutMs, graceMs: config.graceMs };
  return mode === 'burst'
    ? runBurst(driver, round, config.burstJobs, config.burstDelayMs, options)
    : runSteady(driver, round, config.steadyRate, config.steadySeconds, config.steadyDelayMs, options);
}

async function main(): Promise<number> {
  const config = readConfig(process.argv.slice(2));
  if (config === 'help') {
    console.log(usage);
    console.log('\nDrivers:');
    for (const [name, entry] of Object.entries(registry)) console.log(`  ${name.padEnd(14)} ${entry.description}`);
    return 0;
  }
  for (const name of config.drivers) {
    if (!registry[name]) throw new Error(`unknown driver ${JSON.stringify(name)}; known: ${Object.keys(registry).join(', ')}`);
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# Peer benchmark: delayed jobs, each run once (${new Date().toISOString()})`);
  console.log(`machine: ${cpu}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${machine()}; load average at start ${load()}`);
  console.log(
    `workload: ${config.modes
      .map((mode) =>
        mode === 'burst'
          ? `burst = ${config.burstJobs} jobs added at once, all due ${config.burstDelayMs} ms after the add phase starts`
          : `steady = ${config.steadyRate} jobs/s for ${config.steadySeconds} s, one add() per job, each due ${config.steadyDelayMs} ms after its add`,
      )
      .join('; ')}`,
  );
  console.log(
    `rounds: ${config.rounds} (order per round and mode: ${config.drivers.join(' ')}); timeout ${config.timeoutMs} ms past the last due time; ` +
      `grace ${config.graceMs} ms; batch-API chunk ${config.addBatchSize}; single adds in flight ${config.addConcurrency}; warm-up ${config.warmup ? `${Math.min(WARMUP_JOBS, config.burstJobs)}-job burst per driver` : 'off'}`,
  );

  const options = { addBatchSize: config.addBatchSize, addConcurrency: config.addConcurrency };
  const active: PeerDriver[] = [];
  for (const name of config.drivers) {
    const entry = registry[name];
    if (!entry) continue;
    try {
      const driver = await entry.create(options);
      // The warm-up doubles as the check that the driver's server is there.
      await runBurst(driver, 0, config.warmup ? Math.min(WARMUP_JOBS, config.burstJobs) : 1, 500, { timeoutMs: config.timeoutMs, graceMs: 0 });
      active.push(driver);
    } catch (error) {
      console.log(`SKIPPED ${name}: ${errorText(error)}`);
    }
  }
  console.log('\n| driver | system | server | settings |\n| --- | --- | --- | --- |');
  for (const driver of active) console.log(`| ${driver.name} | ${driver.version} | ${driver.server} | ${driver.settings} |`);
  console.log('');

  const results: RunResult[] = [];
  let failures = 0;
  for (let round = 1; round <= config.rounds; round++) {
    for (const mode of config.modes) {
      for (const driver of active) {
        try {
          const result = await runOnce(driver, mode, round, config);
          results.push(result);
          console.log(runLine(result));
        } catch (error) {
          failures++;
          console.log(`round ${round} ${mode} ${driver.name}: FAILED ${errorText(error)}`);
        }
        await sleep(PAUSE_BETWEEN_RUNS_MS);
      }
    }
  }

  console.log(`load average at end ${load()}`);
  const names = active.map((driver) => driver.name);
  for (const mode of config.modes) {
    console.log(`\n## ${mode}: medians of ${config.rounds} rounds; (×r) = this driver's median / ${config.baseline}'s; duplicates, missing and early are totals over the rounds\n`);
    console.log(resultTable(mode, names, config.baseline, results));
  }
  if (!names.includes(config.baseline)) console.log(`\nbaseline ${config.baseline} did not run: no ratios`);
  const broken = results.filter((run) => run.duplicates > 0 || run.missing > 0 || run.unexpected > 0);
  if (broken.length > 0) console.log(`\nWARNING: ${broken.length} run(s) with duplicates, missing or unexpected jobs (see the run lines above)`);
  if (config.jsonPath) {
    writeFileSync(config.jsonPath, JSON.stringify({ date: new Date().toISOString(), cpu, config, drivers: active.map(({ name, version, server, settings }) => ({ name, version, server, settings })), results }, null, 2));
    console.log(`\nwrote ${config.jsonPath}`);
  }
  return failures > 0 ? 1 : 0;
}

main().then(
  // Some clients keep timers or sockets open after close(); a benchmark ends when its report is out.
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(errorText(error));
    process.exit(1);
  },
);
