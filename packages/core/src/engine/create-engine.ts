import { dispatchWithIdempotency } from '../dispatch/channels.js';
import { DeliveryRecorder } from '../dispatch/delivery-recorder.js';
import type { DeliveryLedger } from '../ports/delivery-ledger.js';
import type { ContactCounter, ContactPolicyStore, SendThrottle, SuppressionStore } from '../ports/contact-policy.js';
import { createContactPolicyAdmin, createSuppressionAdmin } from './contact-admin.js';
import type { ContactPorts } from '../policy/contact-guard.js';
import type { ChannelGateway, ChannelMap } from '../ports/gateway.js';
import type { OperatorFn } from '../rules/operators.js';
import { durationOption } from './options.js';
import { createDeliveryAdmin } from './delivery-admin.js';
import { createMemoryBus } from '../memory/memory-bus.js';
import { systemClock } from '../ports/clock.js';
import { silentLogger } from '../ports/logger.js';
import { noopTracer } from '../ports/tracer.js';
import { describeError } from '../errors.js';
import { CompiledRuleCache } from '../rules/compiled-rule-cache.js';
import { ClaimLoop } from '../scheduling/claim-loop.js';
import type { AutomationEngine } from './engine-api.js';
import { resolveStores } from './engine-stores.js';
import { createEngineRuleLanguage } from './engine-validator.js';
import { createIntakeUnit } from './intake-unit.js';
import { createObserver } from './observer.js';
import { resolveTuning, type AutomationEngineOptions } from './options.js';
import { createRuleAdmin } from './rule-admin.js';
import { createTriggerAdmin } from './trigger-admin.js';
import { boundStores, withStoreDeadlines } from './store-deadlines.js';
import { coalescedPolicyReads, coalescedSuppressionReads } from '../policy/coalesced-reads.js';

/** The store's own ledger, when it keeps one. */
function ledgerOf(store: object | undefined): DeliveryLedger | undefined {
  if (!store) return undefined;
  const candidate = store as Partial<DeliveryLedger>;
  return typeof candidate.recordIntents === 'function' && typeof candidate.recordOutcomes === 'function' ? (store as DeliveryLedger) : undefined;
}

/** The store's contact policy ports, each when it implements it. */
function contactPortsOf(store: object | undefined): { policies?: ContactPolicyStore; suppressions?: SuppressionStore; counter?: ContactCounter; throttle?: SendThrottle } {
  if (!store) return {};
  const s = store as Partial<ContactPolicyStore & SuppressionStore & ContactCounter & SendThrottle>;
  return {
    ...(typeof s.getContactPolicy === 'function' && typeof s.putContactPolicy === 'function' ? { policies: store as ContactPolicyStore } : {}),
    ...(typeof s.findSuppression === 'function' && typeof s.addSuppression === 'function' && typeof s.removeSuppression === 'function' ? { suppressions: store as SuppressionStore } : {}),
    ...(typeof s.reserve === 'function' && typeof s.release === 'function' ? { counter: store as ContactCounter } : {}),
    // `take` alone is a common name: only a store that also keeps contact policies is taken to throttle.
    ...(typeof s.take === 'function' && typeof s.getContactPolicy === 'function' ? { throttle: store as SendThrottle } : {}),
  };
}

export type { AutomationEngine, EngineEvents, IngestedTriggers, IngestManyResult, IngestOptions, SavedRule, TriggerCancelledInfo, TriggerRescheduledInfo, ScheduleSkippedInfo, TriggerSupersededInfo, UpdateRuleOptions } from './engine-api.js';

/**
 * Creates an automation engine: rule validation and storage, event intake, the leasing claim loop,
 * condition evaluation and action dispatch, over the store, bus and gateways you give it. It is
 * composed of small parts, each in its own file: rule administration (`rule-admin.ts`), trigger
 * administration (`trigger-admin.ts`), intake (`intake-unit.ts`) and the claim loop
 * (`../scheduling/claim-loop.ts`), reporting through one observer (`observer.ts`).
 *
 * @example
 * const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms } });
 * await engine.rules.create('acc_1', rule);
 * await engine.publish({ name: 'job.status.changed', accountId: 'acc_1', payload: { job } });
 * await engine.start();
 */
export function createAutomationEngine<
  Channels extends ChannelMap = Record<never, ChannelGateway>,
  Operators extends Readonly<Record<string, OperatorFn>> = Record<never, OperatorFn>,
  ActionType extends string = never,
>(
  options: AutomationEngineOptions & { channels?: Channels | undefined; operators?: Operators | undefined; actionTypes?: readonly ActionType[] | undefined },
): AutomationEngine<(keyof Channels & string) | ActionType, keyof Operators & string> {
  type Engine = AutomationEngine<(keyof Channels & string) | ActionType, keyof Operators & string>;
  const tuning = resolveTuning(options as AutomationEngineOptions | undefined);
  const stores = boundStores(resolveStores(options), tuning.storeTimeoutMs);
  const bus = options.bus ?? createMemoryBus();
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ component: 'automation-engine', instanceId: tuning.instanceId });
  const observer = createObserver();
  const tracer = options.tracer ?? noopTracer;
  // Only an engine that fires rules knows its loaders; a rules service leaves `evaluate` unchecked.
  const language = createEngineRuleLanguage(options, tuning.limits, stores.givenTriggers !== undefined);
  const givenLedger = options.ledger === false ? undefined : (options.ledger ?? ledgerOf(stores.givenTriggers));
  const ledger = givenLedger && withStoreDeadlines(givenLedger, tuning.storeTimeoutMs, 'ledger');
  const deliveries = ledger ? new DeliveryRecorder(ledger, logger) : undefined;
  // A separate rule store (a rules service) may keep the policy; the trigger store is where sends happen.
  const storePorts = { ...contactPortsOf(stores.givenRules), ...contactPortsOf(stores.givenTriggers) };
  const bound = <T extends object>(port: T | undefined, name: string) => port && withStoreDeadlines(port, tuning.storeTimeoutMs, name);
  const contactPolicies = bound(options.contactPolicies === false ? undefined : (options.contactPolicies ?? storePorts.policies), 'contactPolicies');
  const suppressions = bound(options.suppressions === false ? undefined : (options.suppressions ?? storePorts.suppressions), 'suppressions');
  const contactCounter = bound(options.contactCounter === false ? undefined : (options.contactCounter ?? storePorts.counter), 'contactCounter');
  // Without policies there is no throttle to read, so a throttle alone would only cost policy-less reads.
  const sendThrottle = contactPolicies && bound(options.sendThrottle === false ? undefined : (options.sendThrottle ?? storePorts.throttle), 'sendThrottle');
  const contactPorts: ContactPorts | undefined =
    contactPolicies || suppressions || contactCounter
      ? {
          // Concurrent sends read in batches where the store can; administration reads and writes directly.
          policies: contactPolicies && coalescedPolicyReads(contactPolicies),
          suppressions: suppressions && coalescedSuppressionReads(suppressions),
          counter: contactCounter,
          ...(sendThrottle ? { throttle: sendThrottle } : {}),
          by: tuning.instanceId,
          onSuppressed: (change) => observer.emit('suppression:changed', { change }),
          onDeferred: (info) => observer.emit('contact:deferred', info),
          onSkipped: (info) => observer.emit('contact:skipped', info),
        }
      : undefined;
  const idempotencyLockMs = durationOption('idempotencyLockMs', options.idempotencyLockMs, 60_000);
  const compiled = new CompiledRuleCache(tuning.compiledRuleCacheSize, language.operators, (rule, { evaluator, fallback }) => {
    if (fallback) logger.debug({ accountId: rule.accountId, ruleId: rule.id, version: rule.version, code: fallback.code, reason: fallback.reason }, 'rule conditions evaluated by json-rules-engine');
    observer.emit('rule:compiled', { accountId: rule.accountId, ruleId: rule.id, version: rule.version, evaluator, ...(fallback ? { fallback } : {}) });
  });

  const loop = new ClaimLoop(
    {
      store: stores.triggers,
      ruleSource: stores.source,
      clock,
      logger,
      channels: dispatchWithIdempotency(options.channels ?? {}, options.idempotency, { lockMs: idempotencyLockMs }),
      deliveries,
      rules: compiled,
      facts: options.facts ?? {},
      factTimeoutMs: tuning.factTimeoutMs,
      tracer,
      maxAttempts: tuning.maxAttempts,
      backoff: tuning.backoff,
      instanceId: tuning.instanceId,
      sendTimeoutMs: tuning.sendTimeoutMs,
      onEvaluated: (trigger, { matched, conditions }) => observer.emit('trigger:evaluated', { trigger, matched, conditions }),
      ...(contactPorts ? { contact: contactPorts } : {}),
      onSent: (info) => observer.emit('action:sent', info),
      onFailed: (info) => observer.emit('action:failed', info),
      onDeliveryChanged: (delivery) => observer.emit('delivery:changed', { delivery, source: 'reconcile' }),
    },
    {
      pollIntervalMs: tuning.pollIntervalMs,
      idlePollMs: tuning.idlePollMs,
      batchSize: tuning.batchSize,
      concurrency: tuning.concurrency,
      leaseMs: tuning.leaseMs,
      maxStoreBackoffMs: tuning.maxStoreBackoffMs,
    },
    {
      onClaimed: (claimed, limit) => {
        observer.emit('batch:claimed', { size: claimed.length, limit, at: clock.now() });
        for (const trigger of claimed) observer.emit('trigger:claimed', trigger);
      },
      onFinished: (trigger, result, saved) => {
        observer.emit('trigger:finished', { trigger, result, saved });
        const event = result.history.event;
        if (saved && result.status === 'cancelled' && event) {
          observer.emit('trigger:cancelled', { trigger, reason: 'cancelled-by-event', event, stage: 'processing' });
        }
      },
      onLoopError: (error) => observer.emit('loop:error', error),
    },
  );
  const wake = (at: Date) => loop.wake(at);

  const intake = createIntakeUnit({
    store: stores.triggers,
    rules: stores.source,
    clock,
    logger,
    eventTimeWindow: tuning.eventTimeWindow,
    bus,
    group: tuning.group,
    tracer,
    observer,
    wake,
    requireTriggers: stores.requireTriggers,
    compiled,
    instanceId: tuning.instanceId,
  });

  const engine: Engine = {
    store: stores.combined,
    ruleStore: stores.givenRules,
    triggerStore: stores.givenTriggers,
    bus,
    clock,
    instanceId: tuning.instanceId,
    rules: createRuleAdmin({
      store: stores.rules,
      language,
      clock,
      logger,
      observer,
      eventTimeWindow: tuning.eventTimeWindow,
      canCancel: stores.givenTriggers === undefined || typeof stores.givenTriggers.cancelTriggers === 'function',
      ...(contactPorts ? { contact: contactPorts } : {}),
      // A dry run checks each rendered command with the schema of the gateway that would send it.
      channels: options.channels ?? {},
    }),
    triggers: createTriggerAdmin({ store: stores.triggers, clock, wake }),
    contactPolicy: createContactPolicyAdmin({ policies: contactPolicies, suppressions, clock, observer }),
    suppressions: createSuppressionAdmin({ policies: contactPolicies, suppressions, clock, observer }),
    deliveries: createDeliveryAdmin({ ledger, channels: options.channels ?? {}, triggers: stores.triggers, clock, logger, observer, leaseMs: tuning.leaseMs, wake }),
    ingest: intake.ingest,
    ingestMany: intake.ingestMany,
    publish: intake.publish,

    async runDue() {
      stores.requireTriggers();
      const counts = await loop.runDue();
      // The pass's ledger outcomes are written behind its sends; a caller reads them back at once.
      await deliveries?.settled();
      return counts;
    },

    async start() {
      stores.requireTriggers();
      // Sends an earlier process left half done are `unknown` before this one claims their triggers.
      if (ledger) await engine.deliveries.reconcile().catch((error: unknown) => logger.error({ error: describeError(error) }, 'could not reconcile the delivery ledger'));
      await intake.attach();
      loop.start();
      logger.info({ group: tuning.group }, 'engine started');
    },

    async stop() {
      await Promise.all([intake.detach(), loop.stop()]);
      await deliveries?.flushed();
      logger.info({}, 'engine stopped');
    },

    on(event, listener) {
      observer.on(event, listener as never);
      return engine;
    },
    off(event, listener) {
      observer.off(event, listener as never);
      return engine;
    },
  };
  return engine;
}
