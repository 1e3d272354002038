export { createTwilioSms } from './sms/twilio-sms.js';
export type { TwilioSmsOptions, TwilioSender } from './sms/twilio-sms.js';
export { createSendgridEmail } from './email/sendgrid-email.js';
export type { SendgridEmailOptions, EmailSender } from './email/sendgrid-email.js';
// SMTP (nodemailer) and Redis (ioredis) have their own entries, `/smtp` and `/redis`, so their drivers
// are optional peers; these deprecated exports load the driver on first call.
export { createSmtpEmail, createRedisIdempotencyStore } from './entries/deprecated-optional.js';
export type { SmtpEmailOptions, RenderedEmail, ClosableChannelGateway } from './email/smtp-email.js';
export { createWebhook } from './webhook/webhook-gateway.js';
export type { WebhookOptions } from './webhook/webhook-gateway.js';
export { systemResolver } from './webhook/resolve-destination.js';
export type { HostResolver, ResolvedAddress } from './webhook/resolve-destination.js';
export type { ConnectTarget, WebhookConnector } from './webhook/pinned-connection.js';
export { decodeSigningSecret, signWebhookPayload, standardWebhookHeaders } from './webhook/standard-webhooks-signature.js';
export type { WebhookSignatureHeaders } from './webhook/standard-webhooks-signature.js';
export { createHttpChannels } from './remote/http-channels.js';
export type { HttpChannelsOptions } from './remote/http-channels.js';
export type { RedisIdempotencyStoreOptions } from './idempotency/redis-idempotency-store.js';
export { httpFailure, transportFailure, permanentFailure, smtpFailure, isTransientStatus, truncate, RESPONSE_EXCERPT_CHARS } from './outcome/gateway-failure.js';
export { parseRetryAfter, MAX_RETRY_AFTER_MS } from './outcome/retry-after.js';
// What a recipient and a header line are lives in core, shared with rule validation; re-exported here.
export { isE164, isEmailAddress, hasLineBreak, E164_PATTERN } from '@crm-automation/core';
export type { SendReceipt } from './receipt.js';
// Idempotency lives in core (every engine can use it); re-exported here where the stores are.
export { withIdempotency, idempotencyKeyOf, createMemoryIdempotencyStore } from '@crm-automation/core';
export type { IdempotencyOptions, IdempotencyStore, IdempotencyReservation } from '@crm-automation/core';
export { createFailoverGateway } from './failover/failover-gateway.js';
export type { FailoverOptions, FailoverTrigger } from './failover/failover-gateway.js';
export type { TransportFailureDetails, HttpFailureDetails } from './outcome/gateway-failure.js';
export type { RemoteChannelCapabilities } from './remote/http-channels.js';
