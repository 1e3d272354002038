import type { ActionOutcome, AutomationEngine, ClaimedTrigger, EngineEvents } from '@crm-automation/core';
import { metricsFor, type AutomationMetrics, type MetricsOptions } from './registry.js';

/** Attempts holding contact decisions at once before the oldest is dropped (see `holdDecision`). */
const MAX_OPEN_ATTEMPTS = 10_000;

const CONTACT_DEFERRALS: ReadonlySet<string> = new Set(['quiet-hours', 'capped', 'throttled']);

interface ContactDecision {
  counter: AutomationMetrics['contactDeferred'];
  actionIndex: number;
  reason: string;
}

function channelOf(outcomes: readonly ActionOutcome[] | undefined, actionIndex: number): string | undefined {
  return outcomes?.find((outcome) => outcome.index === actionIndex)?.type;
}

export interface EngineInstrumentation {
  readonly metrics: AutomationMetrics;
  /** Stops listening to the engine. */
  detach(): void;
}

/**
 * Counts what an engine does from its events: events ingested, triggers by outcome, retries, runs
 * cancelled, superseded and skipped by reason, schedule skips and reschedules by account, fire lag,
 * claim batch sizes, gateway latency and errors by provider, contact policy deferrals and skips and
 * suppression list changes by account and channel. Costs one listener call per event.
 */
export function instrumentEngine(engine: AutomationEngine, options: MetricsOptions & { metrics?: AutomationMetrics | undefined } = {}): EngineInstrumentation {
  const m = metricsFor('instrumentEngine', options, []);
  // Intake reports an event's schedule skips just before its `event:ingested`, in the same tick; the
  // summary's `skipped` counts them together with `skipIfPending` skips, which have no event of their own.
  let scheduleSkipsOfEvent = 0;
  // `contact:deferred` / `contact:skipped` name the action by index only; its channel (the action type
  // the dispatch used, from the rule as it was at fire time) is in the attempt's outcomes, which
  // `trigger:finished` reports when the same attempt ends. Held per attempt until then.
  const contactDecisions = new Map<string, ContactDecision[]>();
  const attemptKey = (trigger: ClaimedTrigger) => `${trigger.id}\u0000${trigger.leaseToken}`;
  const holdDecision = (trigger: ClaimedTrigger, decision: ContactDecision) => {
    const key = attemptKey(trigger);
    const held = contactDecisions.get(key);
    if (held) held.push(decision);
    else {
      // An attempt always ends in `trigger:finished`; the bound only guards against one that never does.
      if (contactDecisions.size >= MAX_OPEN_ATTEMPTS) {
        const oldest = contactDecisions.keys().next();
        if (!oldest.done) contactDecisions.delete(oldest.value);
      }
      contactDecisions.set(key, [decision]);
    }
  };
  const listeners: { [E in keyof EngineEvents]?: (...args: EngineEvents[E]) => void } = {
    'event:ingested': ({ triggers, created, summary }) => {
      // An event that only cancels runs (a rule's cancelOn) starts none, but it did match.
      const cancelling = summary.cancelled + summary.cancelRequested > 0;
      m.eventsIngested.inc({ outcome: triggers.length === 0 ? (cancelling ? 'matched' : 'unmatched') : created === 0 ? 'duplicate' : 'matched' });
      // Pending ones only: a keyed rule's event may be stored finished at once (stale, skipped).
      if (summary.created > 0) m.triggersCreated.inc(summary.created);
      // Triggers recorded skipped at intake never reach trigger:finished.
      const pendingExists = Math.max(0, summary.skipped - scheduleSkipsOfEvent);
      scheduleSkipsOfEvent = 0;
      if (pendingExists > 0) m.triggersSkipped.inc({ reason: 'pending-exists' }, pendingExists);
    },
    'schedule:skipped': ({ trigger, reason }) => {
      scheduleSkipsOfEvent += 1;
      m.triggersSkipped.inc({ reason });
      m.scheduleSkipped.inc({ account_id: trigger.accountId, reason });
    },
    'trigger:rescheduled': ({ accountId }) => m.triggersRescheduled.inc({ account_id: accountId }),
    'trigger:superseded': ({ reason }) => m.triggersSuperseded.inc({ reason }),
    'trigger:cancelled': ({ reason, stage }) => m.triggersCancelled.inc({ reason, stage }),
    'batch:claimed': ({ size, limit }) => {
      m.claimBatchSize.observe(size);
      m.claimBatchLimit.set(limit);
    },
    'trigger:claimed': (trigger) => {
      const lagMs = engine.clock.now().getTime() - trigger.evaluateAt.getTime();
      m.fireLag.observe(Math.max(0, lagMs) / 1000);
    },
    'contact:deferred': ({ trigger, actionIndex, reason }) => holdDecision(trigger, { counter: m.contactDeferred, actionIndex, reason }),
    'contact:skipped': ({ trigger, actionIndex, reason }) => holdDecision(trigger, { counter: m.contactSkipped, actionIndex, reason }),
    'suppression:changed': ({ change }) =>
      m.suppressionChanges.inc({ account_id: change.accountId, channel: change.channel, action: change.action, reason: change.reason, source: change.source }),
    'trigger:finished': ({ trigger, result }) => {
      const key = attemptKey(trigger);
      const decisions = contactDecisions.get(key);
      if (decisions) {
        contactDecisions.delete(key);
        // An attempt that failed on infrastructure after the decision has no outcomes: nothing was
        // recorded, and the next attempt decides (and reports) again.
        for (const { counter, actionIndex, reason } of decisions) {
          const channel = channelOf(result.history.actions, actionIndex);
          if (channel !== undefined) counter.inc({ account_id: trigger.accountId, channel, reason });
        }
      }
      m.triggersFinished.inc({ status: result.status, reason: result.history.reason ?? 'none' });
      // A contact policy deferral waits for a window to end; it is not a failure being retried.
      if (result.status === 'retrying' && !CONTACT_DEFERRALS.has(result.history.reason ?? '')) m.triggerRetries.inc();
      if (result.status === 'skipped') m.triggersSkipped.inc({ reason: result.history.reason ?? 'none' });
    },
    'action:sent': ({ provider, type, durationMs }) => {
      m.gatewayDuration.observe({ provider, type, outcome: 'sent' }, durationMs / 1000);
      m.deliveries.inc({ provider, type, state: 'accepted' });
    },
    'action:failed': ({ provider, type, durationMs, error, command }) => {
      m.gatewayDuration.observe({ provider, type, outcome: 'failed' }, durationMs / 1000);
      m.gatewayErrors.inc({ provider, type, retryable: String(error.retryable) });
      // Failures before the gateway was called (rendering, validation) are not sends.
      if (command && error.code !== 'CRM_ERR_RENDER' && error.code !== 'CRM_ERR_NO_GATEWAY') m.deliveries.inc({ provider, type, state: error['ambiguous'] === true ? 'unknown' : 'refused' });
    },
    'delivery:changed': ({ delivery }) => m.deliveries.inc({ provider: delivery.provider, type: delivery.type, state: delivery.state }),
  };
  for (const [event, listener] of Object.entries(listeners)) engine.on(event as keyof EngineEvents, listener as never);
  return {
    metrics: m,
    detach() {
      contactDecisions.clear();
      for (const [event, listener] of Object.entries(listeners)) engine.off(event as keyof EngineEvents, listener as never);
    },
  };
}
