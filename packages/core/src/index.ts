export { createAutomationEngine } from './engine/create-engine.js';
export type { AutomationEngine, EngineEvents, IngestOptions, UpdateRuleOptions } from './engine/create-engine.js';
export type { AutomationEngineOptions } from './engine/options.js';
export { positiveIntOption } from './engine/options.js';

export * from './errors.js';

export type { AutomationEvent, NormalizedEvent } from './events/event.js';
export { normalizeEvent, MAX_EVENT_BYTES } from './events/event.js';
export { decideFailedDelivery, failureReason, accountOfMessage } from './intake/delivery-policy.js';
export type { FailedDelivery } from './intake/delivery-policy.js';

export type * from './ports/store.js';
export type * from './ports/rule-source.js';
export type * from './ports/bus.js';
export type * from './ports/gateway.js';
export type * from './ports/idempotency.js';
export type { Clock } from './ports/clock.js';
export { systemClock } from './ports/clock.js';
export type { Logger } from './ports/logger.js';
export type { Tracer, Span, SpanAttributes, StartSpanOptions, TraceCarrier } from './ports/tracer.js';
export { noopTracer, hasTraceContext } from './ports/tracer.js';
export { withTracing } from './dispatch/tracing.js';
export type { ActionObservation } from './dispatch/dispatch-actions.js';
export { silentLogger } from './ports/logger.js';

export type * from './rules/rule.js';
export { delayToMs, isConditionGroup } from './rules/rule.js';
export { BUILT_IN_OPERATORS, BUILT_IN_DECORATORS } from './rules/operators.js';
export type { OperatorFn } from './rules/operators.js';
export { DEFAULT_RULE_LIMITS, MAX_DELAY_MS } from './rules/rule-schema.js';
export type { RuleLimits, RuleValidationResult } from './rules/rule-schema.js';
export { resolvePath } from './rules/json-path.js';
export type { DryRunCommand, DryRunResult, DryRunSample } from './rules/dry-run.js';
export { checkTemplate, compileTemplate } from './rules/templates.js';

export type * from './scheduling/trigger.js';
export { TRIGGER_STATUSES, FINAL_STATUSES } from './scheduling/trigger.js';
export type { RunCounts } from './scheduling/claim-loop.js';
export { backoffDelay, DEFAULT_BACKOFF } from './scheduling/backoff.js';
export type { BackoffOptions } from './scheduling/backoff.js';

export { withIdempotency, idempotencyKeyOf, DEFAULT_IDEMPOTENCY_LOCK_MS, DEFAULT_IDEMPOTENCY_TTL_MS } from './dispatch/idempotency.js';
export type { IdempotencyOptions } from './dispatch/idempotency.js';

export { createMemoryStore, clampLimit } from './memory/memory-store.js';
export { createMemoryBus } from './memory/memory-bus.js';
export type { MemoryBus, MemoryBusOptions } from './memory/memory-bus.js';
export { createRecordingChannel } from './memory/recording-channel.js';
export type { RecordingChannel, RecordingChannelOptions } from './memory/recording-channel.js';
export { createManualClock } from './memory/manual-clock.js';
export type { ManualClock } from './memory/manual-clock.js';
export { createMemoryIdempotencyStore } from './memory/memory-idempotency.js';
export { createConsoleChannels } from './memory/console-channels.js';
export type { ConsoleChannelsOptions } from './memory/console-channels.js';

export { parseIpLiteral, parseIPv4, parseIPv6, formatIpAddress } from './net/ip-literal.js';
export type { IpAddress } from './net/ip-literal.js';
export { classifyAddress, classifyIpAddress, describeClassification } from './net/address-classification.js';
export type { AddressClassification, AddressKind, EmbeddingForm } from './net/address-classification.js';
export { createWebhookAddressCheck, createWebhookUrlCheck, normalizeHost } from './net/webhook-address-policy.js';
export type { WebhookAddressCheck, WebhookAddressPolicy } from './net/webhook-address-policy.js';
