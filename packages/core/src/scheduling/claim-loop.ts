// One file: claiming, adaptive batch size, claim-ahead, lease deferral and idle sleep share one state
// machine (the loop's timers and in-flight claim); split, its invariants would span files.
import { describeError } from '../errors.js';
import type { Logger } from '../ports/logger.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { AttemptResult, FinishRequest, TriggerStore } from '../ports/store.js';
import type { Rule } from '../rules/rule.js';
import { backoffDelay } from './backoff.js';
import { consecutiveInfrastructureFailures, INFRASTRUCTURE_FAILURE, LEASE_DEFERRED, runAttempt, type AttemptContext } from './run-attempt.js';
import type { ClaimedTrigger, ErrorSummary } from './trigger.js';

export interface ClaimLoopOptions {
  /** Longest idle sleep; the loop wakes earlier for the next known due time. */
  pollIntervalMs: number;
  /**
   * Longest idle sleep when the store announces new triggers (`watchDue`): then the loop sleeps until
   * the next due time or a wake-up, and this poll is only the backstop.
   */
  idlePollMs?: number | undefined;
  batchSize: number;
  /** Triggers processed at once within a batch. */
  concurrency: number;
  leaseMs: number;
  /** Longest back-off after the store itself fails (down, unreachable). */
  maxStoreBackoffMs: number;
}

/** Counts of one `runDue()` pass, by outcome. */
export interface RunCounts {
  claimed: number;
  completed: number;
  skipped: number;
  failed: number;
  retrying: number;
  /** Runs stopped by a cancelling event that arrived while they were processing. */
  cancelled: number;
  /** Outcomes not saved because another worker had taken the lease over. */
  leaseLost: number;
  /** Outcomes not saved because the store failed; the lease expiry returns them to the queue. */
  unsaved: number;
}

export interface ClaimLoopHooks {
  onClaimed?: ((triggers: ClaimedTrigger[], limit: number) => void) | undefined;
  onFinished?: ((trigger: ClaimedTrigger, result: AttemptResult, saved: boolean) => void) | undefined;
  onLoopError?: ((error: unknown) => void) | undefined;
}

const MAX_BATCHES_PER_PASS = 10_000;
const SAVE_RETRY_FIRST_MS = 50;
const SAVE_RETRY_MAX_MS = 2_000;

function emptyCounts(): RunCounts {
  return { claimed: 0, completed: 0, skipped: 0, failed: 0, retrying: 0, cancelled: 0, leaseLost: 0, unsaved: 0 };
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A rule source that answers each (account, rule) once; a failed read is not remembered. */
function readOncePerBatch(source: RuleSource): RuleSource {
  // By account, then rule: the ids are strings whose hashes V8 already has, where a joined key would
  // be a new string to build and hash on every trigger.
  const reads = new Map<string, Map<string, Promise<Rule | null>>>();
  return {
    findRulesForEvent: (accountId, eventName) => source.findRulesForEvent(accountId, eventName),
    getRule(accountId, id) {
      let ofAccount = reads.get(accountId);
      if (!ofAccount) reads.set(accountId, (ofAccount = new Map()));
      let read = ofAccount.get(id);
      if (!read) {
        const fresh = source.getRule(accountId, id);
        const account = ofAccount;
        account.set(id, fresh);
        fresh.catch(() => account.delete(id));
        read = fresh;
      }
      return read;
    },
  };
}

/** Told how the write of one outcome went: saved (true), refused for a lost lease (false), or failed. */
interface OutcomeReceiver {
  saved(saved: boolean): void;
  failed(error: unknown): void;
}

/**
 * Collects the outcomes that concurrent triggers finish within one turn of the event loop and writes
 * them with one `finishAttempts` call (when the store has it), instead of one round trip each. Each
 * write reports to its receiver rather than through a promise of its own: on the in-memory fire
 * path, the promises and async frames per trigger were most of what its garbage collection copied.
 */
class OutcomeWriter {
  // Two arrays side by side rather than one of pairs: no pair object per outcome, and a batch's
  // requests are handed to the store as the array they were queued in.
  private requests: FinishRequest[] = [];
  private receivers: OutcomeReceiver[] = [];
  private scheduled = false;

  constructor(
    private readonly store: TriggerStore,
    private readonly maxBatch: () => number,
  ) {}

  write(request: FinishRequest, receiver: OutcomeReceiver): void {
    if (!this.store.finishAttempts) {
      let write: Promise<boolean>;
      try {
        write = this.store.finishAttempt(request.id, request.leaseToken, request.result);
      } catch (error) {
        write = Promise.reject(error);
      }
      write.then(
        (saved) => receiver.saved(saved),
        (error: unknown) => receiver.failed(error),
      );
      return;
    }
    this.requests.push(request);
    this.receivers.push(receiver);
    if (this.requests.length >= this.maxBatch()) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    while (this.requests.length > 0) {
      const max = this.maxBatch();
      let requests: FinishRequest[];
      let receivers: OutcomeReceiver[];
      if (this.requests.length <= max) {
        requests = this.requests;
        receivers = this.receivers;
        this.requests = [];
        this.receivers = [];
      } else {
        requests = this.requests.splice(0, max);
        receivers = this.receivers.splice(0, max);
      }
      let write: Promise<boolean[]>;
      try {
        write = this.store.finishAttempts?.(requests) ?? Promise.reject(new Error('finishAttempts is gone'));
      } catch (error) {
        // A store that throws instead of rejecting fails this batch alone, not the turn it runs in.
        write = Promise.reject(error);
      }
      write.then(
        (saved) => {
          for (let i = 0; i < receivers.length; i++) (receivers[i] as OutcomeReceiver).saved(saved[i] === true);
        },
        (error: unknown) => {
          for (const receiver of receivers) receiver.failed(error);
        },
      );
    }
  }
}

/**
 * The outcomes of one pass still being written: the pass ends when every one is recorded, or at the
 * first that failed to record (a listener of `trigger:finished` threw), as `Promise.all` of them would.
 */
class PassRecording {
  private pending = 0;
  private failure: { error: unknown } | undefined;
  private waiter: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  started(): void {
    this.pending += 1;
  }

  finished(): void {
    this.pending -= 1;
    if (this.pending === 0 && this.waiter) this.waiter.resolve();
  }

  failed(error: unknown): void {
    this.pending -= 1;
    this.failure ??= { error };
    this.waiter?.reject(this.failure.error);
  }

  settled(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.pending === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

/**
 * The write of one attempt's outcome, retried while the lease still holds: once it has expired another
 * worker may have taken the trigger and the lease token would refuse the write anyway. An outcome that
 * could not be written returns the trigger to the queue when its lease expires (and its sent actions
 * are then known only to the idempotency store), so giving up early is what costs a duplicate.
 */
/** What every outcome record of a loop shares. */
interface RecordingContext {
  readonly writer: OutcomeWriter;
  readonly hooks: ClaimLoopHooks;
  readonly ctx: AttemptContext;
  readonly leaseMs: number;
}

class OutcomeRecord implements OutcomeReceiver {
  private readonly startedAt = Date.now();
  private delay = SAVE_RETRY_FIRST_MS;

  constructor(
    private readonly shared: RecordingContext,
    private readonly trigger: ClaimedTrigger,
    private readonly result: AttemptResult,
    private readonly counts: RunCounts,
    private readonly log: Logger,
    private readonly pass: PassRecording,
  ) {}

  saved(saved: boolean): void {
    this.done(saved ? 'saved' : 'lease-lost');
  }

  /** Writes the outcome (again, after a failed write). */
  write(): void {
    this.shared.writer.write({ id: this.trigger.id, leaseToken: this.trigger.leaseToken, result: this.result }, this);
  }

  failed(error: unknown): void {
    const { ctx, leaseMs } = this.shared;
    // Engine time bounds it in production; real time bounds it under a manual clock that stands still.
    const leaseLeft = this.trigger.leaseExpiresAt.getTime() - ctx.clock.now().getTime();
    if (leaseLeft <= this.delay || Date.now() - this.startedAt + this.delay >= leaseMs) {
      const { trigger } = this;
      ctx.logger.error({ triggerId: trigger.id, accountId: trigger.accountId, ruleId: trigger.ruleId, error: describeError(error) }, 'could not save attempt outcome before the lease ran out');
      this.done('unsaved');
      return;
    }
    const delay = this.delay;
    this.delay = Math.min(SAVE_RETRY_MAX_MS, delay * 2);
    void sleep(delay).then(() => this.write());
  }

  private done(saved: 'saved' | 'lease-lost' | 'unsaved'): void {
    const { trigger, result, counts } = this;
    try {
      if (saved === 'saved') counts[result.status] += 1;
      else if (saved === 'lease-lost') counts.leaseLost += 1;
      else counts.unsaved += 1;
      this.log.info({ status: result.status, reason: result.history.reason, attempt: trigger.attempt, saved }, `trigger ${result.status}`);
      this.shared.hooks.onFinished?.(trigger, result, saved === 'saved');
    } catch (error) {
      this.pass.failed(error);
      return;
    }
    this.pass.finished();
  }
}

/**
 * The locking claim loop: claims due triggers in batches, runs them with bounded concurrency and
 * records each outcome under its lease. Idle, it sleeps until the next due time or the poll interval,
 * whichever is sooner, and intake wakes it early for triggers due sooner than that.
 */
export class ClaimLoop {
  private running = false;
  private cancelTimer: (() => void) | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private pass: Promise<unknown> | undefined;
  private rerun = false;
  private storeFailures = 0;
  /** Engine-clock time one trigger takes, start to saved outcome (moving average); unknown at first. */
  private perTriggerMs: number | undefined;
  private readonly recordingContext: RecordingContext;
  private watching: Promise<(() => Promise<void>) | undefined> | undefined;
  /** The store's wake-ups are on: idle, the loop need not poll often. */
  private watched = false;

  constructor(
    private readonly ctx: AttemptContext,
    private readonly options: ClaimLoopOptions,
    private readonly hooks: ClaimLoopHooks = {},
  ) {
    this.recordingContext = { writer: new OutcomeWriter(ctx.store, () => Math.max(1, options.concurrency)), hooks, ctx, leaseMs: options.leaseMs };
  }

  /**
   * How many triggers the next claim takes: no more than the loop can start within one lease, at
   * `concurrency` at a time and the measured time per trigger, so that a slow store or gateway cannot
   * leave claimed triggers waiting until their lease runs out (at most `batchSize`). Before the first
   * measurement, two rounds of `concurrency`.
   */
  get batchLimit(): number {
    const { batchSize, concurrency, leaseMs } = this.options;
    if (this.perTriggerMs === undefined) return Math.min(batchSize, 2 * concurrency);
    // A trigger must start while a send still fits in its lease; keep a fifth of that as margin.
    const window = Math.max(0, leaseMs - this.ctx.sendTimeoutMs) * 0.8;
    const rounds = Math.max(1, Math.floor(window / Math.max(1, this.perTriggerMs)));
    return Math.max(1, Math.min(batchSize, concurrency * rounds));
  }

  /** One pass: claim and process batches until nothing is due. */
  async runDue(): Promise<RunCounts> {
    const counts = emptyCounts();
    const claim = (limit: number) => {
      const claiming = this.ctx.store.claimDueTriggers({ now: this.ctx.clock.now(), limit, leaseMs: this.options.leaseMs, owner: this.ctx.instanceId }).then((claimed) => ({ claimed, limit }));
      // Awaited later (after the current batch): marked handled now, so a failing claim is not an
      // unhandled rejection in between (which Node turns into a crash).
      claiming.catch(() => undefined);
      return claiming;
    };
    let next: Promise<{ claimed: ClaimedTrigger[]; limit: number }> | undefined = claim(this.batchLimit);
    const recording = new PassRecording();
    try {
      for (let batch = 0; next && batch < MAX_BATCHES_PER_PASS; batch++) {
        const { claimed, limit } = await next;
        next = undefined;
        if (claimed.length === 0) break;
        counts.claimed += claimed.length;
        this.hooks.onClaimed?.(claimed, limit);
        // While this batch runs, the next one is claimed, when a full batch is quick enough that the
        // wait cannot eat into the next one's lease (see `pipelined`).
        const full = claimed.length >= limit;
        if (full && this.pipelined(limit)) next = claim(this.batchLimit);
        // One read per rule per batch: the triggers of a batch were claimed at one instant, so they all
        // see the rule as it is now; a remote rule source is asked once, not once per trigger.
        const ctx: AttemptContext = { ...this.ctx, ruleSource: readOncePerBatch(this.ctx.ruleSource) };
        await pool(claimed, this.options.concurrency, (trigger) => this.process(trigger, counts, ctx, recording));
        if (full && !next) next = claim(this.batchLimit);
      }
    } finally {
      // Outcomes are written while later triggers run; the pass ends when all of them are recorded.
      await recording.settled();
      if (next) {
        // A claim issued for a batch this pass will not run (stopped, or the loop broke on an error):
        // its triggers are released by their lease; nothing is lost.
        await next.catch(() => undefined);
      }
    }
    return counts;
  }

  /**
   * Whether to claim the next batch while this one runs: only when a whole batch takes under a tenth
   * of the usable lease, so the wait of the claimed-ahead triggers stays small against their lease.
   */
  private pipelined(limit: number): boolean {
    if (this.perTriggerMs === undefined) return false;
    const batchMs = (limit / Math.max(1, this.options.concurrency)) * this.perTriggerMs;
    return batchMs < 0.1 * Math.max(0, this.options.leaseMs - this.ctx.sendTimeoutMs);
  }

  private measure(startedAt: number): void {
    const took = this.ctx.clock.now().getTime() - startedAt;
    this.perTriggerMs = this.perTriggerMs === undefined ? took : 0.8 * this.perTriggerMs + 0.2 * took;
  }

  /**
   * Runs one trigger and queues the write of its outcome on `recording`, without waiting for it: the
   * next trigger starts while the outcome is written, and outcomes finishing together go in one write.
   */
  private async process(trigger: ClaimedTrigger, counts: RunCounts, ctx: AttemptContext, recording: PassRecording): Promise<void> {
    const log = this.ctx.logger.child({ accountId: trigger.accountId, ruleId: trigger.ruleId, triggerId: trigger.id });
    const startedAt = this.ctx.clock.now().getTime();
    if (startedAt + this.ctx.sendTimeoutMs >= trigger.leaseExpiresAt.getTime()) {
      // Claimed but not started in time: give it back untouched, outside its attempt budget.
      const at = this.ctx.clock.now();
      const result: AttemptResult = { status: 'retrying', evaluateAt: at, sentActions: [], now: at, history: { at, attempt: trigger.attempt, outcome: 'retrying', reason: LEASE_DEFERRED, nextAttemptAt: at, by: this.ctx.instanceId } };
      log.warn({ attempt: trigger.attempt, leaseExpiresAt: trigger.leaseExpiresAt }, 'lease ran short before the trigger could start; handed back');
      this.record(trigger, result, counts, log, recording);
      return;
    }
    let result: AttemptResult;
    const span = this.ctx.tracer.startSpan('crm.trigger.process', {
      parent: trigger.trace,
      attributes: { 'crm.trigger_id': trigger.id, 'crm.rule_id': trigger.ruleId, 'crm.account_id': trigger.accountId, 'crm.attempt': trigger.attempt },
    });
    try {
      result = await runAttempt(trigger, ctx, span);
    } catch (error) {
      span.recordError(error);
      // The store or the rule source failed mid-attempt: retry with backoff rather than wait for the
      // lease, without spending the trigger's attempt budget (see attemptsInBudget).
      const summary = describeError(error, 'CRM_ERR_EVALUATION') as ErrorSummary;
      log.error({ error: summary }, 'attempt failed on infrastructure; will retry');
      const at = this.ctx.clock.now();
      const evaluateAt = new Date(at.getTime() + backoffDelay(consecutiveInfrastructureFailures(trigger) + 1, this.ctx.backoff));
      result = {
        status: 'retrying',
        evaluateAt,
        sentActions: [],
        now: at,
        history: { at, attempt: trigger.attempt, outcome: 'retrying', reason: INFRASTRUCTURE_FAILURE, error: { ...summary, retryable: true }, nextAttemptAt: evaluateAt, by: this.ctx.instanceId },
      };
    }
    span.setAttributes({ 'crm.status': result.status, 'crm.reason': result.history.reason });
    span.end();
    this.measure(startedAt);
    this.record(trigger, result, counts, log, recording);
  }

  /** Queues the write of an outcome; `recording` learns when it is recorded (see {@link OutcomeRecord}). */
  private record(trigger: ClaimedTrigger, result: AttemptResult, counts: RunCounts, log: Logger, recording: PassRecording): void {
    recording.started();
    new OutcomeRecord(this.recordingContext, trigger, result, counts, log, recording).write();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
    const watch = this.ctx.store.watchDue;
    if (watch) {
      this.watching = watch
        .call(this.ctx.store, (at) => this.wake(at))
        .then((unwatch) => {
          this.watched = true;
          return unwatch;
        })
        .catch((error: unknown) => {
          // Wake-ups are an optimisation; the poll still finds every trigger.
          this.ctx.logger.warn({ error: describeError(error) }, 'store wake-ups unavailable; polling only');
          return undefined;
        });
    }
  }

  /** Wakes the loop by `at` if it would otherwise sleep past it. */
  wake(at: Date): void {
    if (!this.running) return;
    if (this.pass) {
      this.rerun = true;
      return;
    }
    if (at.getTime() < this.wakeAt) this.schedule(at.getTime() - this.ctx.clock.now().getTime());
  }

  /** Stops claiming; resolves when the batch in progress has finished and been recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
    const watching = this.watching;
    this.watching = undefined;
    this.watched = false;
    await Promise.all([this.pass, watching?.then((unwatch) => unwatch?.()).catch(() => undefined)]);
  }

  private schedule(delayMs: number): void {
    this.cancelTimer?.();
    const delay = Math.max(0, delayMs);
    this.wakeAt = this.ctx.clock.now().getTime() + delay;
    this.cancelTimer = this.ctx.clock.setTimer(delay, () => {
      this.cancelTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.pass = this.tick().finally(() => {
        this.pass = undefined;
      });
    });
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    let delay: number;
    try {
      do {
        this.rerun = false;
        await this.runDue();
      } while (this.rerun && this.running);
      this.storeFailures = 0;
      const next = await this.ctx.store.nextDueAt();
      const untilNext = next ? next.getTime() - this.ctx.clock.now().getTime() : Number.POSITIVE_INFINITY;
      const poll = this.watched ? (this.options.idlePollMs ?? this.options.pollIntervalMs) : this.options.pollIntervalMs;
      delay = Math.min(poll, Math.max(0, untilNext));
    } catch (error) {
      this.storeFailures += 1;
      delay = Math.min(this.options.maxStoreBackoffMs, this.options.pollIntervalMs * 2 ** this.storeFailures);
      this.ctx.logger.error({ error: describeError(error), retryInMs: delay }, 'claim loop pass failed; backing off');
      this.hooks.onLoopError?.(error);
    }
    if (this.running) this.schedule(delay);
  }
}
