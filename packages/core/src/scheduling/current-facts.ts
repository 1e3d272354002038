import { AutomationError, describeError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { resolvePath } from '../rules/json-path.js';
import type { Evaluation } from '../rules/compiled-rule.js';
import type { Trigger, TriggeringEvent } from './trigger.js';

/** What a `facts` loader is told about the trigger that fires. */
export interface FactLoaderContext {
  accountId: string;
  /** The fact to load (the key of the `facts` option). */
  fact: string;
  /** The stored triggering event, payload as it arrived. */
  event: TriggeringEvent;
  trigger: Trigger;
  /** The trigger's entity key (keyed rules: `trigger.key` resolved in the payload). */
  entityKey?: string | undefined;
  /** Aborted when the load takes longer than `factTimeoutMs`; pass it on to `fetch`. */
  signal: AbortSignal;
}

/**
 * Loads the current value of one fact. `null` or `undefined` means the entity is gone: the trigger is
 * skipped with reason `entity-missing`. A throw is an infrastructure failure: the attempt is retried
 * with backoff outside its attempt budget.
 */
export type FactLoader = (context: FactLoaderContext) => Promise<unknown>;

/** A loader failed or did not answer in time: retried like a store failure. */
export class FactLoadError extends AutomationError {
  readonly fact: string;
  constructor(fact: string, message: string, cause?: unknown) {
    super('CRM_ERR_EVALUATION', message, { retryable: true, cause });
    this.name = 'FactLoadError';
    this.fact = fact;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), fact: this.fact };
  }
}

export type CurrentFacts = { ok: true; values: Record<string, unknown> } | { ok: false; missing: string };

function loadOne(fact: string, loader: FactLoader, trigger: Trigger, timeoutMs: number, clock: Clock): Promise<unknown> {
  const controller = new AbortController();
  return new Promise<unknown>((resolve, reject) => {
    const cancel = clock.setTimer(timeoutMs, () => {
      const error = new FactLoadError(fact, `facts.${fact} did not answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    });
    let loading: Promise<unknown>;
    try {
      loading = Promise.resolve(
        loader({ accountId: trigger.accountId, fact, event: trigger.triggeringEvent, trigger, ...(trigger.entityKey === undefined ? {} : { entityKey: trigger.entityKey }), signal: controller.signal }),
      );
    } catch (error) {
      loading = Promise.reject(error);
    }
    loading.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(new FactLoadError(fact, `facts.${fact} failed: ${describeError(error, 'CRM_ERR_EVALUATION').message}`, error));
      },
    );
  });
}

/**
 * Loads `facts` at once. Resolves with their values, or with the first fact (in `facts` order) whose
 * loader said the entity is gone; rejects with a {@link FactLoadError} when a loader throws or times out.
 */
export async function loadCurrentFacts(
  trigger: Trigger,
  facts: readonly string[],
  loaders: Readonly<Record<string, FactLoader>>,
  timeoutMs: number,
  clock: Clock,
): Promise<CurrentFacts> {
  const loaded = await Promise.all(
    facts.map((fact) => {
      const loader = loaders[fact];
      if (!loader) return Promise.reject(new FactLoadError(fact, `no loader for fact "${fact}"`));
      return loadOne(fact, loader, trigger, timeoutMs, clock);
    }),
  );
  const values: Record<string, unknown> = {};
  for (let i = 0; i < facts.length; i++) {
    const fact = facts[i] as string;
    const value = loaded[i];
    if (value === undefined || value === null) return { ok: false, missing: fact };
    values[fact] = value;
  }
  return { ok: true, values };
}

/** Adds, to each condition on a loaded fact, the value the same path had in the stored event. */
export function withEventValues(evaluation: Evaluation, loaded: ReadonlySet<string>, eventPayload: Record<string, unknown>): Evaluation {
  if (loaded.size === 0) return evaluation;
  const own = (fact: string) => (Object.prototype.hasOwnProperty.call(eventPayload, fact) ? eventPayload[fact] : undefined);
  return {
    ...evaluation,
    conditions: evaluation.conditions.map((c) => {
      if (!loaded.has(c.fact)) return c;
      let eventValue: unknown;
      try {
        eventValue = resolvePath(own(c.fact), c.factPath);
      } catch {
        // The same path resolved on the current value; an event too costly to walk leaves it out.
        return c;
      }
      return { ...c, eventValue };
    }),
  };
}
