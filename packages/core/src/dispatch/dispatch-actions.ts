// One file: the order of a send (hold checks, ledger intent, gateway call under the abort signal,
// outcome, failover) is the exactly-once argument, and it reads top to bottom only when kept together.
import { BUILT_IN_COMMAND_SCHEMAS, checkCommandParams, isBuiltInActionType } from '../actions/built-in.js';
import { AutomationError, describeError } from '../errors.js';
import type { ActionCommand, ChannelGateway, ChannelMap, SendContext } from '../ports/gateway.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { hasTraceContext, type Span, type Tracer } from '../ports/tracer.js';
import type { Delivery, DeliveryOutcome, NewDelivery } from '../ports/delivery-ledger.js';
import { normalizedRecipient } from '../actions/contact-points.js';
import type { DeliveryRecorder } from './delivery-recorder.js';
import type { CompiledRule } from '../rules/compiled-rule.js';
import type { ActionOutcome, ClaimedTrigger, ErrorSummary } from '../scheduling/trigger.js';
import type { MessageCategory } from '../policy/contact-policy.js';
import { AttemptContactGuard, isProviderOptOut, type ContactDeferralReason, type ContactPorts } from '../policy/contact-guard.js';
import type { ReleaseRequest } from '../ports/contact-policy.js';

export interface DispatchContext {
  channels: ChannelMap;
  tracer: Tracer;
  clock: Clock;
  logger: Logger;
  sendTimeoutMs: number;
  /** The delivery ledger, batched; without one, sends are not recorded beyond the trigger's history. */
  deliveries?: DeliveryRecorder | undefined;
  /**
   * The contact policy (suppressions, quiet hours, caps), when the engine has any of its stores;
   * without it dispatch makes no policy reads at all.
   */
  contact?: ContactPorts | undefined;
  /** Hooks for observers (events, metrics). */
  onSent?: ((info: ActionObservation & { command: ActionCommand; result: unknown }) => void) | undefined;
  onFailed?: ((info: ActionObservation & { command: ActionCommand | undefined; error: ErrorSummary }) => void) | undefined;
  /**
   * A delivery dispatch moved outside a send of its own: an earlier attempt's `intent` found held
   * (`unknown`), or a timed-out send the provider accepted late. The engine's `delivery:changed`.
   */
  onDeliveryChanged?: ((delivery: Delivery) => void) | undefined;
}

/** What observers (metrics, logs) learn about each send. */
export interface ActionObservation {
  /** The gateway's `name`, else the action type. */
  provider: string;
  type: string;
  accountId: string;
  durationMs: number;
}

export interface DispatchResult {
  outcomes: ActionOutcome[];
  /** Indexes sent in this attempt. */
  sent: number[];
  /** Some action failed transiently and may succeed on a later attempt. */
  transient: boolean;
  /** Some action failed permanently (now or in an earlier attempt). */
  permanent: boolean;
  /** Largest Retry-After any gateway asked for. */
  retryAfterMs?: number | undefined;
  /** The only transient outcomes are actions deferred because the lease ran short (none failed). */
  onlyDeferred: boolean;
  /** The only transient failures are another worker holding the same idempotency key (a wait). */
  onlyWaiting: boolean;
  /**
   * Actions whose send is `unknown` (it may have reached the provider) through a gateway that cannot
   * deduplicate: held, not retried, until a receipt or an operator resolves them.
   */
  held: number[];
  /** A cancelling event stopped the run before an action it had not sent (see {@link DispatchOptions}). */
  cancelledBy?: { id: string; name: string } | undefined;
  /**
   * The contact policy held action `index` back (quiet hours, a full cap with `overCap: 'defer'`, or
   * the channel's throttle): the run stops there and runs again at `until`; the actions after it are
   * `not-attempted`.
   */
  contactDeferred?: { index: number; reason: ContactDeferralReason; until: Date } | undefined;
}

export interface DispatchOptions {
  /** What templates and fact references render from; the stored event's payload when absent. */
  payload?: Record<string, unknown> | undefined;
  /**
   * Asked before each action that would be sent now: the cancelling event, when the run must stop
   * there. Once it answers, the actions not yet sent are `not-attempted`; those sent stay sent.
   */
  cancelledBy?: (() => Promise<{ id: string; name: string } | undefined>) | undefined;
  /** Each action's category (the rule's `actions[i].category`), for the contact policy; absent: marketing. */
  categories?: readonly (MessageCategory | undefined)[] | undefined;
}

/** Indexes whose send ended `unknown` in an earlier attempt (since the last manual retry). */
export function heldActions(trigger: ClaimedTrigger): Set<number> {
  const held = new Set<number>();
  for (const entry of trigger.executionHistory) {
    if (entry.outcome === 'retry-requested') held.clear();
    for (const action of entry.actions ?? []) if (action.status === 'unknown') held.add(action.index);
  }
  return held;
}

/** Indexes whose send failed with a non-retryable error in an earlier attempt; they are not retried. */
export function permanentlyFailedActions(trigger: ClaimedTrigger): Set<number> {
  const failed = new Set<number>();
  for (const entry of trigger.executionHistory) {
    if (entry.outcome === 'retry-requested') failed.clear();
    for (const action of entry.actions ?? []) {
      if (action.status === 'failed' && action.error && !action.error.retryable) failed.add(action.index);
    }
  }
  return failed;
}

/** A send the engine stopped waiting for: it may still have reached the provider. */
class SendTimeoutError extends AutomationError {
  readonly ambiguous = true;
  constructor(ms: number) {
    super('CRM_ERR_GATEWAY', `gateway did not answer within ${ms} ms; the send was aborted and may have reached the provider`, { retryable: true });
    this.name = 'SendTimeoutError';
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), ambiguous: true };
  }
}

/**
 * The `{ signal }` a gateway's send is given, with the AbortController made on the first read of
 * `signal` (aborted at once, with the same reason, when the send has timed out by then): making one
 * costs more than the rest of a send to a fast in-process gateway, which need not read it at all.
 */
function lazyAbort(): { options: SendContext; abort(reason: unknown): void } {
  let controller: AbortController | undefined;
  let aborted = false;
  let abortReason: unknown;
  return {
    // An own enumerable property, as in `{ signal }`: a gateway may spread the options or pass them on.
    options: {
      get signal(): AbortSignal {
        if (!controller) {
          controller = new AbortController();
          if (aborted) controller.abort(abortReason);
        }
        return controller.signal;
      },
    },
    abort(reason) {
      aborted = true;
      abortReason = reason;
      controller?.abort(reason);
    },
  };
}

/**
 * How long, after aborting a send at its timeout, the engine waits for the gateway's own answer in
 * real time (not the engine's clock): a gateway still resolving the host or connecting knows nothing
 * left this process and says so (`ambiguous: false`), which makes the send an ordinary transient
 * failure rather than an `unknown` held for an operator; a gateway that ignores the signal costs this
 * much once.
 */
export const ABORT_GRACE_MS = 250;

/**
 * The gateway's error after an abort tells how the send ended: nothing left this process (a
 * `GatewayError` that is not `ambiguous`), or the provider answered with a refusal. A plain error, or
 * the abort reason passed on, tells nothing.
 */
function saysHowItEnded(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || error instanceof SendTimeoutError) return false;
  const { ambiguous, retryable } = error as { ambiguous?: unknown; retryable?: unknown };
  return ambiguous === false || (retryable === false && ambiguous !== true);
}

/**
 * The send under the engine's timeout. At the timeout the signal is aborted; the send then fails with
 * the gateway's own answer if it comes within {@link ABORT_GRACE_MS} and says more than "may have
 * reached the provider" (an acceptance, a refusal, nothing written), else as a `SendTimeoutError`
 * (ambiguous). An acceptance after that is handed to `onLate`: the provider did take the message.
 */
function withTimeout<T>(send: (options: SendContext) => Promise<T>, ms: number, clock: Clock, onLate?: (value: T) => void): Promise<T> {
  const abort = lazyAbort();
  const promise = send(abort.options);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timedOut: SendTimeoutError | undefined;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const cancel = clock.setTimer(ms, () => {
      timedOut = new SendTimeoutError(ms);
      abort.abort(timedOut);
      const reason = timedOut;
      grace = setTimeout(() => {
        settled = true;
        reject(reason);
      }, ABORT_GRACE_MS);
    });
    const finish = () => {
      settled = true;
      cancel();
      if (grace !== undefined) clearTimeout(grace);
    };
    promise.then(
      (value) => {
        if (settled) return onLate?.(value);
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        // Past the timeout, only an answer that says how the send ended replaces "it may have reached the provider".
        reject(timedOut === undefined || saysHowItEnded(error) ? error : timedOut);
      },
    );
  });
}

/** Ledger states that mean the provider took the message (a receipt or an operator may say so). */
/** States of a delivery the provider took. */
export const TAKEN: ReadonlySet<Delivery['state']> = new Set(['accepted', 'delivered', 'undelivered', 'bounced', 'failed']);

const NO_INDEXES: ReadonlySet<number> = new Set();
const NO_DELIVERIES: readonly Delivery[] = [];
const NO_LATEST: ReadonlyMap<number, Delivery> = new Map();
const NO_SENDS: ReadonlyMap<number, Delivery[]> = new Map();

/** The latest delivery of each action of a trigger, from its earlier attempts. */
function latestByAction(deliveries: readonly Delivery[]): Map<number, Delivery> {
  const latest = new Map<number, Delivery>();
  for (const d of deliveries) {
    const seen = latest.get(d.actionIndex);
    if (!seen || d.attempt > seen.attempt || (d.attempt === seen.attempt && d.createdAt >= seen.createdAt)) latest.set(d.actionIndex, d);
  }
  return latest;
}

/** Every delivery of each action, oldest first. */
function byAction(deliveries: readonly Delivery[]): Map<number, Delivery[]> {
  const out = new Map<number, Delivery[]>();
  for (const d of deliveries) (out.get(d.actionIndex) ?? out.set(d.actionIndex, []).get(d.actionIndex))?.push(d);
  return out;
}

/**
 * The providers to skip when an action's last send was reported undelivered soon enough after its
 * acceptance and its gateway can fail over to a provider not yet tried; undefined otherwise.
 */
export function failoverAfter(gateway: ChannelGateway | undefined, sends: readonly Delivery[], last: Delivery): string[] | undefined {
  const within = gateway?.failover?.undeliveredWithinMs;
  if (within === undefined || last.state !== 'undelivered') return undefined;
  const accepted = last.events.find((e) => e.state === 'accepted')?.at ?? last.createdAt;
  const undelivered = last.events.find((e) => e.state === 'undelivered')?.at ?? last.updatedAt;
  if (undelivered.getTime() - accepted.getTime() > within) return undefined;
  const failed = [...new Set(sends.filter((d) => d.state === 'undelivered').map((d) => d.provider))];
  const remaining = (gateway?.failover?.providers ?? []).filter((p) => !failed.includes(p));
  return remaining.length > 0 ? failed : undefined;
}

/** The provider's message id and name in what a gateway returned (`{ provider, id }` receipts). */
export function receiptOf(result: unknown): { providerId?: string; provider?: string } {
  if (typeof result !== 'object' || result === null) return NO_RECEIPT;
  const { id, provider } = result as { id?: unknown; provider?: unknown };
  // Built field by field rather than from spreads: this runs on every send.
  const receipt: { providerId?: string; provider?: string } = {};
  if (typeof id === 'string' && id !== '') receipt.providerId = id;
  if (typeof provider === 'string' && provider !== '') receipt.provider = provider;
  return receipt;
}

/** What a gateway that returned no object (a no-op, `undefined`) tells about the provider: nothing. */
const NO_RECEIPT: { providerId?: string; provider?: string } = Object.freeze({});

/**
 * The ledger intent of a send, fields in the order they always had; two literals rather than a
 * spread of the optional recipient, which V8 would define through the runtime on every send.
 */
function intentOf(trigger: ClaimedTrigger, actionIndex: number, type: string, provider: string, idempotencyKey: string, recipient: string | undefined, dedupes: boolean, at: Date): NewDelivery {
  const { accountId, id: triggerId, ruleId, attempt } = trigger;
  return recipient === undefined
    ? { accountId, triggerId, ruleId, actionIndex, attempt, type, provider, idempotencyKey, dedupes, at }
    : { accountId, triggerId, ruleId, actionIndex, attempt, type, provider, idempotencyKey, recipient, dedupes, at };
}

/** A sent action's outcome: `result` only when the gateway returned one, `deliveryId` only with a ledger. */
function sentOutcome(index: number, type: string, sent: unknown, durationMs: number, delivery: Delivery | undefined): ActionOutcome {
  const outcome: ActionOutcome = { index, type, status: 'sent' };
  if (sent !== undefined) outcome.result = sent;
  outcome.durationMs = durationMs;
  if (delivery) outcome.deliveryId = delivery.id;
  return outcome;
}

/**
 * The closures a send hands to {@link withTimeout}, made here rather than in {@link dispatchActions}:
 * a closure there would put the trigger, the context and the loop's index in context objects made on
 * every attempt and every action.
 */
function sendThrough(gateway: ChannelGateway, command: ActionCommand): (options: SendContext) => Promise<unknown> {
  return (options) => gateway.send(command, options);
}

/** The provider took a send after the engine stopped waiting: the `unknown` it recorded becomes what happened. */
function lateAcceptance(ctx: DispatchContext, recorder: DeliveryRecorder, trigger: ClaimedTrigger, index: number, recorded: Delivery): (late: unknown) => void {
  return (late) => {
    const receipt = receiptOf(late);
    const at = ctx.clock.now();
    recorder.outcome({ id: recorded.id, state: 'accepted', at, source: 'reconcile', ...(receipt.providerId ? { providerId: receipt.providerId } : {}), ...(receipt.provider && receipt.provider !== recorded.provider ? { provider: receipt.provider } : {}) });
    ctx.onDeliveryChanged?.({ ...recorded, state: 'accepted', updatedAt: at, ...(receipt.providerId ? { providerId: receipt.providerId } : {}), ...(receipt.provider ? { provider: receipt.provider } : {}) });
    ctx.logger.info({ ruleId: trigger.ruleId, triggerId: trigger.id, accountId: trigger.accountId, actionIndex: index, deliveryId: recorded.id, providerId: receipt.providerId }, 'a send that timed out was accepted by the provider after all');
  };
}

/**
 * Sends every action of a matched trigger that is not yet done, in order. Actions are independent:
 * one failing does not stop the others. Actions sent in an earlier attempt are never sent again, and
 * with a ledger neither are actions whose earlier send may have reached the provider (`intent` or
 * `unknown`), unless their gateway deduplicates by our key.
 */
export async function dispatchActions(
  trigger: ClaimedTrigger,
  rule: CompiledRule,
  ctx: DispatchContext,
  /** Returns false when the lease has too little time left to start another send. */
  canStartSend: () => boolean,
  parentSpan?: Span,
  options: DispatchOptions = {},
): Promise<DispatchResult> {
  // Shared empty sets and maps for a trigger with no history (a first attempt): nothing to look up.
  const alreadySent = trigger.sentActions;
  const failedBefore = trigger.executionHistory.length === 0 ? NO_INDEXES : permanentlyFailedActions(trigger);
  const result: DispatchResult = { outcomes: [], sent: [], transient: false, permanent: failedBefore.size > 0, onlyDeferred: false, onlyWaiting: false, held: [] };
  let deferred = 0;
  let failedTransiently = 0;
  let waiting = 0;
  const payload = options.payload ?? trigger.triggeringEvent.payload;
  const recorder = ctx.deliveries;
  // A first attempt has no earlier sends; a later one (a retry, or a takeover after a crash) reads them.
  // Without a ledger, the history is what remembers a send that may have reached the provider.
  const heldBefore = recorder || trigger.executionHistory.length === 0 ? NO_INDEXES : heldActions(trigger);
  const history = recorder && trigger.attempt > 1 ? await recorder.ledger.deliveriesOfTrigger(trigger.accountId, trigger.id) : NO_DELIVERIES;
  const earlier = history.length === 0 ? NO_LATEST : latestByAction(history);
  const earliest = history.length === 0 ? NO_SENDS : byAction(history);
  const contact = ctx.contact;
  const guard = contact ? new AttemptContactGuard(contact, trigger.accountId, trigger.id, payload, ctx.logger, trigger.attempt) : undefined;

  for (let index = 0; index < rule.actionCount; index++) {
    const type = rule.actionType(index);
    const last = earlier.get(index);
    // A receipt said undelivered soon after acceptance and the gateway has another provider to try.
    const failover = last ? failoverAfter(ctx.channels[type], earliest.get(index) ?? [], last) : undefined;
    if ((alreadySent.includes(index) && !failover) || failedBefore.has(index)) {
      result.outcomes.push({ index, type, status: alreadySent.includes(index) ? 'already-sent' : 'not-attempted' });
      continue;
    }
    if (!recorder && heldBefore.has(index)) {
      result.held.push(index);
      result.outcomes.push({ index, type, status: 'unknown', error: { code: 'CRM_ERR_DELIVERY_UNKNOWN', message: 'an earlier send may have reached the provider; not sent again without an operator', retryable: false } });
      continue;
    }
    if (last && TAKEN.has(last.state) && !failover) {
      // The provider took it, but the attempt that sent it never recorded so (it died, or its write failed).
      result.sent.push(index);
      result.outcomes.push({ index, type, status: 'already-sent', deliveryId: last.id });
      continue;
    }
    if (last && (last.state === 'intent' || last.state === 'unknown') && !ctx.channels[type]?.dedupes) {
      const error: ErrorSummary = { code: 'CRM_ERR_DELIVERY_UNKNOWN', message: `an earlier send (attempt ${last.attempt}) may have reached the provider, which cannot deduplicate it; waiting for a receipt or an operator`, retryable: false };
      if (last.state === 'intent' && recorder) {
        const at = ctx.clock.now();
        recorder.outcome({ id: last.id, state: 'unknown', at, source: 'reconcile', error });
        // Counted like any unknown send (metrics, the CrmDeliveriesUnknown alert): an engine that died mid-send.
        ctx.onDeliveryChanged?.({ ...last, state: 'unknown', error, updatedAt: at });
      }
      result.held.push(index);
      result.outcomes.push({ index, type, status: 'unknown', deliveryId: last.id, error });
      continue;
    }
    if (result.contactDeferred) {
      result.outcomes.push({ index, type, status: 'not-attempted' });
      continue;
    }
    if (!result.cancelledBy && options.cancelledBy) result.cancelledBy = await options.cancelledBy();
    if (result.cancelledBy) {
      result.outcomes.push({ index, type, status: 'not-attempted' });
      continue;
    }
    if (!canStartSend()) {
      result.transient = true;
      deferred += 1;
      result.outcomes.push({ index, type, status: 'not-attempted', error: { code: 'CRM_ERR_GATEWAY', message: 'lease nearly expired; deferred to the next attempt', retryable: true } });
      continue;
    }
    const started = Date.now();
    let command: ActionCommand | undefined;
    const span = ctx.tracer.startSpan('crm.action.send', {
      parent: parentSpan,
      kind: 'client',
      attributes: { 'crm.action_index': index, 'crm.action_type': type, 'crm.trigger_id': trigger.id, 'crm.rule_id': trigger.ruleId, 'crm.account_id': trigger.accountId },
    });
    let delivery: Delivery | undefined;
    let recipient: string | undefined;
    let reservation: ReleaseRequest | undefined;
    try {
      const rendered = rule.render(index, payload);
      command = {
        type: rendered.type,
        params: rendered.params,
        metadata: {
          source: 'automation-engine',
          ruleId: trigger.ruleId,
          triggerId: trigger.id,
          accountId: trigger.accountId,
          actionIndex: index,
          idempotencyKey: `${trigger.id}:${index}`,
        },
      };
      const trace = span.carrier();
      if (hasTraceContext(trace)) command.trace = trace;
      const gateway = ctx.channels[rendered.type];
      if (!gateway) {
        throw new AutomationError('CRM_ERR_NO_GATEWAY', `no gateway is configured for action type "${rendered.type}"`);
      }
      const schema = gateway.commandSchema ?? (isBuiltInActionType(rendered.type) ? BUILT_IN_COMMAND_SCHEMAS[rendered.type] : undefined);
      if (schema) checkCommandParams(rendered.type, schema, rendered.params);
      if (recorder || guard) recipient = normalizedRecipient(rendered.type, rendered.params);
      if (guard && contact) {
        // Before the intent: a send the policy holds back or skips never reaches the ledger.
        const decision = await guard.check(rendered.type, recipient, options.categories?.[index], command.metadata.idempotencyKey, ctx.clock.now());
        if (decision.kind === 'skip') {
          span.setAttributes({ 'crm.contact_policy': decision.reason });
          result.outcomes.push({ index, type, status: 'skipped', reason: decision.reason });
          contact.onSkipped?.({ trigger, actionIndex: index, reason: decision.reason });
          continue;
        }
        if (decision.kind === 'defer') {
          span.setAttributes({ 'crm.contact_policy': `deferred:${decision.reason}` });
          result.contactDeferred = { index, reason: decision.reason, until: decision.until };
          result.outcomes.push({ index, type, status: 'not-attempted' });
          contact.onDeferred?.({ trigger, actionIndex: index, reason: decision.reason, until: decision.until });
          continue;
        }
        reservation = decision.reservation;
      }
      if (recorder) {
        // Before the gateway is called: if this process dies mid-send, the intent says so.
        delivery = await recorder.intent(intentOf(trigger, index, rendered.type, gateway.name ?? rendered.type, command.metadata.idempotencyKey, recipient, gateway.dedupes === true, ctx.clock.now()));
        command.metadata.deliveryId = delivery.id;
      }
      if (failover) command.metadata.excludeProviders = failover;
      const sent = await withTimeout(sendThrough(gateway, command), ctx.sendTimeoutMs, ctx.clock, delivery && recorder ? lateAcceptance(ctx, recorder, trigger, index, delivery) : undefined);
      const durationMs = Date.now() - started;
      result.sent.push(index);
      result.outcomes.push(sentOutcome(index, type, sent, durationMs, delivery));
      const receipt = receiptOf(sent);
      if (delivery && recorder) {
        const accepted: DeliveryOutcome = { id: delivery.id, state: 'accepted', at: ctx.clock.now() };
        if (receipt.providerId) accepted.providerId = receipt.providerId;
        if (receipt.provider && receipt.provider !== delivery.provider) accepted.provider = receipt.provider;
        recorder.outcome(accepted);
        // Earlier sends of this action left `intent` or `unknown` carried the same idempotency key to a
        // provider that deduplicates by it: they and this one are one message, now known accepted.
        if (gateway.dedupes) {
          for (const before of earliest.get(index) ?? []) {
            if (before.id === delivery.id || before.idempotencyKey !== delivery.idempotencyKey || (before.state !== 'intent' && before.state !== 'unknown')) continue;
            recorder.outcome({ id: before.id, state: 'accepted', at: ctx.clock.now(), source: 'reconcile', ...(receipt.providerId ? { providerId: receipt.providerId } : {}) });
          }
        }
      }
      // The provider that took it, as the receipt names it: through a Notification Service or a
      // failover gateway, that is the real provider rather than the gateway in front of it.
      ctx.onSent?.({ command, result: sent, durationMs, type, provider: receipt.provider ?? gateway.name ?? type, accountId: trigger.accountId });
    } catch (thrown) {
      const durationMs = Date.now() - started;
      const error = describeError(thrown) as ErrorSummary;
      const gateway = ctx.channels[type];
      const ambiguous = error['ambiguous'] === true;
      // The provider the error names (a Notification Service's answer, a failover gateway's last refusal), as for a send.
      const named = typeof error['provider'] === 'string' && error['provider'] !== '' ? error['provider'] : undefined;
      if (delivery && recorder) {
        const outcome: DeliveryOutcome = { id: delivery.id, state: ambiguous ? 'unknown' : 'refused', at: ctx.clock.now(), error };
        if (named !== undefined && named !== delivery.provider) outcome.provider = named;
        recorder.outcome(outcome);
      }
      // The provider says the recipient opted out (Twilio 21610): suppressed from now on, not a failure.
      const optedOut = guard !== undefined && recipient !== undefined && !ambiguous && isProviderOptOut(error);
      if (guard && !ambiguous && (optedOut || !error.retryable)) await guard.release(reservation);
      if (optedOut && guard && recipient !== undefined) {
        await guard.providerOptOut(type, recipient, `${String(error['providerCode'])}: ${error.message}`.slice(0, 1_000), ctx.clock.now());
        result.outcomes.push({ index, type, status: 'skipped', reason: 'suppressed', error, durationMs, ...(delivery ? { deliveryId: delivery.id } : {}) });
        contact?.onSkipped?.({ trigger, actionIndex: index, reason: 'suppressed' });
      } else if (ambiguous && !gateway?.dedupes) {
        // It may have reached the provider, which could not tell a second send from the first.
        result.held.push(index);
        result.outcomes.push({ index, type, status: 'unknown', error: { ...error, retryable: false }, durationMs, ...(delivery ? { deliveryId: delivery.id } : {}) });
      } else {
        if (error.retryable) {
          result.transient = true;
          failedTransiently += 1;
          if (error.code === 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT') waiting += 1;
          const after = error['retryAfterMs'];
          if (typeof after === 'number') result.retryAfterMs = Math.max(result.retryAfterMs ?? 0, after);
        } else {
          result.permanent = true;
        }
        result.outcomes.push({ index, type, status: 'failed', error, durationMs, ...(delivery ? { deliveryId: delivery.id } : {}) });
      }
      span.recordError(thrown);
      ctx.onFailed?.({ command, error, durationMs, type, provider: named ?? gateway?.name ?? type, accountId: trigger.accountId });
      ctx.logger.warn(
        { ruleId: trigger.ruleId, triggerId: trigger.id, accountId: trigger.accountId, actionIndex: index, error, ...(delivery ? { deliveryId: delivery.id } : {}) },
        ambiguous ? 'action outcome unknown' : 'action failed',
      );
    } finally {
      span.end();
    }
  }
  result.onlyDeferred = deferred > 0 && failedTransiently === 0 && !result.permanent;
  result.onlyWaiting = waiting > 0 && waiting === failedTransiently && !result.permanent;
  return result;
}
