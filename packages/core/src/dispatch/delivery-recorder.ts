import { describeError } from '../errors.js';
import type { Delivery, DeliveryLedger, DeliveryOutcome, NewDelivery } from '../ports/delivery-ledger.js';
import type { Logger } from '../ports/logger.js';

/**
 * Writes the ledger for dispatch: intents are batched across the triggers running at once (one
 * `recordIntents` per turn of the event loop) and awaited, since a send may start only once its
 * intent is stored; outcomes are batched the same way but not awaited by the send, and a failed write
 * leaves the intent behind for reconciliation (`staleIntents`) rather than failing the trigger.
 */
export class DeliveryRecorder {
  private intents: Array<{ intent: NewDelivery; resolve: (d: Delivery) => void; reject: (e: unknown) => void }> = [];
  private outcomes: DeliveryOutcome[] = [];
  private scheduled = false;
  private writing = new Set<Promise<unknown>>();

  constructor(
    readonly ledger: DeliveryLedger,
    private readonly logger: Logger,
  ) {}

  intent(intent: NewDelivery): Promise<Delivery> {
    return new Promise<Delivery>((resolve, reject) => {
      this.intents.push({ intent, resolve, reject });
      this.schedule();
    });
  }

  outcome(outcome: DeliveryOutcome): void {
    this.outcomes.push(outcome);
    this.schedule();
  }

  /** Resolves when every outcome queued so far is written (or has failed and been logged). */
  async flushed(): Promise<void> {
    if (this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.all([...this.writing]);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private track(write: Promise<unknown>): void {
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }

  private flush(): void {
    this.scheduled = false;
    const intents = this.intents;
    const outcomes = this.outcomes;
    this.intents = [];
    this.outcomes = [];
    if (intents.length > 0) {
      const write = this.ledger.recordIntents(intents.map((i) => i.intent)).then(
        (recorded) => intents.forEach((i, n) => (recorded[n] ? i.resolve(recorded[n]) : i.reject(new Error('the ledger returned fewer intents than it was given')))),
        (error: unknown) => intents.forEach((i) => i.reject(error)),
      );
      this.track(write);
    }
    if (outcomes.length > 0) {
      const write = this.ledger.recordOutcomes(outcomes).catch((error: unknown) => {
        this.logger.error({ error: describeError(error), outcomes: outcomes.length }, 'could not record delivery outcomes; their intents will be reconciled');
      });
      this.track(write);
    }
  }
}
