import { RuleLookupUnavailableError } from './rule-lookup-error.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failed calls that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before letting one trial call through. */
  cooldownMs: number;
  now?: (() => number) | undefined;
  onStateChange?: ((state: CircuitState, reason: string) => void) | undefined;
  /** What the refusals name. Default `rules service`. */
  service?: string | undefined;
  /** The error a refused call fails with. Default {@link RuleLookupUnavailableError} (retryable). */
  unavailable?: ((message: string) => Error) | undefined;
}

/**
 * A circuit breaker around calls to another service (the rules service; the CRM, for the `facts.job`
 * loader). After `failureThreshold` consecutive failures
 * it opens: calls fail at once (no timeout to wait out), so a dead or hung service costs the
 * claim loop nothing. After `cooldownMs` one trial call goes through (half-open); its success closes
 * the circuit, its failure opens it for another cooldown. Other calls fail fast during the trial.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: CircuitState = 'closed';
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!(options.failureThreshold >= 1) || !(options.cooldownMs >= 0)) throw new Error('CircuitBreaker needs failureThreshold >= 1 and cooldownMs >= 0');
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.current;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    let trial = false;
    if (this.current === 'open') {
      const waited = this.now() - this.openedAt;
      if (waited < this.options.cooldownMs) {
        throw this.refusal(`circuit open (retrying in ${this.options.cooldownMs - waited} ms)`);
      }
      this.transition('half-open', 'cooldown over: trying one call');
    }
    if (this.current === 'half-open') {
      if (this.trialInFlight) throw this.refusal('circuit half-open: a trial call is in flight');
      this.trialInFlight = true;
      trial = true;
    }
    try {
      const result = await call();
      this.failures = 0;
      if (this.current !== 'closed') this.transition('closed', 'call succeeded');
      return result;
    } catch (error) {
      this.failures += 1;
      if (trial || this.failures >= this.options.failureThreshold) {
        this.openedAt = this.now();
        if (this.current !== 'open') this.transition('open', error instanceof Error ? error.message : String(error));
      }
      throw error;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  private refusal(why: string): Error {
    const message = `${this.options.service ?? 'rules service'} ${why}`;
    return this.options.unavailable ? this.options.unavailable(message) : new RuleLookupUnavailableError(message);
  }

  private transition(state: CircuitState, reason: string) {
    this.current = state;
    this.options.onStateChange?.(state, reason);
  }
}
