/**
 * `@crm-automation/core`: the engine, its types and its errors — what an application needs. The
 * in-memory adapters are in `@crm-automation/core/memory`, what adapter and gateway authors build on
 * in `@crm-automation/core/spi`, and the test doubles in `@crm-automation/testing/doubles`.
 */
export { createAutomationEngine } from './engine/create-engine.js';
export type { AutomationEngine, EngineEvents, IngestedTriggers, IngestManyResult, IngestOptions, SavedRule, TriggerCancelledInfo, TriggerRescheduledInfo, ScheduleSkippedInfo, TriggerSupersededInfo, UpdateRuleOptions } from './engine/create-engine.js';
export type { IntakeSummary } from './intake/ingest.js';
export { MAX_ENTITY_KEY_LENGTH } from './intake/entity-key.js';
export type { FactLoader, FactLoaderContext } from './scheduling/current-facts.js';
export type { AutomationEngineOptions } from './engine/options.js';
export type { ContactDeferredInfo, ContactSkippedInfo } from './engine/engine-api.js';
export type { ContactPolicyAdmin, ContactPolicyValidationResult, SetContactPolicyOptions, SuppressionAdmin, SuppressionInput, SuppressionRemovalInput } from './engine/contact-admin.js';
export type * from './policy/contact-policy.js';
export { MESSAGE_CATEGORIES, DEFAULT_MESSAGE_CATEGORY, CAP_PERIODS, DEFAULT_THROTTLE_BURST } from './policy/contact-policy.js';
export type * from './ports/contact-policy.js';
export { SUPPRESSION_REASONS, SUPPRESSION_SOURCES } from './ports/contact-policy.js';

export {
  AutomationError,
  RuleValidationError,
  ContactPolicyValidationError,
  EventValidationError,
  VersionConflictError,
  TriggerStateError,
  DeliveryStateError,
  GatewayError,
  ERROR_CODES,
  isAutomationError,
} from './errors.js';
export type { ErrorCode, ValidationIssue, AutomationErrorOptions, GatewayErrorOptions } from './errors.js';
export { InvalidCommandError } from './actions/built-in.js';

export type { AutomationEvent, NormalizedEvent, EventTimeWindow } from './events/event.js';
export { MAX_EVENT_BYTES, DEFAULT_EVENT_TIME_WINDOW } from './events/event.js';
export { MAX_JSON_DEPTH } from './input/json-shape.js';

export type * from './ports/store.js';
export type * from './ports/rule-source.js';
export type * from './ports/bus.js';
export type * from './ports/gateway.js';
export type * from './ports/idempotency.js';
export type * from './ports/delivery-ledger.js';
export { DELIVERY_STATES, SETTLED_DELIVERY_STATES } from './ports/delivery-ledger.js';
export type { DeliveryAdmin } from './engine/delivery-admin.js';
export type { Clock } from './ports/clock.js';
export { systemClock } from './ports/clock.js';
export type { Logger } from './ports/logger.js';
export { silentLogger } from './ports/logger.js';
export type { Tracer, Span, SpanAttributes, StartSpanOptions, TraceCarrier } from './ports/tracer.js';
export { noopTracer } from './ports/tracer.js';
export type { ActionObservation } from './dispatch/dispatch-actions.js';
export type { WebhookAddressPolicy } from './net/webhook-address-policy.js';

export type * from './rules/rule.js';
export { asUntrustedRule } from './rules/rule.js';
export { BUILT_IN_OPERATORS, BUILT_IN_DECORATORS, CORE_OPERATORS } from './rules/operators.js';
export type { BuiltInOperator, CoreOperator, OperatorDecorator, OperatorFn } from './rules/operators.js';
export { DEFAULT_RULE_LIMITS, MAX_CANCEL_ON, MAX_DELAY_MS } from './rules/rule-schema.js';
export type { RuleLimits, RuleValidationResult } from './rules/rule-schema.js';
export { MAX_PATH_VISITS, MAX_TRIGGER_PATH_VISITS } from './rules/json-path.js';
export { MAX_WEBHOOK_PAYLOAD_ITEMS } from './actions/webhook.js';
export { TEMPLATE_LIMITS, BLOCK_STEPS } from './rules/templates.js';
export type { DryRunCommand, DryRunContact, DryRunResult, DryRunSample, DryRunSchedule } from './rules/dry-run.js';
export { computeDueTime, EVENT_TIMESTAMP_ANCHOR, MAX_SCHEDULE_HORIZON_MS } from './scheduling/schedule.js';
export type { ScheduledTime, ScheduleEvent, ScheduleSkipReason } from './scheduling/schedule.js';
export { isTimeZone } from './scheduling/time-zones.js';

export type * from './scheduling/trigger.js';
export { TRIGGER_STATUSES, FINAL_STATUSES } from './scheduling/trigger.js';
export type { RunCounts } from './scheduling/claim-loop.js';

// Moved to the subpath entries: still exported here, deprecated, for one minor version.
import * as memoryEntry from './entries/memory.js';
import * as spiEntry from './entries/spi.js';
import * as doublesEntry from './entries/doubles.js';
import { NotFoundError as NotFoundErrorClass } from './errors.js';


// @crm-automation/core/memory
/** @deprecated Import `createMemoryStore` from `@crm-automation/core/memory`. */
export const createMemoryStore = memoryEntry.createMemoryStore;
/** @deprecated Import `createMemoryRuleStore` from `@crm-automation/core/memory`. */
export const createMemoryRuleStore = memoryEntry.createMemoryRuleStore;
/** @deprecated Import `createMemoryTriggerStore` from `@crm-automation/core/memory`. */
export const createMemoryTriggerStore = memoryEntry.createMemoryTriggerStore;
/** @deprecated Import `createMemoryBus` from `@crm-automation/core/memory`. */
export const createMemoryBus = memoryEntry.createMemoryBus;
/** @deprecated Import `createMemoryIdempotencyStore` from `@crm-automation/core/memory`. */
export const createMemoryIdempotencyStore = memoryEntry.createMemoryIdempotencyStore;
/** @deprecated Import `createConsoleChannels` from `@crm-automation/core/memory`. */
export const createConsoleChannels = memoryEntry.createConsoleChannels;
/** @deprecated Import `MemoryBus` from `@crm-automation/core/memory`. */
export type MemoryBus = memoryEntry.MemoryBus;
/** @deprecated Import `MemoryBusOptions` from `@crm-automation/core/memory`. */
export type MemoryBusOptions = memoryEntry.MemoryBusOptions;
/** @deprecated Import `ConsoleChannelsOptions` from `@crm-automation/core/memory`. */
export type ConsoleChannelsOptions = memoryEntry.ConsoleChannelsOptions;

// @crm-automation/core/spi
/** @deprecated Import `checkOptions` from `@crm-automation/core/spi`. */
export const checkOptions = spiEntry.checkOptions;
/** @deprecated Import `optionKeys` from `@crm-automation/core/spi`. */
export const optionKeys = spiEntry.optionKeys;
/** @deprecated Import `closestName` from `@crm-automation/core/spi`. */
export const closestName = spiEntry.closestName;
/** @deprecated Import `didYouMean` from `@crm-automation/core/spi`. */
export const didYouMean = spiEntry.didYouMean;
/** @deprecated Import `positiveIntOption` from `@crm-automation/core/spi`. */
export const positiveIntOption = spiEntry.positiveIntOption;
/** @deprecated Import `checkJsonShape` from `@crm-automation/core/spi`. */
export const checkJsonShape = spiEntry.checkJsonShape;
/** @deprecated Import `MAX_JSON_NODES` from `@crm-automation/core/spi`. */
export const MAX_JSON_NODES = spiEntry.MAX_JSON_NODES;
/** @deprecated Import `describeError` from `@crm-automation/core/spi`. */
export const describeError = spiEntry.describeError;
/** @deprecated Import `formatPath` from `@crm-automation/core/spi`. */
export const formatPath = spiEntry.formatPath;
/** @deprecated Import `E164_PATTERN` from `@crm-automation/core/spi`. */
export const E164_PATTERN = spiEntry.E164_PATTERN;
/** @deprecated Import `MAX_EMAIL_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_EMAIL_LENGTH = spiEntry.MAX_EMAIL_LENGTH;
/** @deprecated Import `isE164` from `@crm-automation/core/spi`. */
export const isE164 = spiEntry.isE164;
/** @deprecated Import `isEmailAddress` from `@crm-automation/core/spi`. */
export const isEmailAddress = spiEntry.isEmailAddress;
/** @deprecated Import `hasLineBreak` from `@crm-automation/core/spi`. */
export const hasLineBreak = spiEntry.hasLineBreak;
/** @deprecated Import `HEADER_NAME_PATTERN` from `@crm-automation/core/spi`. */
export const HEADER_NAME_PATTERN = spiEntry.HEADER_NAME_PATTERN;
/** @deprecated Import `RESERVED_WEBHOOK_HEADERS` from `@crm-automation/core/spi`. */
export const RESERVED_WEBHOOK_HEADERS = spiEntry.RESERVED_WEBHOOK_HEADERS;
/** @deprecated Import `isReservedWebhookHeader` from `@crm-automation/core/spi`. */
export const isReservedWebhookHeader = spiEntry.isReservedWebhookHeader;
/** @deprecated Import `smsRuleParamsSchema` from `@crm-automation/core/spi`. */
export const smsRuleParamsSchema = spiEntry.smsRuleParamsSchema;
/** @deprecated Import `smsCommandSchema` from `@crm-automation/core/spi`. */
export const smsCommandSchema = spiEntry.smsCommandSchema;
/** @deprecated Import `MAX_SMS_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_SMS_LENGTH = spiEntry.MAX_SMS_LENGTH;
/** @deprecated Import `emailRuleParamsSchema` from `@crm-automation/core/spi`. */
export const emailRuleParamsSchema = spiEntry.emailRuleParamsSchema;
/** @deprecated Import `emailCommandSchema` from `@crm-automation/core/spi`. */
export const emailCommandSchema = spiEntry.emailCommandSchema;
/** @deprecated Import `MAX_SUBJECT_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_SUBJECT_LENGTH = spiEntry.MAX_SUBJECT_LENGTH;
/** @deprecated Import `MAX_EMAIL_BODY_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_EMAIL_BODY_LENGTH = spiEntry.MAX_EMAIL_BODY_LENGTH;
/** @deprecated Import `webhookRuleParamsSchema` from `@crm-automation/core/spi`. */
export const webhookRuleParamsSchema = spiEntry.webhookRuleParamsSchema;
/** @deprecated Import `webhookCommandSchema` from `@crm-automation/core/spi`. */
export const webhookCommandSchema = spiEntry.webhookCommandSchema;
/** @deprecated Import `WEBHOOK_METHODS` from `@crm-automation/core/spi`. */
export const WEBHOOK_METHODS = spiEntry.WEBHOOK_METHODS;
/** @deprecated Import `MAX_WEBHOOK_URL_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_WEBHOOK_URL_LENGTH = spiEntry.MAX_WEBHOOK_URL_LENGTH;
/** @deprecated Import `MAX_HEADER_VALUE_LENGTH` from `@crm-automation/core/spi`. */
export const MAX_HEADER_VALUE_LENGTH = spiEntry.MAX_HEADER_VALUE_LENGTH;
/** @deprecated Import `BUILT_IN_ACTION_TYPES` from `@crm-automation/core/spi`. */
export const BUILT_IN_ACTION_TYPES = spiEntry.BUILT_IN_ACTION_TYPES;
/** @deprecated Import `BUILT_IN_COMMAND_SCHEMAS` from `@crm-automation/core/spi`. */
export const BUILT_IN_COMMAND_SCHEMAS = spiEntry.BUILT_IN_COMMAND_SCHEMAS;
/** @deprecated Import `builtInRuleParamsSchemas` from `@crm-automation/core/spi`. */
export const builtInRuleParamsSchemas = spiEntry.builtInRuleParamsSchemas;
/** @deprecated Import `checkCommandParams` from `@crm-automation/core/spi`. */
export const checkCommandParams = spiEntry.checkCommandParams;
/** @deprecated Import `isBuiltInActionType` from `@crm-automation/core/spi`. */
export const isBuiltInActionType = spiEntry.isBuiltInActionType;
/** @deprecated Import `paramsIssues` from `@crm-automation/core/spi`. */
export const paramsIssues = spiEntry.paramsIssues;
/** @deprecated Import `normalizeEvent` from `@crm-automation/core/spi`. */
export const normalizeEvent = spiEntry.normalizeEvent;
/** @deprecated Import `checkEventTime` from `@crm-automation/core/spi`. */
export const checkEventTime = spiEntry.checkEventTime;
/** @deprecated Import `decideFailedDelivery` from `@crm-automation/core/spi`. */
export const decideFailedDelivery = spiEntry.decideFailedDelivery;
/** @deprecated Import `failureReason` from `@crm-automation/core/spi`. */
export const failureReason = spiEntry.failureReason;
/** @deprecated Import `accountOfMessage` from `@crm-automation/core/spi`. */
export const accountOfMessage = spiEntry.accountOfMessage;
/** @deprecated Import `hasTraceContext` from `@crm-automation/core/spi`. */
export const hasTraceContext = spiEntry.hasTraceContext;
/** @deprecated Import `withTracing` from `@crm-automation/core/spi`. */
export const withTracing = spiEntry.withTracing;
/** @deprecated Import `withIdempotency` from `@crm-automation/core/spi`. */
export const withIdempotency = spiEntry.withIdempotency;
/** @deprecated Import `idempotencyKeyOf` from `@crm-automation/core/spi`. */
export const idempotencyKeyOf = spiEntry.idempotencyKeyOf;
/** @deprecated Import `DEFAULT_IDEMPOTENCY_LOCK_MS` from `@crm-automation/core/spi`. */
export const DEFAULT_IDEMPOTENCY_LOCK_MS = spiEntry.DEFAULT_IDEMPOTENCY_LOCK_MS;
/** @deprecated Import `DEFAULT_IDEMPOTENCY_TTL_MS` from `@crm-automation/core/spi`. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = spiEntry.DEFAULT_IDEMPOTENCY_TTL_MS;
/** @deprecated Import `backoffDelay` from `@crm-automation/core/spi`. */
export const backoffDelay = spiEntry.backoffDelay;
/** @deprecated Import `DEFAULT_BACKOFF` from `@crm-automation/core/spi`. */
export const DEFAULT_BACKOFF = spiEntry.DEFAULT_BACKOFF;
/** @deprecated Import `clampLimit` from `@crm-automation/core/spi`. */
export const clampLimit = spiEntry.clampLimit;
/** @deprecated Import `delayToMs` from `@crm-automation/core/spi`. */
export const delayToMs = spiEntry.delayToMs;
/** @deprecated Import `isConditionGroup` from `@crm-automation/core/spi`. */
export const isConditionGroup = spiEntry.isConditionGroup;
/** @deprecated Import `resolvePath` from `@crm-automation/core/spi`. */
export const resolvePath = spiEntry.resolvePath;
/** @deprecated Import `checkJsonPath` from `@crm-automation/core/spi`. */
export const checkJsonPath = spiEntry.checkJsonPath;
/** @deprecated Import `checkTemplate` from `@crm-automation/core/spi`. */
export const checkTemplate = spiEntry.checkTemplate;
/** @deprecated Import `checkTemplateSource` from `@crm-automation/core/spi`. */
export const checkTemplateSource = spiEntry.checkTemplateSource;
/** @deprecated Import `compileTemplate` from `@crm-automation/core/spi`. */
export const compileTemplate = spiEntry.compileTemplate;
/** @deprecated Import `checkWebhookUrl` from `@crm-automation/core/spi`. */
export const checkWebhookUrl = spiEntry.checkWebhookUrl;
/** @deprecated Import `compileUrlTemplate` from `@crm-automation/core/spi`. */
export const compileUrlTemplate = spiEntry.compileUrlTemplate;
/** @deprecated Import `parseIpLiteral` from `@crm-automation/core/spi`. */
export const parseIpLiteral = spiEntry.parseIpLiteral;
/** @deprecated Import `parseIPv4` from `@crm-automation/core/spi`. */
export const parseIPv4 = spiEntry.parseIPv4;
/** @deprecated Import `parseIPv6` from `@crm-automation/core/spi`. */
export const parseIPv6 = spiEntry.parseIPv6;
/** @deprecated Import `formatIpAddress` from `@crm-automation/core/spi`. */
export const formatIpAddress = spiEntry.formatIpAddress;
/** @deprecated Import `classifyAddress` from `@crm-automation/core/spi`. */
export const classifyAddress = spiEntry.classifyAddress;
/** @deprecated Import `classifyIpAddress` from `@crm-automation/core/spi`. */
export const classifyIpAddress = spiEntry.classifyIpAddress;
/** @deprecated Import `describeClassification` from `@crm-automation/core/spi`. */
export const describeClassification = spiEntry.describeClassification;
/** @deprecated Import `createWebhookAddressCheck` from `@crm-automation/core/spi`. */
export const createWebhookAddressCheck = spiEntry.createWebhookAddressCheck;
/** @deprecated Import `createWebhookUrlCheck` from `@crm-automation/core/spi`. */
export const createWebhookUrlCheck = spiEntry.createWebhookUrlCheck;
/** @deprecated Import `normalizeHost` from `@crm-automation/core/spi`. */
export const normalizeHost = spiEntry.normalizeHost;
/** @deprecated Import `JsonShapeProblem` from `@crm-automation/core/spi`. */
export type JsonShapeProblem = spiEntry.JsonShapeProblem;
/** @deprecated Import `WebhookRuleParamsOptions` from `@crm-automation/core/spi`. */
export type WebhookRuleParamsOptions = spiEntry.WebhookRuleParamsOptions;
/** @deprecated Import `BuiltInActionType` from `@crm-automation/core/spi`. */
export type BuiltInActionType = spiEntry.BuiltInActionType;
/** @deprecated Import `FailedDelivery` from `@crm-automation/core/spi`. */
export type FailedDelivery = spiEntry.FailedDelivery;
/** @deprecated Import `IdempotencyOptions` from `@crm-automation/core/spi`. */
export type IdempotencyOptions = spiEntry.IdempotencyOptions;
/** @deprecated Import `BackoffOptions` from `@crm-automation/core/spi`. */
export type BackoffOptions = spiEntry.BackoffOptions;
/** @deprecated Import `PathProblem` from `@crm-automation/core/spi`. */
export type PathProblem = spiEntry.PathProblem;
/** @deprecated Import `TemplateProblem` from `@crm-automation/core/spi`. */
export type TemplateProblem = spiEntry.TemplateProblem;
/** @deprecated Import `IpAddress` from `@crm-automation/core/spi`. */
export type IpAddress = spiEntry.IpAddress;
/** @deprecated Import `AddressClassification` from `@crm-automation/core/spi`. */
export type AddressClassification = spiEntry.AddressClassification;
/** @deprecated Import `AddressKind` from `@crm-automation/core/spi`. */
export type AddressKind = spiEntry.AddressKind;
/** @deprecated Import `EmbeddingForm` from `@crm-automation/core/spi`. */
export type EmbeddingForm = spiEntry.EmbeddingForm;
/** @deprecated Import `WebhookAddressCheck` from `@crm-automation/core/spi`. */
export type WebhookAddressCheck = spiEntry.WebhookAddressCheck;

// @crm-automation/testing/doubles
/** @deprecated Import `createRecordingChannel` from `@crm-automation/testing/doubles`. */
export const createRecordingChannel = doublesEntry.createRecordingChannel;
/** @deprecated Import `createManualClock` from `@crm-automation/testing/doubles`. */
export const createManualClock = doublesEntry.createManualClock;
/** @deprecated Import `RecordingChannel` from `@crm-automation/testing/doubles`. */
export type RecordingChannel = doublesEntry.RecordingChannel;
/** @deprecated Import `RecordingChannelOptions` from `@crm-automation/testing/doubles`. */
export type RecordingChannelOptions = doublesEntry.RecordingChannelOptions;
/** @deprecated Import `ManualClock` from `@crm-automation/testing/doubles`. */
export type ManualClock = doublesEntry.ManualClock;

/** @deprecated Nothing raises it: a missing rule or trigger is `null`, or a 404 over HTTP. */
export const NotFoundError = NotFoundErrorClass;
/** @deprecated Nothing raises it. */
export type NotFoundError = NotFoundErrorClass;

