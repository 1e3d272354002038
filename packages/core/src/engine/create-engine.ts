import { EventEmitter } from 'eventemitter3';
import { dispatchWithIdempotency } from '../dispatch/channels.js';
import type { ActionObservation } from '../dispatch/dispatch-actions.js';
import {
  AutomationError,
  describeError,
  RuleValidationError,
  TriggerStateError,
  VersionConflictError,
  type ValidationIssue,
} from '../errors.js';
import { createWebhookUrlCheck } from '../net/webhook-address-policy.js';
import { normalizeEvent, type AutomationEvent, type NormalizedEvent } from '../events/event.js';
import { ingestEvent, ingestEvents } from '../intake/ingest.js';
import { createMemoryBus } from '../memory/memory-bus.js';
import type { BusSubscription, EventBus } from '../ports/bus.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { ActionCommand, ParamsSchema } from '../ports/gateway.js';
import { silentLogger } from '../ports/logger.js';
import { hasTraceContext, noopTracer, type TraceCarrier } from '../ports/tracer.js';
import type { AttemptResult, AutomationStore, RuleStore, TriggerStore } from '../ports/store.js';
import { CompiledRuleCache } from '../rules/compiled-rule.js';
import { BUILT_IN_OPERATORS, createOperatorCheck, type OperatorFn } from '../rules/operators.js';
import { BUILT_IN_ACTION_TYPES } from '../actions/built-in.js';
import type { Page, Rule, RuleFilter } from '../rules/rule.js';
import { createRuleValidator, ruleJsonSchema, type RuleValidationResult } from '../rules/rule-schema.js';
import { dryRunRule, type DryRunResult, type DryRunSample } from '../rules/dry-run.js';
import { ClaimLoop, type RunCounts } from '../scheduling/claim-loop.js';
import type { ClaimedTrigger, ConditionTrace, ErrorSummary, Trigger, TriggerFilter } from '../scheduling/trigger.js';
import { resolveTuning, type AutomationEngineOptions } from './options.js';

/** What an engine tells observers (logs, metrics, demos, tests). */
export interface EngineEvents {
  'event:ingested': [info: { event: NormalizedEvent; triggers: Trigger[]; created: number }];
  'trigger:claimed': [trigger: ClaimedTrigger];
  'trigger:evaluated': [info: { trigger: ClaimedTrigger; matched: boolean; conditions: ConditionTrace[] }];
  'trigger:finished': [info: { trigger: ClaimedTrigger; result: AttemptResult; saved: boolean }];
  /** `limit` is what the claim asked for: `batchSize`, or less while triggers take long (see `batchLimit`). */
  'batch:claimed': [info: { size: number; limit: number; at: Date }];
  'action:sent': [info: ActionObservation & { command: ActionCommand; result: unknown }];
  'action:failed': [info: ActionObservation & { command: ActionCommand | undefined; error: ErrorSummary }];
  'loop:error': [error: unknown];
  /** A rule was created, replaced or deleted through this engine (`rule` is null after a delete). */
  'rule:changed': [info: { accountId: string; ruleId: string; rule: Rule | null }];
}

export interface IngestOptions {
  /**
   * Rules already matched by the caller (the pub/sub lookup pattern: a `rules_found` message carries
   * them); intake skips its own lookup but still keeps only enabled rules of this account and event.
   */
  rules?: readonly Rule[] | undefined;
  /** Trace context the event arrived with (bus or HTTP headers); its triggers join that trace. */
  trace?: TraceCarrier | undefined;
}

/** One event of `ingestMany`: its triggers, or the error that refused it (an `EventValidationError`). */
export type IngestManyResult = { ok: true; eventId: string; triggers: Trigger[] } | { ok: false; error: AutomationError | Error };

export interface UpdateRuleOptions {
  /** Refuse the write (VersionConflictError) unless the stored rule is at this version. */
  expectedVersion?: number | undefined;
}

/**
 * A rule as `rules.create` / `rules.update` return it: the stored rule, plus the save's `warnings`
 * (not stored) when something deserves a look, such as an action type with no gateway on this engine.
 */
export type SavedRule = Rule & { warnings?: ValidationIssue[] | undefined };

export interface AutomationEngine {
  readonly rules: {
    create(accountId: string, input: unknown): Promise<SavedRule>;
    get(accountId: string, id: string): Promise<Rule | null>;
    /** Full replace; null when the rule does not exist in this account. */
    update(accountId: string, id: string, input: unknown, options?: UpdateRuleOptions): Promise<SavedRule | null>;
    delete(accountId: string, id: string): Promise<boolean>;
    list(accountId: string, filter?: RuleFilter): Promise<Page<Rule>>;
    /** Checks a rule without storing it; reports every problem with its path. */
    validate(input: unknown): RuleValidationResult;
    /**
     * Tries a rule against a sample event: which conditions pass or fail with the values seen, the
     * commands that would be sent, and when. `rule` is a saved rule's id or an unsaved rule document.
     * Nothing is stored or sent. Null when a rule id does not exist in this account.
     */
    dryRun(accountId: string, rule: string | Record<string, unknown>, sample: DryRunSample): Promise<DryRunResult | null>;
    /** JSON Schema (2020-12) of the rule documents this engine accepts, from the validator's zod schema. */
    jsonSchema(): Record<string, unknown>;
  };
  readonly triggers: {
    get(accountId: string, id: string): Promise<Trigger | null>;
    list(accountId: string, filter?: TriggerFilter): Promise<Page<Trigger>>;
    /** Cancels a pending or retrying trigger; null when it does not exist in this account. */
    cancel(accountId: string, id: string): Promise<Trigger | null>;
    /** Schedules a failed trigger again, now, with a fresh attempt budget. */
    retry(accountId: string, id: string): Promise<Trigger | null>;
  };
  /** Intake: validates the event and stores one trigger per matching rule; returns them. */
  ingest(event: AutomationEvent, options?: IngestOptions): Promise<Trigger[]>;
  /**
   * Intake of many events at once (bulk import, a batch off a queue): each is validated on its own,
   * so one bad event does not refuse the others; rules are looked up once per (account, event name)
   * and all triggers are stored with one store call. One result per event, in order.
   */
  ingestMany(events: readonly AutomationEvent[]): Promise<IngestManyResult[]>;
  /** Validates the event and sends it to the bus; with the in-process bus, intake is done on return. */
  publish(event: AutomationEvent): Promise<{ id: string }>;
  /** One pass of the claim loop: processes everything due now. */
  runDue(): Promise<RunCounts>;
  /** Starts consuming the bus and running the claim loop. */
  start(): Promise<void>;
  /** Stops fetching, lets in-flight intake and triggers finish and be recorded, then returns. */
  stop(): Promise<void>;
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): AutomationEngine;
  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): AutomationEngine;
  /**
   * The store of both aggregates when the engine was given one (`store`); with `ruleStore` and
   * `triggerStore`, a view of both whose missing half throws `CRM_ERR_CONFIG`.
   * @deprecated read `ruleStore` / `triggerStore`.
   */
  readonly store: AutomationStore;
  /** Where this engine keeps rules (`engine.rules.*`); undefined for a trigger-only engine. */
  readonly ruleStore: RuleStore | undefined;
  /** Where this engine keeps triggers (intake, the claim loop, `engine.triggers.*`); undefined for a rules-only engine. */
  readonly triggerStore: TriggerStore | undefined;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly instanceId: string;
}


function requireAccount(accountId: unknown): string {
  if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > 200) {
    throw new AutomationError('CRM_ERR_CONFIG', 'accountId must be a non-empty string');
  }
  return accountId;
}

/**
 * Creates an automation engine: rule validation and storage, event intake, the leasing claim loop,
 * condition evaluation and action dispatch, over the store, bus and gateways you give it.
 *
 * @example
 * const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms } });
 * await engine.rules.create('acc_1', rule);
 * await engine.publish({ name: 'job.status.changed', accountId: 'acc_1', payload: { job } });
 * await engine.start();
 */
export function createAutomationEngine(options: AutomationEngineOptions): AutomationEngine {
  const tuning = resolveTuning(options as AutomationEngineOptions | undefined);
  const ruleStoreOption = options.ruleStore ?? options.store;
  const triggerStoreOption = options.triggerStore ?? options.store;
  const missing = (what: 'rule' | 'trigger') => (): never => {
    throw new AutomationError(
      'CRM_ERR_CONFIG',
      what === 'rule'
        ? 'this engine has no rule store: give it `store` or `ruleStore` to manage rules (a trigger service reads rules through `ruleSource`)'
        : 'this engine has no trigger store: give it `store` or `triggerStore` for intake, the claim loop and triggers.*',
    );
  };
  const rulesStore: RuleStore = ruleStoreOption ?? unavailable<RuleStore>(missing('rule'));
  const store: TriggerStore = triggerStoreOption ?? unavailable<TriggerStore>(missing('trigger'));
  const ruleSource = options.ruleSource ?? ruleStoreOption;
  if (!ruleSource && triggerStoreOption) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createAutomationEngine: intake needs rules: give `ruleStore` (or `store`) or a `ruleSource`');
  }
  const combined: AutomationStore = options.store ?? combineStores(rulesStore, store);
  const bus = options.bus ?? createMemoryBus();
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ component: 'automation-engine', instanceId: tuning.instanceId });
  const emitter = new EventEmitter<EngineEvents>();
  const tracer = options.tracer ?? noopTracer;
  const channels = dispatchWithIdempotency(options.channels ?? {}, options.idempotency);

  const operators = new Map<string, OperatorFn>(Object.entries(options.operators ?? {}));
  const actionTypes = new Map<string, ParamsSchema | undefined>();
  for (const type of [...BUILT_IN_ACTION_TYPES, ...(options.actionTypes ?? [])]) actionTypes.set(type, undefined);
  for (const [type, gateway] of Object.entries(options.channels ?? {})) actionTypes.set(type, gateway.paramsSchema);
  // Types sent elsewhere are declared in `actionTypes`; any other type without a gateway is a warning.
  const sendableTypes = new Set([...Object.keys(options.channels ?? {}), ...(options.actionTypes ?? [])]);
  const operatorNames = [...BUILT_IN_OPERATORS, ...operators.keys()];
  const validate = createRuleValidator({
    isOperator: createOperatorCheck(operators.keys()),
    operatorNames: () => operatorNames,
    sendableTypes,
    actionTypes,
    limits: tuning.limits,
    checkUrl: options.checkWebhookUrl ?? createWebhookUrlCheck(options.webhookAddressPolicy),
  });

  let jsonSchema: Record<string, unknown> | undefined;

  const loop = new ClaimLoop(
    {
      store,
      ruleSource: ruleSource ?? rulesStore,
      clock,
      logger,
      channels,
      rules: new CompiledRuleCache(tuning.compiledRuleCacheSize, operators),
      tracer,
      maxAttempts: tuning.maxAttempts,
      backoff: tuning.backoff,
      instanceId: tuning.instanceId,
      sendTimeoutMs: tuning.sendTimeoutMs,
      onEvaluated: (trigger, { matched, conditions }) => emitter.emit('trigger:evaluated', { trigger, matched, conditions }),
      onSent: (info) => emitter.emit('action:sent', info),
      onFailed: (info) => emitter.emit('action:failed', info),
    },
    {
      pollIntervalMs: tuning.pollIntervalMs,
      batchSize: tuning.batchSize,
      concurrency: tuning.concurrency,
      leaseMs: tuning.leaseMs,
      maxStoreBackoffMs: tuning.maxStoreBackoffMs,
    },
    {
      onClaimed: (claimed, limit) => {
        emitter.emit('batch:claimed', { size: claimed.length, limit, at: clock.now() });
        for (const trigger of claimed) emitter.emit('trigger:claimed', trigger);
      },
      onFinished: (trigger, result, saved) => emitter.emit('trigger:finished', { trigger, result, saved }),
      onLoopError: (error) => emitter.emit('loop:error', error),
    },
  );

  const validated = (accountId: string, input: unknown) => {
    const result = validate(input);
    const issues: ValidationIssue[] = result.ok ? [] : [...result.issues];
    const claimed = typeof input === 'object' && input !== null ? (input as { accountId?: unknown }).accountId : undefined;
    if (claimed !== undefined && claimed !== accountId) {
      issues.push({ path: 'accountId', code: 'account_mismatch', message: 'accountId in the rule does not match the account it is saved to' });
    }
    if (!result.ok || issues.length > 0) throw new RuleValidationError(issues);
    return { draft: result.rule, warnings: result.warnings };
  };

  /** The saved rule, with the save's warnings attached (never stored). */
  const withWarnings = (rule: Rule, warnings: ValidationIssue[] | undefined, accountId: string): SavedRule => {
    if (!warnings || warnings.length === 0) return rule;
    logger.warn({ accountId, ruleId: rule.id, warnings }, 'rule saved with warnings');
    return { ...rule, warnings };
  };

  const ingest = async (input: unknown, ingestOptions: IngestOptions = {}): Promise<Trigger[]> => {
    if (!triggerStoreOption) missing('trigger')();
    const span = tracer.startSpan('crm.intake', { parent: ingestOptions.trace, kind: 'consumer' });
    let result;
    try {
      result = await ingestEvent(input, { store, rules: ruleSource ?? rulesStore, clock, logger, eventTimeWindow: tuning.eventTimeWindow }, ingestOptions.rules, span.carrier());
      // Before end(): an ended span ignores attributes.
      span.setAttributes({ 'crm.account_id': result.event.accountId, 'crm.event_id': result.event.id, 'crm.event_name': result.event.name, 'crm.triggers': result.inserted.length });
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
    const { event, inserted } = result;
    const triggers = inserted.map((i) => i.trigger);
    const created = inserted.filter((i) => i.created).length;
    if (inserted.length > 0) {
      let earliest = Number.POSITIVE_INFINITY;
      for (const i of inserted) if (i.created) earliest = Math.min(earliest, i.trigger.evaluateAt.getTime());
      if (Number.isFinite(earliest)) loop.wake(new Date(earliest));
    }
    logger.debug({ accountId: event.accountId, eventId: event.id, eventName: event.name, matched: triggers.length, created }, 'event ingested');
    emitter.emit('event:ingested', { event, triggers, created });
    return triggers;
  };

  const ingestMany = async (inputs: readonly unknown[]): Promise<IngestManyResult[]> => {
    if (!triggerStoreOption) missing('trigger')();
    if (!Array.isArray(inputs)) throw new AutomationError('CRM_ERR_CONFIG', 'ingestMany takes an array of events');
    const span = tracer.startSpan('crm.intake.batch', { kind: 'consumer', attributes: { 'crm.events': inputs.length } });
    let results;
    try {
      results = await ingestEvents(inputs, { store, rules: ruleSource ?? rulesStore, clock, logger, eventTimeWindow: tuning.eventTimeWindow });
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
    let earliest = Number.POSITIVE_INFINITY;
    const out: IngestManyResult[] = results.map((r) => {
      if (!r.ok) return { ok: false, error: r.error instanceof Error ? r.error : new AutomationError('CRM_ERR_EVENT_INVALID', String(r.error)) };
      const triggers = r.inserted.map((i) => i.trigger);
      const created = r.inserted.filter((i) => i.created).length;
      for (const i of r.inserted) if (i.created) earliest = Math.min(earliest, i.trigger.evaluateAt.getTime());
      emitter.emit('event:ingested', { event: r.event, triggers, created });
      return { ok: true, eventId: r.event.id, triggers };
    });
    if (Number.isFinite(earliest)) loop.wake(new Date(earliest));
    logger.debug({ events: inputs.length, refused: out.filter((r) => !r.ok).length }, 'events ingested');
    return out;
  };

  let subscription: BusSubscription | undefined;
  let subscribing: Promise<void> | undefined;
  const attachIntake = () => {
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
        { group: tuning.group },
      )
      .then((s) => {
        subscription = s;
      });
    return subscribing;
  };

  const transition = async (accountId: string, id: string, operation: 'cancel' | 'retry') => {
    const now = clock.now();
    const result = await store.transitionTrigger(requireAccount(accountId), id, {
      from: operation === 'cancel' ? ['pending', 'retrying'] : ['failed'],
      to: operation === 'cancel' ? 'cancelled' : 'pending',
      ...(operation === 'retry' ? { evaluateAt: now } : {}),
      now,
      history: {
        at: now,
        attempt: (await store.getTrigger(accountId, id))?.attempt ?? 0,
        outcome: operation === 'cancel' ? 'cancelled' : 'retry-requested',
        by: 'user',
      },
    });
    if (result.ok) {
      if (operation === 'retry') loop.wake(now);
      return result.trigger;
    }
    if (result.reason === 'not-found') return null;
    throw new TriggerStateError(id, result.current, operation);
  };

  const engine: AutomationEngine = {
    store: combined,
    ruleStore: ruleStoreOption,
    triggerStore: triggerStoreOption,
    bus,
    clock,
    instanceId: tuning.instanceId,

    rules: {
      async create(accountId, input) {
        const { draft, warnings } = validated(requireAccount(accountId), input);
        const rule = await rulesStore.insertRule(accountId, draft, clock.now());
        logger.info({ accountId, ruleId: rule.id }, 'rule created');
        emitter.emit('rule:changed', { accountId, ruleId: rule.id, rule });
        return withWarnings(rule, warnings, accountId);
      },
      get: (accountId, id) => rulesStore.getRule(requireAccount(accountId), id),
      async update(accountId, id, input, updateOptions = {}) {
        const { draft, warnings } = validated(requireAccount(accountId), input);
        const result = await rulesStore.replaceRule(accountId, id, draft, { now: clock.now(), expectedVersion: updateOptions.expectedVersion });
        if (result.ok) {
          logger.info({ accountId, ruleId: id, version: result.rule.version }, 'rule updated');
          emitter.emit('rule:changed', { accountId, ruleId: id, rule: result.rule });
          return withWarnings(result.rule, warnings, accountId);
        }
        if (result.reason === 'not-found') return null;
        throw new VersionConflictError(id, updateOptions.expectedVersion ?? 0, result.currentVersion);
      },
      async delete(accountId, id) {
        const deleted = await rulesStore.deleteRule(requireAccount(accountId), id);
        if (deleted) {
          logger.info({ accountId, ruleId: id }, 'rule deleted');
          emitter.emit('rule:changed', { accountId, ruleId: id, rule: null });
        }
        return deleted;
      },
      list: (accountId, filter = {}) => rulesStore.listRules(requireAccount(accountId), filter),
      validate: (input) => validate(input),
      jsonSchema: () => (jsonSchema ??= ruleJsonSchema(validate)),
      async dryRun(accountId, input, sample) {
        requireAccount(accountId);
        const now = clock.now();
        let rule: Rule | null;
        if (typeof input === 'string') {
          rule = await rulesStore.getRule(accountId, input);
          if (!rule) return null;
        } else {
          const result = validate(input);
          if (!result.ok) return { valid: false, issues: result.issues };
          rule = { ...result.rule, id: 'unsaved', accountId, version: 0, createdAt: now, updatedAt: now };
        }
        // The sample is an event like any other: same shape, size and time checks (EventValidationError).
        const event = normalizeEvent({ name: sample?.name ?? rule.trigger.eventName, accountId, payload: sample?.payload, timestamp: sample?.timestamp }, now, tuning.eventTimeWindow);
        return dryRunRule(rule, { name: event.name, payload: event.payload, timestamp: event.timestamp }, now, operators);
      },
    },

    triggers: {
      get: (accountId, id) => store.getTrigger(requireAccount(accountId), id),
      list: (accountId, filter = {}) => store.listTriggers(requireAccount(accountId), filter),
      cancel: (accountId, id) => transition(accountId, id, 'cancel'),
      retry: (accountId, id) => transition(accountId, id, 'retry'),
    },

    ingest: (event, ingestOptions) => ingest(event, ingestOptions),
    ingestMany: (events) => ingestMany(events),

    async publish(input) {
      const event = normalizeEvent(input, clock.now(), tuning.eventTimeWindow);
      if (bus.local && !subscribing) await attachIntake();
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

    runDue: async () => (triggerStoreOption ? loop.runDue() : missing('trigger')()),

    async start() {
      if (!triggerStoreOption) missing('trigger')();
      await attachIntake();
      loop.start();
      logger.info({ group: tuning.group }, 'engine started');
    },

    async stop() {
      const sub = subscription;
      subscription = undefined;
      subscribing = undefined;
      await Promise.all([sub?.stop(), loop.stop()]);
      logger.info({}, 'engine stopped');
    },

    on(event, listener) {
      emitter.on(event, listener as never);
      return engine;
    },
    off(event, listener) {
      emitter.off(event, listener as never);
      return engine;
    },
  };
  return engine;
}

/** A stand-in for a store the engine was not given: every method throws `fail()`'s error. */
function unavailable<T extends object>(fail: () => never): T {
  return new Proxy({ capabilities: { name: 'none' } } as T, {
    get: (target, key) => (key === 'capabilities' ? (target as { capabilities: unknown }).capabilities : key === 'close' ? undefined : key === 'then' ? undefined : async () => fail()),
  });
}

/** Both halves as one `AutomationStore`, for `engine.store` (deprecated) when they were given apart. */
function combineStores(rules: RuleStore, triggers: TriggerStore): AutomationStore {
  return {
    capabilities: { name: `${rules.capabilities.name}+${triggers.capabilities.name}` },
    insertRule: (...a) => rules.insertRule(...a),
    getRule: (...a) => rules.getRule(...a),
    replaceRule: (...a) => rules.replaceRule(...a),
    deleteRule: (...a) => rules.deleteRule(...a),
    listRules: (...a) => rules.listRules(...a),
    findRulesForEvent: (...a) => rules.findRulesForEvent(...a),
    insertTriggers: (...a) => triggers.insertTriggers(...a),
    getTrigger: (...a) => triggers.getTrigger(...a),
    listTriggers: (...a) => triggers.listTriggers(...a),
    claimDueTriggers: (...a) => triggers.claimDueTriggers(...a),
    finishAttempt: (...a) => triggers.finishAttempt(...a),
    transitionTrigger: (...a) => triggers.transitionTrigger(...a),
    nextDueAt: () => triggers.nextDueAt(),
    purgeTriggers: (...a) => triggers.purgeTriggers(...a),
    ...(triggers.finishAttempts ? { finishAttempts: (...a: Parameters<NonNullable<TriggerStore['finishAttempts']>>) => (triggers.finishAttempts as NonNullable<TriggerStore['finishAttempts']>)(...a) } : {}),
    ...(triggers.watchDue ? { watchDue: (...a: Parameters<NonNullable<TriggerStore['watchDue']>>) => (triggers.watchDue as NonNullable<TriggerStore['watchDue']>)(...a) } : {}),
  };
}
