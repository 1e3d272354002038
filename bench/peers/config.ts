import { parseArgs } from 'node:util';
import { positiveIntEnv, positiveNumberEnv } from './knobs.js';

export type Mode = 'burst' | 'steady';
const MODES: readonly Mode[] = ['burst', 'steady'];

/** Every knob of a run. Each has a CLI flag and an environment variable; the flag wins. */
export interface RunConfig {
  readonly drivers: readonly string[];
  readonly baseline: string;
  readonly modes: readonly Mode[];
  readonly rounds: number;
  /** burst: jobs added at once. */
  readonly burstJobs: number;
  /** burst: every job is due this long after the add phase starts. */
  readonly burstDelayMs: number;
  /** steady: jobs added per second, one add() per job. */
  readonly steadyRate: number;
  /** steady: how long jobs are added for. */
  readonly steadySeconds: number;
  /** steady: each job is due this long after its own add. */
  readonly steadyDelayMs: number;
  /** After the last due time, how long to wait for the last job before counting the rest missing. */
  readonly timeoutMs: number;
  /** After the last job ran, how long to keep consuming so that a second run shows up as a duplicate. */
  readonly graceMs: number;
  readonly addBatchSize: number;
  readonly addConcurrency: number;
  /** One unmeasured small burst per driver before round 1. */
  readonly warmup: boolean;
  /** Where to write every run's figures as JSON, if anywhere. */
  readonly jsonPath: string | undefined;
}

export const usage = `Usage: tsx bench/peers/run.ts [flags]   (each flag also reads the env variable shown)
  --drivers=a,b,c        BENCH_PEERS_DRIVERS        drivers to run, in this order (default: bullmq,pg-boss,agenda-pg)
  --baseline=name        BENCH_PEERS_BASELINE       ratios are against this driver (default: the first)
  --modes=burst,steady   BENCH_PEERS_MODES          (default: burst,steady)
  --rounds=N             BENCH_PEERS_ROUNDS         rounds of A B C ... per mode (default 3)
  --jobs=N               BENCH_PEERS_JOBS           burst: jobs added at once (default 1000)
  --burst-delay=MS       BENCH_PEERS_BURST_DELAY_MS burst: due this long after the add phase starts (default 1000)
  --rate=N               BENCH_PEERS_RATE           steady: jobs added per second (default 100)
  --duration=S           BENCH_PEERS_DURATION_S     steady: seconds of adding (default 5)
  --delay=MS             BENCH_PEERS_DELAY_MS       steady: each job due this long after its add (default 1000)
  --timeout=MS           BENCH_PEERS_TIMEOUT_MS     wait past the last due time before counting jobs missing (default 60000)
  --grace=MS             BENCH_PEERS_GRACE_MS       keep consuming after the last run, to catch duplicates (default 2000)
  --add-batch=N          BENCH_PEERS_ADD_BATCH      jobs per batch-API call (default 1000)
  --add-concurrency=N    BENCH_PEERS_ADD_CONCURRENCY single adds in flight, without a batch API (default 50)
  --no-warmup            BENCH_PEERS_WARMUP=0       skip the unmeasured warm-up burst
  --json=PATH            BENCH_PEERS_JSON           write every run's figures to PATH
  --help`;

const list = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Flags override the environment: a flag is copied into its variable, then every knob is read once. */
export function readConfig(argv: readonly string[]): RunConfig | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      drivers: { type: 'string' },
      baseline: { type: 'string' },
      modes: { type: 'string' },
      rounds: { type: 'string' },
      jobs: { type: 'string' },
      'burst-delay': { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      delay: { type: 'string' },
      timeout: { type: 'string' },
      grace: { type: 'string' },
      'add-batch': { type: 'string' },
      'add-concurrency': { type: 'string' },
      'no-warmup': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const flagToEnv: Record<string, string> = {
    drivers: 'BENCH_PEERS_DRIVERS',
    baseline: 'BENCH_PEERS_BASELINE',
    modes: 'BENCH_PEERS_MODES',
    rounds: 'BENCH_PEERS_ROUNDS',
    jobs: 'BENCH_PEERS_JOBS',
    'burst-delay': 'BENCH_PEERS_BURST_DELAY_MS',
    rate: 'BENCH_PEERS_RATE',
    duration: 'BENCH_PEERS_DURATION_S',
    delay: 'BENCH_PEERS_DELAY_MS',
    timeout: 'BENCH_PEERS_TIMEOUT_MS',
    grace: 'BENCH_PEERS_GRACE_MS',
    'add-batch': 'BENCH_PEERS_ADD_BATCH',
    'add-concurrency': 'BENCH_PEERS_ADD_CONCURRENCY',
    json: 'BENCH_PEERS_JSON',
  };
  for (const [flag, envName] of Object.entries(flagToEnv)) {
    const value = (values as Record<string, unknown>)[flag];
    if (typeof value === 'string') process.env[envName] = value;
  }
  if (values['no-warmup']) process.env['BENCH_PEERS_WARMUP'] = '0';

  const drivers = list(process.env['BENCH_PEERS_DRIVERS'] ?? 'bullmq,pg-boss,agenda-pg');
  const modes = list(process.env['BENCH_PEERS_MODES'] ?? MODES.join(','));
  for (const mode of modes) if (!MODES.includes(mode as Mode)) throw new Error(`unknown mode ${JSON.stringify(mode)} (expected ${MODES.join(' or ')})`);
  const baseline = process.env['BENCH_PEERS_BASELINE'] || drivers[0] || '';
  if (!drivers.includes(baseline)) throw new Error(`baseline ${JSON.stringify(baseline)} is not among the drivers (${drivers.join(',')})`);
  return {
    drivers,
    baseline,
    modes: modes as Mode[],
    rounds: positiveIntEnv('BENCH_PEERS_ROUNDS', 3),
    burstJobs: positiveIntEnv('BENCH_PEERS_JOBS', 1_000),
    burstDelayMs: positiveIntEnv('BENCH_PEERS_BURST_DELAY_MS', 1_000),
    steadyRate: positiveNumberEnv('BENCH_PEERS_RATE', 100),
    steadySeconds: positiveNumberEnv('BENCH_PEERS_DURATION_S', 5),
    steadyDelayMs: positiveIntEnv('BENCH_PEERS_DELAY_MS', 1_000),
    timeoutMs: positiveIntEnv('BENCH_PEERS_TIMEOUT_MS', 60_000),
    graceMs: positiveIntEnv('BENCH_PEERS_GRACE_MS', 2_000),
    addBatchSize: positiveIntEnv('BENCH_PEERS_ADD_BATCH', 1_000),
    addConcurrency: positiveIntEnv('BENCH_PEERS_ADD_CONCURRENCY', 50),
    warmup: process.env['BENCH_PEERS_WARMUP'] !== '0',
    jsonPath: process.env['BENCH_PEERS_JSON'] || undefined,
  };
}
