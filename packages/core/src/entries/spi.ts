/**
 * `@crm-automation/core/spi`: what adapter and gateway authors build on — option checks, the shared
 * rules of the domain (recipients, headers, action schemas, address classification), the template and
 * JSONPath dialects, retry and idempotency helpers. Users of the engine need none of it.
 */
export { checkOptions, optionKeys, closestName, didYouMean } from '../config/check-options.js';
export { checkOptionShapes, LOGGER_OPTION_SHAPE } from '../config/option-shapes.js';
export type { OptionShape } from '../config/option-shapes.js';
export { positiveIntOption } from '../engine/options.js';
export { checkJsonShape, MAX_JSON_NODES } from '../input/json-shape.js';
export type { JsonShapeProblem } from '../input/json-shape.js';
export { describeError, formatPath } from '../errors.js';

export { E164_PATTERN, MAX_EMAIL_LENGTH, isE164, isEmailAddress, hasLineBreak } from '../actions/contact-points.js';
export { HEADER_NAME_PATTERN, RESERVED_WEBHOOK_HEADERS, isReservedWebhookHeader } from '../actions/webhook-headers.js';
export { smsRuleParamsSchema, smsCommandSchema, MAX_SMS_LENGTH } from '../actions/sms.js';
export { emailRuleParamsSchema, emailCommandSchema, MAX_SUBJECT_LENGTH, MAX_EMAIL_BODY_LENGTH } from '../actions/email.js';
export { webhookRuleParamsSchema, webhookCommandSchema, WEBHOOK_METHODS, MAX_WEBHOOK_URL_LENGTH, MAX_HEADER_VALUE_LENGTH } from '../actions/webhook.js';
export type { WebhookRuleParamsOptions } from '../actions/webhook.js';
export { BUILT_IN_ACTION_TYPES, BUILT_IN_COMMAND_SCHEMAS, builtInRuleParamsSchemas, checkCommandParams, isBuiltInActionType, paramsIssues } from '../actions/built-in.js';
export type { BuiltInActionType } from '../actions/built-in.js';

export { normalizeEvent, checkEventTime } from '../events/event.js';
export { decideFailedDelivery, failureReason, accountOfMessage } from '../intake/delivery-policy.js';
export type { FailedDelivery } from '../intake/delivery-policy.js';

export { hasTraceContext } from '../ports/tracer.js';
export { withTracing } from '../dispatch/tracing.js';
export { withIdempotency, idempotencyKeyOf, DEFAULT_IDEMPOTENCY_LOCK_MS, DEFAULT_IDEMPOTENCY_TTL_MS } from '../dispatch/idempotency.js';
export type { IdempotencyOptions } from '../dispatch/idempotency.js';
export { backoffDelay, DEFAULT_BACKOFF } from '../scheduling/backoff.js';
export type { BackoffOptions } from '../scheduling/backoff.js';
export { clampLimit } from '../memory/memory-ids.js';

export { delayToMs, isConditionGroup } from '../rules/rule.js';
export { resolvePath, checkJsonPath } from '../rules/json-path.js';
export type { PathProblem } from '../rules/json-path.js';
export { checkTemplate, checkTemplateSource, compileTemplate } from '../rules/templates.js';
export type { TemplateProblem } from '../rules/templates.js';
export { checkWebhookUrl, compileUrlTemplate } from '../rules/webhook-url.js';

export { parseIpLiteral, parseIPv4, parseIPv6, formatIpAddress } from '../net/ip-literal.js';
export type { IpAddress } from '../net/ip-literal.js';
export { classifyAddress, classifyIpAddress, describeClassification } from '../net/address-classification.js';
export type { AddressClassification, AddressKind, EmbeddingForm } from '../net/address-classification.js';
export { canonicalWebhookAddressPolicy, createWebhookAddressCheck, createWebhookUrlCheck, normalizeHost, sameWebhookAddressPolicy } from '../net/webhook-address-policy.js';
export type { WebhookAddressCheck } from '../net/webhook-address-policy.js';
export { deliveryRank } from '../ports/delivery-ledger.js';
export { normalizedRecipient } from '../actions/contact-points.js';

export { defineErrorCodes } from '../spi/error-registry.js';
export type { CrmErrorCode, ErrorCodeRegistry } from '../spi/error-registry.js';
export { CodedError, isCodedError, hasErrorBrand } from '../spi/coded-error.js';
export type { CodedErrorOptions } from '../spi/coded-error.js';
export { BUS_ERRORS, BUS_ERROR_CODES, BusError } from '../spi/bus-errors.js';
export type { BusErrorCode } from '../spi/bus-errors.js';
export { withDeadline, remainingMs } from '../spi/deadline.js';
export { BUS_HEADER, BUS_HEADER_PATTERN, publisherHeaders, numberHeader, stringHeader, deadLetterHeaders } from '../spi/message-headers.js';
export type { DeadLetterHeaders } from '../spi/message-headers.js';
export { DEFAULT_RETRY_DELAYS_MS, retryDelaysOption, retryDelayFor } from '../spi/redelivery-delays.js';
export { DEFAULT_DEAD_LETTER_LIST_LIMIT, readDeadLetter } from '../spi/dead-letter-records.js';
export { consumeDelivery, runBusHandler } from '../spi/bus-consumer.js';
export { jsonTextNestsDeeperThan, MAX_BUS_MESSAGE_CHARS } from '../spi/json-text.js';
export { requireValidDate, requireValidNewTriggers } from '../spi/valid-dates.js';
export type { BusConsumerPolicy, ConsumedMessage, DeliveryOutcome, DeliverySettlement, HandlerOutcome } from '../spi/bus-consumer.js';
export { DEFAULT_RETENTION_MS, deliveryRetentionStatus, resolveRetentionAges, retentionControls, startPeriodic } from '../spi/retention.js';
export type { RetentionAges, RetentionControls, RetentionHandle, ResolvedRetentionAges } from '../spi/retention.js';
export { validateContactPolicy, contactPolicyJsonSchema, MAX_POLICY_CHANNELS, MAX_CHANNEL_CAPS } from '../policy/validate-policy.js';
export { IMPERSONAL_ACTION_TYPES } from '../policy/contact-policy.js';
export { suppressionKey } from '../engine/contact-admin.js';
