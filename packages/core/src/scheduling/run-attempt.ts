// One file: an attempt's decisions (cancel, budget, rule, facts, conditions, dispatch, outcome and its
// deferrals) are the engine's retry argument, and read top to bottom only when kept together.
import { AutomationError, describeError } from '../errors.js';
import { dispatchActions, TAKEN, type DispatchContext, type DispatchOptions } from '../dispatch/dispatch-actions.js';
import type { ContactDeferralReason } from '../policy/contact-guard.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { Span } from '../ports/tracer.js';
import type { AttemptResult, TriggerStore } from '../ports/store.js';
import type { CompiledRule, Evaluation } from '../rules/compiled-rule.js';
import type { CompiledRuleCache } from '../rules/compiled-rule-cache.js';
import { currentFactsOf, factsToLoad } from '../rules/rule-facts.js';
import type { FactReference } from '../rules/rule.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { loadCurrentFacts, withEventValues, type FactLoader } from './current-facts.js';
import type { ActionOutcome, ClaimedTrigger, ErrorSummary, HistoryEntry } from './trigger.js';

export interface AttemptContext extends DispatchContext {
  store: TriggerStore;
  ruleSource: RuleSource;
  rules: CompiledRuleCache;
  maxAttempts: number;
  backoff: BackoffOptions;
  instanceId: string;
  onEvaluated?: ((trigger: ClaimedTrigger, evaluation: Evaluation) => void) | undefined;
  /** The engine's `facts` loaders, for rules that evaluate on current state. */
  facts?: Readonly<Record<string, FactLoader>> | undefined;
  /** How long a loader may take; default 5 s. */
  factTimeoutMs?: number | undefined;
}

/** The facts an attempt on the stored event alone has loaded: none (shared, never written). */
const NO_LOADED_FACTS: ReadonlySet<string> = new Set();

/** History reason of a run stopped by a cancelling event (`cancelOn`) while it was processing. */
export const CANCELLED_BY_EVENT = 'cancelled-by-event';

/** History reason of a run skipped because a `facts` loader found no entity (it returned null). */
export const ENTITY_MISSING = 'entity-missing';

/** History reason of a run skipped because a recipient fact reference resolved to nothing. */
export const RECIPIENT_MISSING = 'recipient-missing';

/**
 * Attempts counted against `maxAttempts`: those since the last manual retry, not counting attempts
 * that failed on our own infrastructure (the store or the rule source was down), so an outage of
 * the Rules Service delays triggers but does not fail them.
 */
export function attemptsInBudget(trigger: ClaimedTrigger): number {
  let base = 0;
  let free = 0;
  let deferrals = 0;
  for (const entry of trigger.executionHistory) {
    if (entry.outcome === 'retry-requested') {
      base = entry.attempt;
      free = 0;
      deferrals = 0;
    } else if (entry.reason === INFRASTRUCTURE_FAILURE || entry.reason === IN_FLIGHT_WAIT || (entry.outcome === 'retrying' && (entry.reason === QUIET_HOURS || entry.reason === CAPPED || entry.reason === THROTTLED))) {
      // Held back by the contact policy: the policy's doing, not the trigger's failing.
      free += 1;
    } else if (entry.reason === LEASE_DEFERRED) {
      // A few are the engine's doing (a batch ran long); a trigger deferred again and again cannot
      // finish within its lease at all, and must spend its budget rather than loop for ever.
      deferrals += 1;
      if (deferrals <= FREE_LEASE_DEFERRALS) free += 1;
    }
  }
  return trigger.attempt - base - free;
}

/** History reason of a run the contact policy deferred to the end of the recipient's quiet hours. */
export const QUIET_HOURS = 'quiet-hours';

/** History reason of a run deferred (`overCap: 'defer'`) or skipped because a cap was full. */
export const CAPPED = 'capped';

/** History reason of a run deferred until the channel's send throttle has a token for the account. */
export const THROTTLED = 'throttled';

/** History reason of a run whose every action was skipped because its recipient is suppressed. */
export const SUPPRESSED = 'suppressed';

/** The history reason of each contact policy deferral. */
const DEFERRAL_REASONS: Readonly<Record<ContactDeferralReason, string>> = { 'quiet-hours': QUIET_HOURS, capped: CAPPED, throttled: THROTTLED };

/** Lease deferrals of one trigger not counted against `maxAttempts`. */
export const FREE_LEASE_DEFERRALS = 3;

/** History reason of an attempt that waited for another worker's send of the same key. */
export const IN_FLIGHT_WAIT = 'in-flight';

/** History reason of a trigger completed with some send `unknown` (held for a receipt or an operator). */
export const DELIVERY_UNKNOWN = 'delivery-unknown';

/** Consecutive history entries with `reason` at the end of the history. */
function consecutiveReasons(trigger: ClaimedTrigger, reason: string): number {
  let n = 0;
  for (let i = trigger.executionHistory.length - 1; i >= 0 && trigger.executionHistory[i]?.reason === reason; i--) n += 1;
  return n;
}

/** Consecutive infrastructure failures at the end of the history, for the backoff after another. */
export function consecutiveInfrastructureFailures(trigger: ClaimedTrigger): number {
  let n = 0;
  for (let i = trigger.executionHistory.length - 1; i >= 0 && trigger.executionHistory[i]?.reason === INFRASTRUCTURE_FAILURE; i--) n += 1;
  return n;
}

/** History reason of an attempt that failed on the store or the rule source, not on the trigger. */
export const INFRASTRUCTURE_FAILURE = 'internal-error';

/**
 * History reason of a claim the engine gave back unused (or with actions left) because its lease ran
 * short before the work could start: the engine's own doing, so not counted against `maxAttempts`.
 */
export const LEASE_DEFERRED = 'lease-deferred';

/**
 * The result of an attempt that ends now with `status`. A function of the module rather than a
 * closure of each attempt: a closure made per attempt is an allocation (and, under a bundler that
 * keeps function names, a defineProperty) on every trigger.
 */
function finish(trigger: ClaimedTrigger, ctx: AttemptContext, status: AttemptResult['status'], entry: Omit<HistoryEntry, 'at' | 'attempt' | 'outcome'>, extra: Partial<AttemptResult> = {}): AttemptResult {
  const at = ctx.clock.now();
  return { status, sentActions: [], now: at, ...extra, history: { at, attempt: trigger.attempt, by: ctx.instanceId, outcome: status, ...entry } };
}

/**
 * {@link finish} for the two ends most attempts reach, as literals with the same fields in the same
 * order: a spread is a runtime call and an object more, on every trigger.
 */
function conditionsNotMet(trigger: ClaimedTrigger, ctx: AttemptContext, ruleVersion: number, conditions: HistoryEntry['conditions']): AttemptResult {
  const at = ctx.clock.now();
  return { status: 'skipped', sentActions: [], now: at, history: { at, attempt: trigger.attempt, by: ctx.instanceId, outcome: 'skipped', reason: 'conditions-not-met', ruleVersion, conditions } };
}

/** See {@link conditionsNotMet}: a run that sent what it had to, without a reason. */
function completed(trigger: ClaimedTrigger, ctx: AttemptContext, ruleVersion: number, conditions: HistoryEntry['conditions'], actions: ActionOutcome[], sentActions: number[]): AttemptResult {
  const at = ctx.clock.now();
  return { status: 'completed', sentActions, now: at, history: { at, attempt: trigger.attempt, by: ctx.instanceId, outcome: 'completed', ruleVersion, conditions, actions } };
}

/**
 * The closures an attempt hands to dispatch, made here rather than in {@link runAttempt}: a closure
 * there would put its parameters in a context object allocated on every attempt, cancellable or not.
 */
function leaseAllowsSend(ctx: AttemptContext, leaseDeadline: number): () => boolean {
  return () => ctx.clock.now().getTime() + ctx.sendTimeoutMs < leaseDeadline;
}

function cancelCheck(trigger: ClaimedTrigger, ctx: AttemptContext): () => Promise<{ id: string; name: string } | undefined> {
  return () => cancelRequestedOf(trigger, ctx);
}

/**
 * One attempt at a claimed trigger: re-read the rule as it is now, evaluate its conditions against the
 * triggering event, dispatch what is not yet sent, and decide the next status. Never throws for
 * problems of the trigger itself; those become its outcome.
 */
export async function runAttempt(trigger: ClaimedTrigger, ctx: AttemptContext, span?: Span): Promise<AttemptResult> {
  const budget = attemptsInBudget(trigger);

  if (trigger.cancelRequested) {
    // Asked to stop while another attempt held it (a store that kept it retrying): nothing more is sent.
    return finish(trigger, ctx, 'cancelled', { reason: CANCELLED_BY_EVENT, event: trigger.cancelRequested.event });
  }

  if (budget > ctx.maxAttempts) {
    // Reclaimed after its lease expired with no attempts left: a worker died on it every time. It may
    // have died after its sends: where the ledger says the provider took every action, it is done.
    const settled = await sentPerLedger(trigger, ctx);
    if (settled) return finish(trigger, ctx, 'completed', { reason: 'sent-before-lease-expired', ruleVersion: settled.ruleVersion, actions: settled.actions }, { sentActions: settled.actions.map((a) => a.index) });
    return finish(trigger, ctx, 'failed', { reason: 'max-attempts', error: { code: 'CRM_ERR_MAX_ATTEMPTS', message: `gave up after ${ctx.maxAttempts} attempts; the lease expired on the last one`, retryable: false } });
  }

  const rule = await ctx.ruleSource.getRule(trigger.accountId, trigger.ruleId);
  if (!rule) return finish(trigger, ctx, 'skipped', { reason: 'rule-deleted' });
  if (!rule.enabled) return finish(trigger, ctx, 'skipped', { reason: 'rule-disabled', ruleVersion: rule.version });

  const eventPayload = trigger.triggeringEvent.payload;
  let payload = eventPayload;
  let loadedFacts: ReadonlySet<string> = NO_LOADED_FACTS;
  if (rule.evaluate !== undefined && rule.evaluate !== 'event') {
    const loaders = ctx.facts ?? {};
    const hasLoader = (fact: string) => Object.prototype.hasOwnProperty.call(loaders, fact);
    const unloadable = currentFactsOf(rule).filter((fact) => !hasLoader(fact));
    if (unloadable.length > 0) {
      // Saved through another engine (rules are refused here without a loader): a configuration error.
      const error = new AutomationError('CRM_ERR_EVALUATION', `rule ${rule.id} evaluates ${unloadable.map((f) => `"${f}"`).join(', ')} on current state, but this engine has no loader for ${unloadable.length > 1 ? 'them' : 'it'} (facts option)`);
      return finish(trigger, ctx, 'failed', { reason: 'evaluation-error', ruleVersion: rule.version, error: describeError(error) as ErrorSummary });
    }
    const toLoad = factsToLoad(rule, eventPayload, hasLoader);
    if (toLoad.length > 0) {
      // A throw or a timeout propagates: the claim loop retries it as an infrastructure failure.
      // Loaders are user code: they see the trigger, not the lease token that proves this worker holds it.
      const { leaseToken: _lease, ...visible } = trigger;
      const current = await loadCurrentFacts(visible, toLoad, loaders, ctx.factTimeoutMs ?? 5_000, ctx.clock);
      if (!current.ok) {
        ctx.logger.info({ triggerId: trigger.id, accountId: trigger.accountId, ruleId: trigger.ruleId, fact: current.missing, entityKey: trigger.entityKey }, 'fact loader found no entity; trigger skipped');
        return finish(trigger, ctx, 'skipped', { reason: ENTITY_MISSING, ruleVersion: rule.version });
      }
      payload = { ...eventPayload, ...current.values };
      loadedFacts = new Set(toLoad);
    }
  }

  let compiled;
  let evaluation;
  try {
    compiled = ctx.rules.get(rule);
    // Awaited only when json-rules-engine decides: the compiled conditions answer at once.
    const answer = compiled.evaluateNowOrLater(payload);
    evaluation = withEventValues(answer instanceof Promise ? await answer : answer, loadedFacts, eventPayload);
  } catch (error) {
    return finish(trigger, ctx, 'failed', { reason: 'evaluation-error', ruleVersion: rule.version, error: describeError(error, 'CRM_ERR_EVALUATION') as ErrorSummary });
  }
  ctx.onEvaluated?.(trigger, evaluation);
  if (!evaluation.matched) {
    return conditionsNotMet(trigger, ctx, rule.version, evaluation.conditions);
  }

  const missingRecipients = recipientsMissing(trigger, compiled, payload);
  if (missingRecipients) {
    return finish(trigger, ctx, 'skipped', { reason: RECIPIENT_MISSING, ruleVersion: rule.version, conditions: evaluation.conditions, actions: missingRecipients });
  }

  const cancellable = (rule.cancelOn?.length ?? 0) > 0;
  const leaseDeadline = trigger.leaseExpiresAt.getTime();
  const options: DispatchOptions = { payload };
  if (cancellable) options.cancelledBy = cancelCheck(trigger, ctx);
  if (ctx.contact) options.categories = compiled.actionCategories;
  const dispatched = await dispatchActions(trigger, compiled, ctx, leaseAllowsSend(ctx, leaseDeadline), span, options);
  const entry = { ruleVersion: rule.version, conditions: evaluation.conditions, actions: dispatched.outcomes };
  const firstError = firstErrorOf(dispatched.outcomes);

  if (dispatched.cancelledBy) {
    return finish(trigger, ctx, 'cancelled', { ...entry, reason: CANCELLED_BY_EVENT, event: dispatched.cancelledBy }, { sentActions: dispatched.sent });
  }
  if (dispatched.transient && cancellable) {
    // A retry of a run that a cancelling event stopped in the meantime would only be cancelled later.
    const cancelledBy = await cancelRequestedOf(trigger, ctx);
    if (cancelledBy) return finish(trigger, ctx, 'cancelled', { ...entry, reason: CANCELLED_BY_EVENT, event: cancelledBy }, { sentActions: dispatched.sent });
  }

  if (dispatched.contactDeferred) {
    // Stopped before a send the policy holds back; what was sent stays sent, and the next claim
    // re-reads the rule and re-checks its conditions, as any claim does.
    const { until, reason } = dispatched.contactDeferred;
    return finish(trigger, ctx, 'retrying', { ...entry, reason: DEFERRAL_REASONS[reason], nextAttemptAt: until }, { sentActions: dispatched.sent, evaluateAt: until });
  }
  if (dispatched.transient && dispatched.onlyWaiting) {
    // Another worker holds the idempotency key of a send right now: wait for it, outside the budget.
    const nextAttemptAt = new Date(ctx.clock.now().getTime() + backoffDelay(consecutiveReasons(trigger, IN_FLIGHT_WAIT) + 1, ctx.backoff, dispatched.retryAfterMs));
    return finish(trigger, ctx, 'retrying', { ...entry, reason: IN_FLIGHT_WAIT, error: firstError, nextAttemptAt }, { sentActions: dispatched.sent, evaluateAt: nextAttemptAt });
  }
  if (dispatched.transient && dispatched.onlyDeferred) {
    // Nothing failed: the lease ran short before every action could start. Hand the rest back now,
    // outside the attempt budget.
    return finish(trigger, ctx, 'retrying', { ...entry, reason: LEASE_DEFERRED, nextAttemptAt: ctx.clock.now() }, { sentActions: dispatched.sent, evaluateAt: ctx.clock.now() });
  }
  if (dispatched.transient) {
    if (budget >= ctx.maxAttempts) {
      return finish(trigger, ctx, 'failed', { ...entry, reason: 'max-attempts', error: firstError }, { sentActions: dispatched.sent });
    }
    const nextAttemptAt = new Date(ctx.clock.now().getTime() + backoffDelay(budget, ctx.backoff, dispatched.retryAfterMs));
    return finish(trigger, ctx, 'retrying', { ...entry, reason: 'transient-error', error: firstError, nextAttemptAt }, { sentActions: dispatched.sent, evaluateAt: nextAttemptAt });
  }
  if (dispatched.permanent) {
    return finish(trigger, ctx, 'failed', { ...entry, reason: 'action-failed', error: firstError }, { sentActions: dispatched.sent });
  }
  if (dispatched.held.length > 0) {
    // Everything that could be sent was; what may have reached the provider waits for a receipt or
    // an operator (`engine.deliveries.resolve`), and is counted and alerted on as `unknown`.
    return finish(trigger, ctx, 'completed', { ...entry, reason: DELIVERY_UNKNOWN }, { sentActions: dispatched.sent });
  }
  if (dispatched.outcomes.length > 0 && dispatched.outcomes.every((o) => o.status === 'skipped')) {
    // Nothing of the run was sent, now or before: the policy skipped all of it.
    const reason = dispatched.outcomes.some((o) => o.reason === 'suppressed') ? SUPPRESSED : CAPPED;
    return finish(trigger, ctx, 'skipped', { ...entry, reason }, { sentActions: dispatched.sent });
  }
  return completed(trigger, ctx, entry.ruleVersion, entry.conditions, entry.actions, dispatched.sent);
}

/** The error of the first action outcome that has one. */
function firstErrorOf(outcomes: readonly ActionOutcome[]): ErrorSummary | undefined {
  for (const outcome of outcomes) if (outcome.error) return outcome.error;
  return undefined;
}

/**
 * The cancelling event of a trigger being processed, re-read from the store. A failed read is not a
 * cancel (the run goes on, as it would have had the cancel come a moment later): failing the attempt
 * instead would forget what it has sent so far.
 */
async function cancelRequestedOf(trigger: ClaimedTrigger, ctx: AttemptContext): Promise<{ id: string; name: string } | undefined> {
  try {
    const current = await ctx.store.getTrigger(trigger.accountId, trigger.id);
    return current?.cancelRequested?.event;
  } catch (error) {
    ctx.logger.warn({ triggerId: trigger.id, accountId: trigger.accountId, error: describeError(error) }, 'could not re-read the trigger for a cancel request; going on');
    return undefined;
  }
}

/**
 * The actions of a run whose recipient fact reference resolves to nothing among those not sent yet,
 * as the outcomes of a skipped run (nothing is sent), or undefined when every recipient is there.
 */
function recipientsMissing(trigger: ClaimedTrigger, compiled: CompiledRule, payload: Record<string, unknown>): ActionOutcome[] | undefined {
  // Each recipient is read once; the outcomes are built only for a run that is skipped.
  let missing: Map<number, FactReference> | undefined;
  for (let index = 0; index < compiled.actionCount; index++) {
    if (trigger.sentActions.includes(index)) continue;
    const ref = compiled.missingRecipient(index, payload);
    if (ref) (missing ??= new Map()).set(index, ref);
  }
  if (!missing) return undefined;
  const outcomes: ActionOutcome[] = [];
  for (let index = 0; index < compiled.actionCount; index++) {
    const type = compiled.actionType(index);
    if (trigger.sentActions.includes(index)) {
      outcomes.push({ index, type, status: 'already-sent' });
      continue;
    }
    const ref = missing.get(index);
    outcomes.push({
      index,
      type,
      status: 'not-attempted',
      ...(ref ? { error: { code: 'CRM_ERR_RENDER', message: `recipient ${ref.fact}${ref.path === undefined ? '' : ` at ${ref.path}`} resolved to nothing`, retryable: false } } : {}),
    });
  }
  return outcomes;
}

/**
 * Every action of the trigger's rule, with the ledger's record of a send the provider took, or
 * undefined when any action lacks one (or there is no ledger, or no rule to count the actions of).
 */
async function sentPerLedger(trigger: ClaimedTrigger, ctx: AttemptContext): Promise<{ ruleVersion: number; actions: ActionOutcome[] } | undefined> {
  if (!ctx.deliveries) return undefined;
  try {
    const rule = await ctx.ruleSource.getRule(trigger.accountId, trigger.ruleId);
    if (!rule || rule.actions.length === 0) return undefined;
    const sends = await ctx.deliveries.ledger.deliveriesOfTrigger(trigger.accountId, trigger.id);
    const actions: ActionOutcome[] = [];
    for (let index = 0; index < rule.actions.length; index++) {
      const taken = sends.find((d) => d.actionIndex === index && TAKEN.has(d.state));
      const type = rule.actions[index]?.type ?? 'unknown';
      if (trigger.sentActions.includes(index)) actions.push({ index, type, status: 'already-sent' });
      else if (taken) actions.push({ index, type, status: 'already-sent', deliveryId: taken.id });
      else return undefined;
    }
    return { ruleVersion: rule.version, actions };
  } catch {
    // Reading failed: the trigger fails as it would have without a ledger.
    return undefined;
  }
}
