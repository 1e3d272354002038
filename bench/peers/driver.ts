/**
 * The one contract every job system in the peer benchmark implements. The runner knows nothing else
 * about a system: to benchmark another one (our own engine in memory, on PostgreSQL, on the
 * MongoDB-wire server), write a driver and register it in `drivers/registry.ts`.
 */

/** One job of the workload: it must run exactly once, not before `dueAt`. */
export interface DelayedJob {
  /** Unique within a run; the handler hands it back through `onRun`. */
  readonly id: string;
  /** When the job is due, in ms since the epoch (the `Date.now()` scale). */
  readonly dueAt: number;
}

/** Called from inside the job handler, once per execution: a job run twice calls it twice. */
export type OnJobRun = (id: string) => void;

export interface PeerDriver {
  /** Registry name, as given to `--drivers`, e.g. `bullmq`. */
  readonly name: string;
  /** The job system and its installed version, e.g. `bullmq 6.7.0`. */
  readonly version: string;
  /**
   * The server it runs against: product, version, address and its durability settings. Known after
   * the first `setup()`; before that it may be empty.
   */
  readonly server: string;
  /** The settings this system is tuned with (concurrency, batch sizes, polling); part of the result. */
  readonly settings: string;
  /** Connects and creates a fresh namespace (queue, schema, table) for one measured run. */
  setup(): Promise<void>;
  /**
   * Enqueues the jobs, each to run at its `dueAt`, with the system's batch API where it has one.
   * Resolves once the system has accepted all of them.
   */
  add(jobs: readonly DelayedJob[]): Promise<void>;
  /** Starts consuming and resolves once the consumer is running. */
  start(onRun: OnJobRun): Promise<void>;
  /** Stops consuming and waits for the handlers in flight. */
  stop(): Promise<void>;
  /** Deletes the run's namespace and closes every connection the driver opened. */
  teardown(): Promise<void>;
}

/** Knobs the runner hands every driver, so that all systems are driven the same way. */
export interface DriverOptions {
  /** Jobs per call of a batch API (BullMQ addBulk, pg-boss insert). */
  readonly addBatchSize: number;
  /** Single adds in flight at once, for a system without a batch API (Agenda). */
  readonly addConcurrency: number;
}

/** A registry entry: imports the system's packages only when the driver is selected. */
export interface DriverEntry {
  /** One line for `--help`: the system and the server it needs. */
  readonly description: string;
  readonly create: (options: DriverOptions) => Promise<PeerDriver>;
}
