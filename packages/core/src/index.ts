export { createAutomationEngine } from './engine/create-engine.js';
export type { AutomationEngine, EngineEvents, IngestManyResult, IngestOptions, SavedRule, UpdateRuleOptions } from './engine/create-engine.js';
export type { AutomationEngineOptions } from './engine/options.js';
export { positiveIntOption } from './engine/options.js';

export * from './errors.js';

export type { AutomationEvent, NormalizedEvent, EventTimeWindow } from './events/event.js';
export { normalizeEvent, checkEventTime, MAX_EVENT_BYTES, DEFAULT_EVENT_TIME_WINDOW } from './events/event.js';
export { checkOptions, optionKeys, closestName, didYouMean } from './config/check-options.js';
export { checkJsonShape, MAX_JSON_DEPTH, MAX_JSON_NODES } from './input/json-shape.js';
export type { JsonShapeProblem } from './input/json-shape.js';
export { E164_PATTERN, MAX_EMAIL_LENGTH, isE164, isEmailAddress, hasLineBreak } from './actions/contact-points.js';
export { HEADER_NAME_PATTERN, RESERVED_WEBHOOK_HEADERS, isReservedWebhookHeader } from './actions/webhook-headers.js';
export { smsRuleParamsSchema, smsCommandSchema, MAX_SMS_LENGTH } from './actions/sms.js';
export { emailRuleParamsSchema, emailCommandSchema, MAX_SUBJECT_LENGTH, MAX_EMAIL_BODY_LENGTH } from './actions/email.js';
export { webhookRuleParamsSchema, webhookCommandSchema, WEBHOOK_METHODS, MAX_WEBHOOK_URL_LENGTH, MAX_HEADER_VALUE_LENGTH } from './actions/webhook.js';
export type { WebhookRuleParamsOptions } from './actions/webhook.js';
export {
  BUILT_IN_ACTION_TYPES,
  BUILT_IN_COMMAND_SCHEMAS,
  builtInRuleParamsSchemas,
  checkCommandParams,
  isBuiltInActionType,
  paramsIssues,
  InvalidCommandError,
} from './actions/built-in.js';
export type { BuiltInActionType } from './actions/built-in.js';
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
export { resolvePath, checkJsonPath, MAX_PATH_VISITS } from './rules/json-path.js';
export type { PathProblem } from './rules/json-path.js';
export type { DryRunCommand, DryRunResult, DryRunSample } from './rules/dry-run.js';
export { checkTemplate, checkTemplateSource, compileTemplate, TEMPLATE_LIMITS } from './rules/templates.js';
export type { TemplateProblem } from './rules/templates.js';
export { checkWebhookUrl, compileUrlTemplate } from './rules/webhook-url.js';

export type * from './scheduling/trigger.js';
export { TRIGGER_STATUSES, FINAL_STATUSES } from './scheduling/trigger.js';
export type { RunCounts } from './scheduling/claim-loop.js';
export { backoffDelay, DEFAULT_BACKOFF } from './scheduling/backoff.js';
export type { BackoffOptions } from './scheduling/backoff.js';

export { withIdempotency, idempotencyKeyOf, DEFAULT_IDEMPOTENCY_LOCK_MS, DEFAULT_IDEMPOTENCY_TTL_MS } from './dispatch/idempotency.js';
export type { IdempotencyOptions } from './dispatch/idempotency.js';

export { createMemoryStore, clampLimit } from './memory/memory-store.js';
export { createMemoryRuleStore } from './memory/memory-rule-store.js';
export { createMemoryTriggerStore } from './memory/memory-trigger-store.js';
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
