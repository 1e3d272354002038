import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import {
  AutomationError,
  createMemoryIdempotencyStore,
  formatPath,
  silentLogger,
  withIdempotency,
  type ActionCommand,
  type ChannelGateway,
  type ChannelMap,
  type IdempotencyOptions,
  type IdempotencyStore,
  type Logger,
  type ValidationIssue,
} from '@crm-automation/core';
import type { z } from 'zod';
import { HttpError, replyWithError } from '../http-errors.js';
import { serviceTokenAuth } from '../service-auth/service-token-auth.js';
import { BUILT_IN_COMMAND_SCHEMAS, customCommandSchema, type CommandMetadataInput } from './command-schemas.js';
import { deliveryFailure, DEFAULT_RETRY_AFTER_SECONDS } from './delivery-failure.js';
import { traceFromHeaders } from './trace-context.js';

export interface NotificationServiceOptions {
  /** Gateways by action type; a route `POST /api/v1/<type>` is served for each. */
  channels: ChannelMap;
  /**
   * Remembers sent commands so a retried request never reaches the provider twice. Share one
   * store (Redis, Mongo) between all instances; the default in-memory store suits one instance only.
   */
  idempotency?: IdempotencyStore | undefined;
  /** Reservation lock and memory of sent keys (see core's `withIdempotency`). */
  idempotencyOptions?: IdempotencyOptions | undefined;
  /** Bearer tokens the calling services use (several during a rotation). */
  auth: { tokens: readonly string[] };
  logger?: Logger | undefined;
  /** Largest request body in bytes. Default 256 KiB. */
  bodyLimit?: number | undefined;
  /** Retry-After (seconds) for transient failures that named none. Default 1. */
  defaultRetryAfterSeconds?: number | undefined;
}

/** What a successful send answers: the provider's result, identical on replays. */
export interface NotificationResponse {
  result: unknown;
  idempotencyKey: string;
  /** True when the command was sent before and the stored result is returned. */
  replayed: boolean;
}

export const DEFAULT_BODY_LIMIT = 256 * 1024;

function issuesOf(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((i) => {
    const custom = (i as { params?: Record<string, unknown> }).params?.['code'];
    return { path: formatPath(i.path), code: typeof custom === 'string' ? custom : i.code, message: i.message };
  });
}

/** Reads the store's answer for this request, so the response can say whether it was a replay. */
function observingStore(store: IdempotencyStore, onDone: () => void): IdempotencyStore {
  return {
    acquire: async (key, lockMs) => {
      const reservation = await store.acquire(key, lockMs);
      if (reservation.state === 'done') onDone();
      return reservation;
    },
    complete: (key, result, ttlMs) => store.complete(key, result, ttlMs),
    release: (key) => store.release(key),
  };
}

/**
 * The Notification Service as a Fastify plugin: `POST /api/v1/sms`, `/api/v1/email`,
 * `/api/v1/webhook` (one route per configured channel) taking the design doc's
 * `{ ...params, metadata }` body. Requests need a bearer token; each command is sent at most once per
 * `metadata.idempotencyKey` (else `triggerId:actionIndex`); failures answer 503 + Retry-After
 * (transient) or 422 (permanent) so callers retry exactly when it can help. The W3C trace context
 * headers of a request (`traceparent`, `tracestate`) become the command's `trace`, so a gateway
 * wrapped with core's `withTracing` continues the caller's trace.
 *
 * @example
 * const app = Fastify();
 * await app.register(createNotificationService({ channels: { sms, email, webhook }, idempotency, auth: { tokens: [token] } }));
 */
export function createNotificationService(options: NotificationServiceOptions): FastifyPluginAsync {
  const authenticate = serviceTokenAuth({ tokens: options.auth?.tokens ?? [], realm: 'notifications' });
  const store = options.idempotency ?? createMemoryIdempotencyStore();
  const logger = (options.logger ?? silentLogger).child({ component: 'notification-service' });
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const defaultRetryAfter = options.defaultRetryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  const types = Object.keys(options.channels);
  if (types.length === 0) throw new AutomationError('CRM_ERR_CONFIG', 'createNotificationService needs at least one channel');

  return async function notificationService(app: FastifyInstance) {
    // JSON only, parsed with prototype-poisoning protection; anything else is a 415.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, app.getDefaultJsonParser('error', 'error'));
    app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
    app.addHook('onRequest', authenticate);

    for (const type of types) {
      const gateway = options.channels[type] as ChannelGateway;
      const schema = BUILT_IN_COMMAND_SCHEMAS[type] ?? customCommandSchema;

      app.post(`/api/v1/${type}`, { bodyLimit }, async (request, reply) => {
        const parsed = schema.safeParse(request.body);
        if (!parsed.success) {
          const issues = issuesOf(parsed.error);
          throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid ${type} command: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, issues);
        }
        const { metadata: input, ...params } = parsed.data as { metadata: CommandMetadataInput } & Record<string, unknown>;
        const actionIndex = input.actionIndex ?? 0;
        const header = request.headers['idempotency-key'];
        const headerKey = typeof header === 'string' && header !== '' ? header : undefined;
        if (headerKey !== undefined && input.idempotencyKey !== undefined && headerKey !== input.idempotencyKey) {
          throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', 'the Idempotency-Key header differs from metadata.idempotencyKey');
        }
        const idempotencyKey = input.idempotencyKey ?? headerKey ?? `${input.triggerId}:${actionIndex}`;
        const command: ActionCommand = {
          type,
          params,
          metadata: { source: 'automation-engine', ruleId: input.ruleId, triggerId: input.triggerId, accountId: input.accountId, actionIndex, idempotencyKey },
        };
        // Continue the caller's trace: a gateway wrapped with withTracing parents its span on it.
        const trace = traceFromHeaders(request.headers);
        if (trace) command.trace = trace;
        const context = { accountId: input.accountId, ruleId: input.ruleId, triggerId: input.triggerId, actionIndex, type, idempotencyKey };

        let replayed = false;
        const once = withIdempotency(gateway, observingStore(store, () => (replayed = true)), options.idempotencyOptions);
        const started = Date.now();
        try {
          const result = await once.send(command);
          logger.info({ ...context, replayed, durationMs: Date.now() - started }, replayed ? 'notification replayed' : 'notification sent');
          if (replayed) reply.header('idempotent-replayed', 'true');
          const body: NotificationResponse = { result: result ?? null, idempotencyKey, replayed };
          return reply.code(200).send(body);
        } catch (error) {
          const answer = deliveryFailure(error, defaultRetryAfter);
          logger.warn({ ...context, durationMs: Date.now() - started, error: answer.body.error }, 'notification failed');
          if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
          return reply.code(answer.status).type('application/json').send(answer.body);
        }
      });
    }
  };
}

/**
 * The same routes as a plugin taking its options at registration, like `rulesRoutes`:
 * `app.register(notificationRoutes, { channels, idempotency, auth: { tokens } })`.
 */
export const notificationRoutes: FastifyPluginAsync<NotificationServiceOptions> = async (app, options) => {
  await createNotificationService(options)(app, {});
};
