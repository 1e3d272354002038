import { AutomationError, describeError } from '../errors.js';
import { normalizeEvent, type EventTimeWindow } from '../events/event.js';
import { ingestEvent, ingestEvents, outcomeOf, type CancelOutcome, type IntakeContext, type IntakeSummary } from '../intake/ingest.js';
import type { BusSubscription, EventBus } from '../ports/bus.js';
import { hasTraceContext, type Tracer } from '../ports/tracer.js';
import type { InsertedTrigger } from '../ports/store.js';
import type { Trigger } from '../scheduling/trigger.js';
import type { AutomationEngine, IngestedTriggers, IngestManyResult, IngestOptions } from './engine-api.js';
import type { NormalizedEvent } from '../events/event.js';

/** Most events one `ingestMany` call takes (a bus batch is far smaller; larger lists are split by the caller). */
export const MAX_INGEST_BATCH = 100_000;
import type { EngineObserver } from './observer.js';

export interface IntakeUnitContext extends IntakeContext {
  eventTimeWindow: EventTimeWindow;
  bus: EventBus;
  group: string;
  tracer: Tracer;
  observer: EngineObserver;
  /** Tells the claim loop the earliest new trigger is due at `at`. */
  wake: (at: Date) => void;
  /** Throws when the engine has no trigger store to take events into. */
  requireTriggers: () => void;
}

export interface IntakeUnit {
  ingest: AutomationEngine['ingest'];
  ingestMany: AutomationEngine['ingestMany'];
  publish: AutomationEngine['publish'];
  /** Starts consuming the bus into intake (idempotent). */
  attach(): Promise<void>;
  /** Stops consuming; resolves when the handler in flight is done. */
  detach(): Promise<void>;
}

function earliestCreated(inserted: readonly InsertedTrigger[]): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const i of inserted) if (i.created && i.trigger.status === 'pending') earliest = Math.min(earliest, i.trigger.evaluateAt.getTime());
  return earliest;
}

/** The triggers of one event, with what intake did as a non-enumerable `summary` (the array stays an array). */
function withSummary(triggers: Trigger[], summary: IntakeSummary): IngestedTriggers {
  return Object.defineProperty(triggers, 'summary', { value: summary, enumerable: false }) as IngestedTriggers;
}

/**
 * Event intake as the engine exposes it: `ingest` / `ingestMany` (validate, match, store triggers, wake
 * the loop), `publish` onto the bus, and the bus consumer that feeds intake.
 */
export function createIntakeUnit(ctx: IntakeUnitContext): IntakeUnit {
  const { tracer, observer, logger, bus } = ctx;

  /** Tells observers what an event's intake superseded and cancelled, and logs it. */
  const report = (event: NormalizedEvent, inserted: readonly InsertedTrigger[], cancels: readonly CancelOutcome[], summary: IntakeSummary) => {
    const eventRef = { id: event.id, name: event.name };
    for (const i of inserted) {
      const outcome = outcomeOf(i);
      if (outcome === 'skipped' && i.pendingTriggerId === undefined) {
        const entry = i.trigger.executionHistory[0];
        const reason = entry?.reason;
        if (reason === 'anchor-missing' || reason === 'zone-unknown' || reason === 'past' || reason === 'beyond-horizon') {
          observer.emit('schedule:skipped', { trigger: i.trigger, reason, message: entry?.error?.message ?? reason });
        }
        continue;
      }
      if ((outcome !== 'superseded' && outcome !== 'stale') || i.pendingTriggerId === undefined) continue;
      const moved = outcome === 'superseded' ? i.trigger.executionHistory.find((h) => h.outcome === 'rescheduled') : undefined;
      if (moved?.from && moved.to) {
        observer.emit('trigger:rescheduled', { accountId: i.trigger.accountId, ruleId: i.trigger.ruleId, ...(i.trigger.entityKey === undefined ? {} : { entityKey: i.trigger.entityKey }), triggerId: i.trigger.id, replacedTriggerId: i.pendingTriggerId, from: moved.from, to: moved.to, event: eventRef });
      }
      const [triggerId, pendingTriggerId] = outcome === 'superseded' ? [i.pendingTriggerId, i.trigger.id] : [i.trigger.id, i.pendingTriggerId];
      observer.emit('trigger:superseded', { accountId: i.trigger.accountId, ruleId: i.trigger.ruleId, ...(i.trigger.entityKey === undefined ? {} : { entityKey: i.trigger.entityKey }), reason: outcome, triggerId, pendingTriggerId, event: eventRef });
    }
    for (const c of cancels) for (const trigger of c.cancelled) observer.emit('trigger:cancelled', { trigger, reason: c.reason, event: eventRef, stage: 'intake' });
    const triggers = inserted.map((i) => i.trigger);
    const created = inserted.filter((i) => i.created).length;
    logger.debug({ accountId: event.accountId, eventId: event.id, eventName: event.name, matched: triggers.length, ...summary }, 'event ingested');
    observer.emit('event:ingested', { event, triggers, created, summary });
    return triggers;
  };

  const ingest = async (input: unknown, options: IngestOptions = {}): Promise<IngestedTriggers> => {
    ctx.requireTriggers();
    const span = tracer.startSpan('crm.intake', { parent: options.trace, kind: 'consumer' });
    let result;
    try {
      result = await ingestEvent(input, ctx, options.rules, span.carrier());
      // Before end(): an ended span ignores attributes.
      span.setAttributes({ 'crm.account_id': result.event.accountId, 'crm.event_id': result.event.id, 'crm.event_name': result.event.name, 'crm.triggers': result.inserted.length });
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
    const { event, inserted, cancels, summary } = result;
    const earliest = earliestCreated(inserted);
    if (Number.isFinite(earliest)) ctx.wake(new Date(earliest));
    return withSummary(report(event, inserted, cancels, summary), summary);
  };

  const ingestMany = async (inputs: readonly unknown[]): Promise<IngestManyResult[]> => {
    ctx.requireTriggers();
    // Read once, guarded: a (revoked) proxy's checks may throw, and a sparse array's length costs a step per slot.
    let length: number;
    try {
      if (!Array.isArray(inputs)) throw new AutomationError('CRM_ERR_CONFIG', 'ingestMany takes an array of events');
      length = inputs.length;
    } catch (error) {
      if (error instanceof AutomationError) throw error;
      throw new AutomationError('CRM_ERR_CONFIG', `ingestMany could not read its array of events: ${describeError(error)}`);
    }
    if (length > MAX_INGEST_BATCH) throw new AutomationError('CRM_ERR_CONFIG', `ingestMany takes at most ${MAX_INGEST_BATCH} events per call (got ${length})`);
    const span = tracer.startSpan('crm.intake.batch', { kind: 'consumer', attributes: { 'crm.events': length } });
    let results;
    try {
      results = await ingestEvents(inputs, ctx);
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
    let earliest = Number.POSITIVE_INFINITY;
    const out: IngestManyResult[] = results.map((r) => {
      if (!r.ok) return { ok: false, error: r.error instanceof Error ? r.error : new AutomationError('CRM_ERR_EVENT_INVALID', String(r.error)) };
      earliest = Math.min(earliest, earliestCreated(r.inserted));
      const triggers = report(r.event, r.inserted, r.cancels, r.summary);
      return { ok: true, eventId: r.event.id, triggers, summary: r.summary };
    });
    if (Number.isFinite(earliest)) ctx.wake(new Date(earliest));
    logger.debug({ events: length, refused: out.filter((r) => !r.ok).length }, 'events ingested');
    return out;
  };

  let subscription: BusSubscription | undefined;
  let subscribing: Promise<void> | undefined;
  const attach = () => {
    subscribing ??= bus
      .subscribe(
        async (message, delivery) => {
          try {
            await ingest(message, { trace: delivery.headers });
          } catch (error) {
            const summary = describeError(error, 'CRM_ERR_EVENT_INVALID');
            logger.warn({ error: summary, accountId: (message as { accountId?: unknown } | null)?.accountId }, 'event intake failed');
            throw error;
          }
        },
        { group: ctx.group },
      )
      .then((s) => {
        subscription = s;
      });
    return subscribing;
  };

  return {
    ingest,
    ingestMany,
    attach,
    async detach() {
      const sub = subscription;
      subscription = undefined;
      subscribing = undefined;
      await sub?.stop();
    },
    async publish(input) {
      const event = normalizeEvent(input, ctx.clock.now(), ctx.eventTimeWindow);
      // An in-process bus delivers only to subscribers that exist when the event is published: the
      // first publish attaches intake, so `publish()` before `start()` is not lost in one process.
      if (bus.local && !subscribing) await attach();
      const span = tracer.startSpan('crm.event.publish', { kind: 'producer', attributes: { 'crm.account_id': event.accountId, 'crm.event_name': event.name, 'crm.event_id': event.id } });
      try {
        const headers = span.carrier();
        await bus.publish({ ...event, timestamp: event.timestamp.toISOString() }, hasTraceContext(headers) ? { headers } : undefined);
      } catch (error) {
        span.recordError(error);
        throw error;
      } finally {
        span.end();
      }
      return { id: event.id };
    },
  };
}
