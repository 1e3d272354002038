
// Rules Service API
export { rulesRoutes, rulesRouteDefinitions } from './rules/routes.js';
export type { RulesRoutesOptions, RouteDefinition, EventType } from './rules/routes.js';
export { buildOpenApiDocument } from './rules/openapi.js';
export type { OpenApiInfo } from './rules/openapi.js';
export { createAccountRateLimiter } from './rules/rate-limit.js';
// Trigger routes served from another service (a rules service without the triggers database)
export { ruleRunStats } from './triggers/trigger-administration.js';
export type { TriggerAdministration, RuleRunStats } from './triggers/trigger-administration.js';
export { triggerServiceRoutes, TRIGGER_SERVICE_API_PREFIX } from './triggers/trigger-service-routes.js';
export type { TriggerServiceRoutesOptions } from './triggers/trigger-service-routes.js';
export { triggerServiceClient } from './triggers/trigger-service-client.js';
export type { TriggerServiceClientOptions, TriggerServiceClient } from './triggers/trigger-service-client.js';
export type { RateLimitOptions } from './rules/rate-limit.js';
export { apiKeyAuth, hashApiKey, generateApiKey, API_KEY_PREFIX } from './account-auth/api-keys.js';
export type { ApiKeyRecord, ApiKeyAuthOptions } from './account-auth/api-keys.js';
export { jwtAuth } from './account-auth/jwt.js';
export type { JwtAuthOptions } from './account-auth/jwt.js';
export { anyOf, bearerToken, RULES_SCOPES } from './account-auth/principal.js';
export type { Authenticate, Principal, RulesScope } from './account-auth/principal.js';
export {
  HttpError,
  HTTP_ERROR_CODES,
  toErrorReply,
  replyWithError,
  notFoundHandler,
  frameworkErrorHandler,
  clientErrorHandler,
  useJsonErrors,
} from './http-errors.js';
export type { HttpErrorCode, ErrorBody } from './http-errors.js';
export { useStrictJsonBodies } from './json-body.js';

// Notification Service API
export { createNotificationService, notificationRoutes, DEFAULT_BODY_LIMIT } from './notification/notification-service.js';
export type { NotificationServiceOptions, NotificationResponse } from './notification/notification-service.js';
export { buildNotificationApp } from './notification/build-notification-app.js';
export type { NotificationAppOptions } from './notification/build-notification-app.js';
export { deliveryFailure, DEFAULT_RETRY_AFTER_SECONDS } from './notification/delivery-failure.js';
export type { DeliveryFailureAnswer } from './notification/delivery-failure.js';
// The params of a command are checked with core's schemas (`smsCommandSchema`, ...); this package owns `metadata`.
export { commandMetadataSchema, MAX_IDEMPOTENCY_KEY_LENGTH } from './notification/command-schemas.js';
export { canonicalJson, requestIdempotencyKey, storedIdempotencyKey } from './notification/idempotency-key.js';
export type { CommandMetadataInput } from './notification/command-schemas.js';
export { serviceTokenAuth } from './service-auth/service-token-auth.js';
export type { ServiceTokenAuthOptions } from './service-auth/service-token-auth.js';

// Delivery receipts (Twilio status callbacks, SendGrid Event Webhook)
export { receiptRoutes, DEFAULT_RECEIPT_BODY_LIMIT } from './receipts/receipt-routes.js';
export type { ReceiptRoutesOptions, ReceiptDeliveries, Suppression, TwilioReceiptOptions, TwilioInboundOptions, SendgridReceiptOptions } from './receipts/receipt-routes.js';
export { smsKeywordIntent, twilioInboundIntent } from './receipts/suppression-writer.js';
export { suppressionsFromReceipts, ledgerReasonOf } from './receipts/receipt-suppressions.js';
export type { ReceiptSuppressionsOptions } from './receipts/receipt-suppressions.js';
export type { SuppressionWriter, SuppressionEntryInput, SuppressionRemovalInput, SuppressionLedgerReason, SuppressionLedgerSource } from './receipts/suppression-writer.js';
export type { SuppressionReason } from './receipts/receipt-mapping.js';
export { twilioSignature, verifyTwilioSignature } from './receipts/twilio-signature.js';
export type { TwilioParams } from './receipts/twilio-signature.js';
export { sendgridPublicKey, verifySendgridSignature } from './receipts/sendgrid-signature.js';
