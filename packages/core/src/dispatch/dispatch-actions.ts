import { BUILT_IN_COMMAND_SCHEMAS, checkCommandParams, isBuiltInActionType } from '../actions/built-in.js';
import { AutomationError, describeError } from '../errors.js';
import type { ActionCommand, ChannelMap } from '../ports/gateway.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import { hasTraceContext, type Span, type Tracer } from '../ports/tracer.js';
import type { CompiledRule } from '../rules/compiled-rule.js';
import type { ActionOutcome, ClaimedTrigger, ErrorSummary } from '../scheduling/trigger.js';

export interface DispatchContext {
  channels: ChannelMap;
  tracer: Tracer;
  clock: Clock;
  logger: Logger;
  sendTimeoutMs: number;
  /** Hooks for observers (events, metrics). */
  onSent?: ((info: ActionObservation & { command: ActionCommand; result: unknown }) => void) | undefined;
  onFailed?: ((info: ActionObservation & { command: ActionCommand | undefined; error: ErrorSummary }) => void) | undefined;
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

function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = clock.setTimer(ms, () =>
      reject(new AutomationError('CRM_ERR_GATEWAY', `gateway did not answer within ${ms} ms`, { retryable: true })),
    );
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * Sends every action of a matched trigger that is not yet done, in order. Actions are independent:
 * one failing does not stop the others. Actions sent in an earlier attempt are never sent again.
 */
export async function dispatchActions(
  trigger: ClaimedTrigger,
  rule: CompiledRule,
  ctx: DispatchContext,
  /** Returns false when the lease has too little time left to start another send. */
  canStartSend: () => boolean,
  parentSpan?: Span,
): Promise<DispatchResult> {
  const alreadySent = new Set(trigger.sentActions);
  const failedBefore = permanentlyFailedActions(trigger);
  const result: DispatchResult = { outcomes: [], sent: [], transient: false, permanent: failedBefore.size > 0, onlyDeferred: false };
  let deferred = 0;
  let failedTransiently = 0;
  const payload = trigger.triggeringEvent.payload;

  for (let index = 0; index < rule.actionCount; index++) {
    const type = rule.actionType(index);
    if (alreadySent.has(index) || failedBefore.has(index)) {
      result.outcomes.push({ index, type, status: alreadySent.has(index) ? 'already-sent' : 'not-attempted' });
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
      const sent = await withTimeout(gateway.send(command), ctx.sendTimeoutMs, ctx.clock);
      const durationMs = Date.now() - started;
      result.sent.push(index);
      result.outcomes.push({ index, type, status: 'sent', ...(sent === undefined ? {} : { result: sent }), durationMs });
      ctx.onSent?.({ command, result: sent, durationMs, type, provider: gateway.name ?? type, accountId: trigger.accountId });
    } catch (thrown) {
      const durationMs = Date.now() - started;
      const error = describeError(thrown) as ErrorSummary;
      if (error.retryable) {
        result.transient = true;
        failedTransiently += 1;
        const after = error['retryAfterMs'];
        if (typeof after === 'number') result.retryAfterMs = Math.max(result.retryAfterMs ?? 0, after);
      } else {
        result.permanent = true;
      }
      result.outcomes.push({ index, type, status: 'failed', error, durationMs });
      span.recordError(thrown);
      ctx.onFailed?.({ command, error, durationMs, type, provider: ctx.channels[type]?.name ?? type, accountId: trigger.accountId });
      ctx.logger.warn(
        { ruleId: trigger.ruleId, triggerId: trigger.id, accountId: trigger.accountId, actionIndex: index, error },
        'action failed',
      );
    } finally {
      span.end();
    }
  }
  result.onlyDeferred = deferred > 0 && failedTransiently === 0 && !result.permanent;
  return result;
}
