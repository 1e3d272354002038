import { describeError } from '../errors.js';
import type { Delivery, DeliveryLedger, DeliveryOutcome, NewDelivery } from '../ports/delivery-ledger.js';
import type { Logger } from '../ports/logger.js';

/**
 * Writes the ledger for dispatch: intents are batched across the triggers running at once (one
 * `recordIntents` per turn of the event loop, or per {@link INTENT_BATCH_EARLY} intents) and awaited, since a send may start only once its
 * intent is stored; outcomes are batched the same way but not awaited by the send. A failed outcome
 * write is tried again with backoff ({@link OUTCOME_RETRY_DELAYS_MS}; outcomes are state-guarded, so
 * writing one twice changes nothing), because an outcome lost for good leaves its send `intent`, later
 * reconciled to `unknown` and held for an operator although the engine knew how it ended. Only after
 * the last retry is the intent left to reconciliation, and that is logged.
 */
/** Delays before each further try of a failed outcome write: about 25 s in all, under a typical lease. */
export const OUTCOME_RETRY_DELAYS_MS: readonly number[] = [100, 400, 1_000, 2_500, 5_000, 7_500, 8_500];

/**
 * Intents queued at which a batch leaves at once rather than at the end of the turn. The triggers of
 * a claim batch start together, so without it every send of a wave waits for the whole wave to be
 * evaluated and then for one insert; in two halves, the first half's insert is on its way while the
 * second half is evaluated, and the waves stop moving in lock-step (measured on PostgreSQL at
 * concurrency 64: see bench/src/postgres-fire-path.bench.ts).
 */
export const INTENT_BATCH_EARLY = 32;

export class DeliveryRecorder {
  private intents: Array<{ intent: NewDelivery; resolve: (d: Delivery) => void; reject: (e: unknown) => void }> = [];
  private outcomes: DeliveryOutcome[] = [];
  private scheduled = false;
  private writing = new Set<Promise<unknown>>();

  /** Retries waiting out their backoff, each as the function that starts it now. */
  private readonly retries = new Set<() => void>();
  private stopping = false;

  constructor(
    readonly ledger: DeliveryLedger,
    private readonly logger: Logger,
    private readonly retryDelaysMs: readonly number[] = OUTCOME_RETRY_DELAYS_MS,
  ) {}

  intent(intent: NewDelivery): Promise<Delivery> {
    return new Promise<Delivery>((resolve, reject) => {
      this.intents.push({ intent, resolve, reject });
      if (this.intents.length >= INTENT_BATCH_EARLY) this.flush();
      else this.schedule();
    });
  }

  outcome(outcome: DeliveryOutcome): void {
    this.outcomes.push(outcome);
    this.schedule();
  }

  /**
   * Resolves when every outcome queued so far is written or has failed for good and been logged.
   * Called by `engine.stop()`: outcomes waiting for a retry are tried at once, without waiting out
   * their backoff, so stopping takes a few round trips at most.
   */
  async flushed(): Promise<void> {
    this.stopping = true;
    try {
      while (this.scheduled || this.writing.size > 0) {
        if (this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
        for (const fire of [...this.retries]) fire();
        await Promise.all([...this.writing]);
      }
    } finally {
      this.stopping = false;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      // An early flush may have taken everything since.
      if (this.scheduled) this.flush();
    });
  }

  private track(write: Promise<unknown>): void {
    this.writing.add(write);
    this.calling += 1;
    void write.finally(() => this.writing.delete(write));
  }

  /** Ledger calls under way (a write waiting out its retry backoff is not one). */
  private calling = 0;

  /**
   * Resolves when every write queued so far has had its answer from the ledger: what `runDue()` waits
   * for, so that a pass it ran can be read back from the ledger at once. Unlike {@link flushed}, it does
   * not hurry writes waiting to be retried, nor wait for them.
   */
  async settled(): Promise<void> {
    while (this.scheduled || this.calling > 0) {
      if (this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      else await new Promise<void>((resolve) => this.onIdle.push(resolve));
    }
  }

  private onIdle: Array<() => void> = [];

  private answered(): void {
    this.calling -= 1;
    if (this.calling > 0) return;
    const waiting = this.onIdle;
    this.onIdle = [];
    for (const resolve of waiting) resolve();
  }

  private flush(): void {
    this.scheduled = false;
    const intents = this.intents;
    const outcomes = this.outcomes;
    this.intents = [];
    this.outcomes = [];
    if (intents.length > 0) {
      // A ledger that throws instead of rejecting fails this batch alone (an early flush runs inside a caller's promise).
      const write = new Promise<Delivery[]>((resolve) => resolve(this.ledger.recordIntents(intents.map((i) => i.intent))))
        .then(
          (recorded) => intents.forEach((i, n) => (recorded[n] ? i.resolve(recorded[n]) : i.reject(new Error('the ledger returned fewer intents than it was given')))),
          (error: unknown) => intents.forEach((i) => i.reject(error)),
        )
        .finally(() => this.answered());
      this.track(write);
    }
    if (outcomes.length > 0) void this.writeOutcomes(outcomes, 0);
  }

  private writeOutcomes(outcomes: DeliveryOutcome[], tries: number): Promise<void> {
    const call = new Promise<boolean[]>((resolve) => resolve(this.ledger.recordOutcomes(outcomes)));
    void call.then(
      () => this.answered(),
      () => this.answered(),
    );
    const write = call.then(
      () => undefined,
      (error: unknown): Promise<void> | undefined => {
        const delay = this.retryDelaysMs[tries];
        if (delay === undefined) {
          this.logger.error({ error: describeError(error), outcomes: outcomes.length, tries: tries + 1 }, 'could not record delivery outcomes; their intents will be reconciled as unknown');
          return undefined;
        }
        this.logger.warn({ error: describeError(error), outcomes: outcomes.length, retryInMs: delay }, 'could not record delivery outcomes; trying again');
        if (this.stopping) return this.writeOutcomes(outcomes, tries + 1);
        return new Promise<void>((resolve) => {
          const fire = () => {
            clearTimeout(timer);
            this.retries.delete(fire);
            resolve(this.writeOutcomes(outcomes, tries + 1));
          };
          const timer = setTimeout(fire, delay);
          timer.unref?.();
          this.retries.add(fire);
        });
      },
    );
    this.track(write);
    return write;
  }
}
