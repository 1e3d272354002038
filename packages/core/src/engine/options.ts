// One file: each engine option's type, documentation, default and check sit side by side, and
// `optionKeys` is checked against the type here, so an option cannot be added without its check.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AutomationError } from '../errors.js';
import { checkOptions, optionKeys } from '../config/check-options.js';
import { checkOptionShapes, LOGGER_OPTION_SHAPE, type OptionShape } from '../config/option-shapes.js';
import { DEFAULT_EVENT_TIME_WINDOW, type EventTimeWindow } from '../events/event.js';
import type { EventBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { ChannelMap } from '../ports/gateway.js';
import type { DeliveryLedger } from '../ports/delivery-ledger.js';
import type { ContactCounter, ContactPolicyStore, SendThrottle, SuppressionStore } from '../ports/contact-policy.js';
import type { IdempotencyStore } from '../ports/idempotency.js';
import { WEBHOOK_ADDRESS_POLICY_SHAPES, type WebhookAddressPolicy } from '../net/webhook-address-policy.js';
import type { Logger } from '../ports/logger.js';
import type { RuleSource } from '../ports/rule-source.js';
import type { Tracer } from '../ports/tracer.js';
import type { AutomationStore, RuleStore, TriggerStore } from '../ports/store.js';
import type { OperatorFn } from '../rules/operators.js';
import { DEFAULT_RULE_LIMITS, type RuleLimits } from '../rules/rule-schema.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../scheduling/backoff.js';
import type { FactLoader } from '../scheduling/current-facts.js';

/** Options of {@link createAutomationEngine}. Only `store` is required. */
export interface AutomationEngineOptions {
  /**
   * Where rules and triggers live, both in one adapter: `createMemoryStore()`, `createMongoStore(...)`,
   * `createPostgresStore(...)`. Give `ruleStore` and/or `triggerStore` instead to keep them apart (a
   * rules service has only a rule store, a trigger service only a trigger store and a `ruleSource`).
   */
  store?: AutomationStore | undefined;
  /** Where rules live, when not in `store`. */
  ruleStore?: RuleStore | undefined;
  /** Where triggers live, when not in `store`. */
  triggerStore?: TriggerStore | undefined;
  /**
   * Where intake and evaluation read rules; defaults to `store`. A trigger service that fetches
   * rules from a Rules Service passes a client of it here (`engine.rules.*` still use the store).
   */
  ruleSource?: RuleSource | undefined;
  /** Event transport; defaults to an in-process `createMemoryBus()`. */
  bus?: EventBus | undefined;
  /** Gateways by action type: `{ sms, email, webhook, ...custom }`. */
  channels?: ChannelMap | undefined;
  clock?: Clock | undefined;
  /** A pino logger (or anything with its debug/info/warn/error/child); silent by default. */
  logger?: Logger | undefined;
  /** Distributed tracing (e.g. `createOtelTracer()` from `@crm-automation/otel`); off by default. */
  tracer?: Tracer | undefined;
  /** When given, every send goes through it, so no command reaches a provider twice. */
  idempotency?: IdempotencyStore | undefined;
  /**
   * How long a send's idempotency reservation blocks other senders if its holder dies mid-send.
   * Default 60 s. With a delivery ledger such a send is `unknown` and is not resent when it expires.
   */
  idempotencyLockMs?: number | undefined;
  /**
   * Where every send is recorded, from intent to receipt. Default: the trigger store, when it keeps a
   * ledger (the memory, PostgreSQL and MongoDB stores do); `false` to keep none.
   */
  ledger?: DeliveryLedger | false | undefined;
  /**
   * Each account's contact policy (quiet hours, caps), applied before every send. Default: the store's,
   * when it keeps them (the memory store does); `false` to apply none (with all three `false`, or a
   * store that keeps none, dispatch makes no policy reads at all). Without one, nothing is held back by policy.
   */
  contactPolicies?: ContactPolicyStore | false | undefined;
  /**
   * The suppression list (STOP, unsubscribes, bounces, provider opt-outs), checked before every send to
   * a person, whatever its category. Default: the store's, when it keeps one; `false` for none.
   */
  suppressions?: SuppressionStore | false | undefined;
  /** Where caps are counted, atomically across engines. Default: the store's, when it keeps one; `false` for none. */
  contactCounter?: ContactCounter | false | undefined;
  /**
   * Where each account's per-channel send rate (`throttle` in its policy) is counted, shared by the
   * engines on it. Default: the store's, when it keeps one (the memory store does); `false` for none
   * (a policy's `throttle` then holds nothing back, and transactional sends read no policy).
   */
  sendThrottle?: SendThrottle | false | undefined;
  /**
   * Loaders of facts' current values, by fact name, for rules that evaluate on current state
   * (`evaluate: 'current'` or `{ job: 'current' }`): when such a trigger fires, the payload's fact is
   * replaced by what the loader returns, for conditions and templates alike. A loader that throws or
   * does not answer within `factTimeoutMs` fails the attempt as an infrastructure failure (retried with
   * backoff, not counted against `maxAttempts`); one that returns `null` or `undefined` (the entity is
   * gone) skips the trigger with reason `entity-missing`.
   *
   * @example
   * facts: { job: async ({ accountId, entityKey, signal }) => crm.getJob(accountId, entityKey, { signal }) }
   */
  facts?: Readonly<Record<string, FactLoader>> | undefined;
  /** How long a `facts` loader may take before the attempt is retried. Default 5 s. */
  factTimeoutMs?: number | undefined;
  /** Custom json-rules-engine operators, usable in rules by name. */
  operators?: Readonly<Record<string, OperatorFn>> | undefined;
  /**
   * Action types rules may use besides those in `channels` and the built-in sms/email/webhook,
   * for processes that validate rules but do not send (a rules service).
   */
  actionTypes?: readonly string[] | undefined;
  limits?: Partial<RuleLimits> | undefined;
  /**
   * Save-time check of literal webhook URLs; return a message to refuse (SSRF defences). Default:
   * `createWebhookUrlCheck(webhookAddressPolicy)`, which refuses literal non-public addresses in any
   * spelling and `localhost`. The send-time check of the webhook gateway remains the authority.
   */
  checkWebhookUrl?: ((url: URL) => string | null) | undefined;
  /**
   * Which webhook destinations the default `checkWebhookUrl` accepts besides public addresses:
   * `{ allowPrivateNetworks: true }` for receivers in your own network, `{ allowHosts: [...] }` for
   * named hosts. Only for engines without a webhook gateway (a rules service that validates rules
   * another service sends): with one, its policy (`createWebhook({ allowHosts })`) is the one used,
   * and a different policy here is a `CRM_ERR_CONFIG`.
   */
  webhookAddressPolicy?: WebhookAddressPolicy | undefined;

  /** Consumer group for bus intake. Default `automation-intake`. */
  group?: string | undefined;
  /**
   * Longest idle sleep of the claim loop; it wakes earlier for the next known due time and whenever
   * this engine's intake stores an earlier trigger. Default 500 ms; with a trigger store that announces
   * triggers stored by any process (`watchDue`: the memory and PostgreSQL stores), the loop sleeps until
   * the next due time or a wake-up, with a 30 s backstop poll. Setting it sets both.
   */
  pollIntervalMs?: number | undefined;
  /** Triggers claimed per batch. Default 100. */
  batchSize?: number | undefined;
  /** Triggers processed at once. Default 16. */
  concurrency?: number | undefined;
  /** How long a claim is exclusive; a worker that dies releases its triggers after this. Default 60 s. */
  leaseMs?: number | undefined;
  /** Attempts before a transiently failing trigger fails for good. Default 5. */
  maxAttempts?: number | undefined;
  backoff?: Partial<BackoffOptions> | undefined;
  /** A gateway that has not answered after this long has failed transiently. Default 10 s. */
  sendTimeoutMs?: number | undefined;
  /**
   * A trigger store, ledger or rule source request that has not answered after this long fails with
   * `CRM_ERR_STORE_TIMEOUT`, as a store failure, so that one request a driver never answers cannot hold
   * the claim loop or intake for good. Default 30 s, or `leaseMs` when that is shorter.
   */
  storeTimeoutMs?: number | undefined;
  /** Compiled rule versions kept in memory. Default 10,000. */
  compiledRuleCacheSize?: number | undefined;
  /** Name of this engine instance in logs and execution history. */
  instanceId?: string | undefined;
  /**
   * Which event timestamps intake accepts, around the engine's clock. Default: at most 1 day ahead
   * and 7 days old (the default retention of finished triggers, which is what recognises a redelivery).
   */
  eventTimeWindow?: Partial<EventTimeWindow> | undefined;
}

const ENGINE_OPTION_KEYS = optionKeys<AutomationEngineOptions>()(
  'store', 'ruleStore', 'triggerStore', 'ruleSource', 'bus', 'channels', 'clock', 'logger', 'tracer', 'idempotency', 'idempotencyLockMs', 'ledger', 'contactPolicies', 'suppressions', 'contactCounter', 'sendThrottle', 'operators', 'actionTypes', 'limits',
  'checkWebhookUrl', 'webhookAddressPolicy', 'group', 'pollIntervalMs', 'batchSize', 'concurrency', 'leaseMs', 'maxAttempts',
  'backoff', 'sendTimeoutMs', 'storeTimeoutMs', 'compiledRuleCacheSize', 'instanceId', 'eventTimeWindow', 'facts', 'factTimeoutMs',
);

// The methods the engine calls first on each port: enough to tell a port from a wrong value (a factory
// passed uncalled, a connection string, an options object) without requiring every optional one.
const RULE_STORE_METHODS = ['insertRule', 'getRule', 'findRulesForEvent'];
const TRIGGER_STORE_METHODS = ['insertTriggers', 'claimDueTriggers', 'finishAttempt'];

/** What each known engine option must hold; numbers and nested objects are checked where they are read. */
const ENGINE_OPTION_SHAPES: Readonly<Partial<Record<keyof AutomationEngineOptions, OptionShape>>> = {
  store: { kind: 'port', what: 'a store (rules and triggers, e.g. createMemoryStore())', methods: [...RULE_STORE_METHODS, ...TRIGGER_STORE_METHODS] },
  ruleStore: { kind: 'port', what: 'a rule store', methods: RULE_STORE_METHODS },
  triggerStore: { kind: 'port', what: 'a trigger store', methods: TRIGGER_STORE_METHODS },
  ruleSource: { kind: 'port', what: 'a rule source', methods: ['findRulesForEvent', 'getRule'] },
  bus: { kind: 'port', what: 'an event bus (e.g. createMemoryBus())', methods: ['publish', 'subscribe'] },
  channels: { kind: 'record', what: 'an object of gateways by action type ({ sms, email, webhook, ... })', of: { kind: 'port', what: 'a gateway (e.g. createTwilioSms({...}))', methods: ['send'] } },
  clock: { kind: 'port', what: 'a clock', methods: ['now', 'setTimer'] },
  logger: LOGGER_OPTION_SHAPE,
  tracer: { kind: 'port', what: 'a tracer (e.g. createOtelTracer())', methods: ['startSpan'] },
  idempotency: { kind: 'port', what: 'an idempotency store', methods: ['acquire', 'complete', 'release'] },
  ledger: { kind: 'port', what: 'a delivery ledger', methods: ['recordIntents', 'recordOutcomes'], orFalse: true },
  contactPolicies: { kind: 'port', what: 'a contact policy store', methods: ['getContactPolicy'], orFalse: true },
  suppressions: { kind: 'port', what: 'a suppression store', methods: ['findSuppression'], orFalse: true },
  contactCounter: { kind: 'port', what: 'a contact counter', methods: ['reserve', 'release'], orFalse: true },
  sendThrottle: { kind: 'port', what: 'a send throttle', methods: ['take'], orFalse: true },
  operators: { kind: 'record', what: 'an object of operator functions by name', of: { kind: 'function', what: 'an operator function ((factValue, ruleValue) => boolean)' } },
  actionTypes: { kind: 'strings', what: 'an array of action type names' },
  checkWebhookUrl: { kind: 'function', what: 'a function of a URL returning a refusal message or null' },
  group: { kind: 'string', what: 'a consumer group name' },
  instanceId: { kind: 'string', what: 'a name of this engine instance' },
};

/** The backstop poll of an engine whose trigger store wakes it (`watchDue`). */
export const DEFAULT_IDLE_POLL_MS = 30_000;

export interface ResolvedTuning {
  group: string;
  pollIntervalMs: number;
  /** The poll when the trigger store announces new triggers itself (`watchDue`): a backstop only. */
  idlePollMs: number;
  batchSize: number;
  concurrency: number;
  leaseMs: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  sendTimeoutMs: number;
  storeTimeoutMs: number;
  factTimeoutMs: number;
  compiledRuleCacheSize: number;
  instanceId: string;
  limits: RuleLimits;
  maxStoreBackoffMs: number;
  eventTimeWindow: EventTimeWindow;
}

/** Reads an integer option that must be positive; `fallback` when absent; a CRM_ERR_CONFIG error otherwise. */
export function positiveIntOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Longest duration an engine option may give: Node runs a timer set longer than 2^31 - 1 ms at once
 * (and the stores' due and lease times must stay dates), so a longer lease, timeout or poll interval
 * would not mean what it says.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** A positive whole number of milliseconds that timers and due times can hold. */
export function durationOption(name: string, value: number | undefined, fallback: number): number {
  const ms = positiveIntOption(name, value, fallback);
  if (ms > MAX_DURATION_MS) {
    throw new AutomationError('CRM_ERR_CONFIG', `${name} must be at most ${MAX_DURATION_MS} ms (about 24.8 days), got ${String(value)}`);
  }
  return ms;
}

function nonNegativeMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `${name} must be a non-negative number of milliseconds, got ${String(value)}`);
  }
  return value;
}

export function resolveTuning(options: AutomationEngineOptions | undefined): ResolvedTuning {
  checkOptions('createAutomationEngine', options, ENGINE_OPTION_KEYS, true);
  checkOptionShapes('createAutomationEngine', options as object, ENGINE_OPTION_SHAPES);
  if (!options?.store && !options?.ruleStore && !options?.triggerStore) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createAutomationEngine needs a store (e.g. createMemoryStore()), or a ruleStore and/or a triggerStore');
  }
  checkOptions('createAutomationEngine: backoff', options.backoff, Object.keys(DEFAULT_BACKOFF));
  checkOptions('createAutomationEngine: limits', options.limits, Object.keys(DEFAULT_RULE_LIMITS));
  checkOptions('createAutomationEngine: eventTimeWindow', options.eventTimeWindow, Object.keys(DEFAULT_EVENT_TIME_WINDOW));
  checkOptions('createAutomationEngine: webhookAddressPolicy', options.webhookAddressPolicy, ['allowPrivateNetworks', 'allowHosts']);
  if (options.webhookAddressPolicy) checkOptionShapes('createAutomationEngine: webhookAddressPolicy', options.webhookAddressPolicy, WEBHOOK_ADDRESS_POLICY_SHAPES);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (!(backoff.jitter >= 0 && backoff.jitter <= 1) || !(backoff.factor >= 1) || !(backoff.baseMs >= 0) || !(backoff.maxMs >= backoff.baseMs) || !(backoff.maxMs <= MAX_DURATION_MS)) {
    throw new AutomationError('CRM_ERR_CONFIG', `backoff needs 0 <= jitter <= 1, factor >= 1 and 0 <= baseMs <= maxMs <= ${MAX_DURATION_MS}`);
  }
  const sendTimeoutMs = durationOption('sendTimeoutMs', options.sendTimeoutMs, 10_000);
  const leaseMs = durationOption('leaseMs', options.leaseMs, 60_000);
  checkFactLoaders(options.facts);
  if (leaseMs <= sendTimeoutMs) {
    throw new AutomationError('CRM_ERR_CONFIG', `leaseMs (${leaseMs}) must be longer than sendTimeoutMs (${sendTimeoutMs})`);
  }
  return {
    group: options.group ?? 'automation-intake',
    pollIntervalMs: durationOption('pollIntervalMs', options.pollIntervalMs, 500),
    idlePollMs: options.pollIntervalMs === undefined ? DEFAULT_IDLE_POLL_MS : durationOption('pollIntervalMs', options.pollIntervalMs, 500),
    batchSize: positiveIntOption('batchSize', options.batchSize, 100),
    concurrency: positiveIntOption('concurrency', options.concurrency, 16),
    leaseMs,
    maxAttempts: positiveIntOption('maxAttempts', options.maxAttempts, 5),
    backoff,
    sendTimeoutMs,
    storeTimeoutMs: durationOption('storeTimeoutMs', options.storeTimeoutMs, Math.min(30_000, leaseMs)),
    factTimeoutMs: durationOption('factTimeoutMs', options.factTimeoutMs, 5_000),
    compiledRuleCacheSize: positiveIntOption('compiledRuleCacheSize', options.compiledRuleCacheSize, 10_000),
    instanceId: options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    limits: Object.fromEntries(
      Object.entries(DEFAULT_RULE_LIMITS).map(([key, fallback]) => [key, positiveIntOption(`limits.${key}`, options.limits?.[key as keyof RuleLimits], fallback)]),
    ) as unknown as RuleLimits,
    maxStoreBackoffMs: 30_000,
    eventTimeWindow: {
      maxFutureMs: nonNegativeMs('eventTimeWindow.maxFutureMs', options.eventTimeWindow?.maxFutureMs, DEFAULT_EVENT_TIME_WINDOW.maxFutureMs),
      maxAgeMs: nonNegativeMs('eventTimeWindow.maxAgeMs', options.eventTimeWindow?.maxAgeMs, DEFAULT_EVENT_TIME_WINDOW.maxAgeMs),
    },
  };
}

/** `facts` is an object of functions: a loader that is not one would fail every run that needs it. */
function checkFactLoaders(facts: unknown): void {
  if (facts === undefined) return;
  if (typeof facts !== 'object' || facts === null || Array.isArray(facts)) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createAutomationEngine: facts must be an object of loader functions by fact name');
  }
  for (const [name, loader] of Object.entries(facts)) {
    if (typeof loader !== 'function') {
      throw new AutomationError('CRM_ERR_CONFIG', `createAutomationEngine: facts.${name} must be a function (an async loader of the fact's current value), got ${loader === null ? 'null' : typeof loader}`);
    }
  }
}
