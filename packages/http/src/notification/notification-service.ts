import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import {
  AutomationError,
  BUILT_IN_COMMAND_SCHEMAS,
  checkJsonShape,
  checkOptions,
  createMemoryIdempotencyStore,
  formatPath,
  isBuiltInActionType,
  MAX_JSON_DEPTH,
  optionKeys,
  positiveIntOption,
  silentLogger,
  withIdempotency,
  type ActionCommand,
  type ChannelGateway,
  type ChannelMap,
  type IdempotencyOptions,
  type IdempotencyStore,
  type Logger,
  type ParamsSchema,
  type ValidationIssue,
} from '@crm-automation/core';
import { checkOptionShapes, LOGGER_OPTION_SHAPE, type OptionShape } from '@crm-automation/core/spi';
import { HttpError, replyWithError, setNotFoundHandlerUnlessSet } from '../http-errors.js';
import { useStrictJsonBodies } from '../json-body.js';
import { serviceTokenAuth } from '../service-auth/service-token-auth.js';
import { schemaIssues } from './command-issues.js';
import { commandMetadataSchema, idempotencyKeyHeaderSchema, type CommandMetadataInput } from './command-schemas.js';
import { deliveryFailure, DEFAULT_RETRY_AFTER_SECONDS } from './delivery-failure.js';
import { requestIdempotencyKey, storedIdempotencyKey } from './idempotency-key.js';
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

const NOTIFICATION_OPTION_KEYS = optionKeys<NotificationServiceOptions>()(
  'channels', 'idempotency', 'idempotencyOptions', 'auth', 'logger', 'bodyLimit', 'defaultRetryAfterSeconds',
);

// What the known keys hold: a wrong one is a CRM_ERR_CONFIG at start, not a TypeError (or a 500 per request).
const NOTIFICATION_OPTION_SHAPES: Readonly<Partial<Record<keyof NotificationServiceOptions, OptionShape>>> = {
  channels: { kind: 'record', what: 'an object of gateways by action type ({ sms, email, webhook, ... })', of: { kind: 'port', what: 'a gateway (e.g. createTwilioSms({...}))', methods: ['send'] } },
  idempotency: { kind: 'port', what: 'an idempotency store', methods: ['acquire', 'complete', 'release'] },
  logger: LOGGER_OPTION_SHAPE,
};

function badRequest(type: string, issues: ValidationIssue[]): HttpError {
  const described = issues.slice(0, 5).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
  return new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid ${type} command: ${described}`, issues);
}

/**
 * Splits a request body into its `metadata` and the params beside it, checking the shape first (no
 * recursive work on params deeper than {@link MAX_JSON_DEPTH}), then both parts: every problem is
 * reported at once, with paths such as `recipient` and `metadata.triggerId`.
 */
function parseCommandBody(type: string, body: unknown, paramsSchema: ParamsSchema | undefined): { metadata: CommandMetadataInput; params: Record<string, unknown> } {
  // The body wraps the params by one level: a webhook payload the engine may send (64 levels) is a
  // body of 65. The params schema then bounds each field itself.
  const shape = checkJsonShape(body, MAX_JSON_DEPTH + 1);
  if (shape) throw badRequest(type, [{ path: formatPath(shape.path), code: shape.code, message: shape.message }]);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(type, [{ path: '', code: 'invalid_type', message: 'the body must be a JSON object: { ...params, metadata }' }]);
  }
  const { metadata, ...params } = body as Record<string, unknown>;
  const issues = [...(paramsSchema ? schemaIssues(paramsSchema, params) : []), ...schemaIssues(commandMetadataSchema, metadata, ['metadata'])];
  if (issues.length > 0) throw badRequest(type, issues);
  return { metadata: commandMetadataSchema.parse(metadata), params };
}

/** The caller's key: `metadata.idempotencyKey` or the `Idempotency-Key` header (they must agree). */
function explicitKey(type: string, metadataKey: string | undefined, header: string | string[] | undefined): string | undefined {
  if (header === undefined || header === '') return metadataKey;
  const headerKey = Array.isArray(header) ? header.join(', ') : header;
  const issues = schemaIssues(idempotencyKeyHeaderSchema, headerKey, ['headers', 'idempotency-key']);
  if (issues.length > 0) throw badRequest(type, issues);
  if (metadataKey !== undefined && headerKey !== metadataKey) {
    throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', 'the Idempotency-Key header differs from metadata.idempotencyKey');
  }
  return headerKey;
}

/**
 * The store seen by one request: every call uses the namespaced key, and a stored result is noted so
 * the response can say it was a replay.
 */
function requestStore(store: IdempotencyStore, storedKey: string, onDone: () => void): IdempotencyStore {
  return {
    acquire: async (_key, lockMs) => {
      const reservation = await store.acquire(storedKey, lockMs);
      if (reservation.state === 'done') onDone();
      return reservation;
    },
    complete: (_key, result, ttlMs) => store.complete(storedKey, result, ttlMs),
    release: () => store.release(storedKey),
  };
}

/**
 * The Notification Service as a Fastify plugin: `POST /api/v1/sms`, `/api/v1/email`,
 * `/api/v1/webhook` (one route per configured channel) taking the design doc's
 * `{ ...params, metadata }` body. The params are checked with the gateway's `commandSchema` (else
 * core's schema of the built-in type; custom types without one are free-form JSON, at most 64 levels
 * deep), the schema the engine checks every command with.
 *
 * Requests need a bearer token; each command is sent at most once per idempotency key:
 * `metadata.idempotencyKey` or the `Idempotency-Key` header, else `triggerId:actionIndex`, else (no
 * `actionIndex`) `triggerId:` and a SHA-256 of the params, so two actions of one trigger are two sends.
 * Keys are stored per account and channel (`<accountId>:<type>:<key>`): two accounts, or the SMS and
 * the email of one trigger, never answer each other's request as a replay.
 *
 * Failures answer 503 + Retry-After (transient) or 422 (permanent) so callers retry exactly when it
 * can help. The W3C trace context headers of a request (`traceparent`, `tracestate`) become the
 * command's `trace`, so a gateway wrapped with core's `withTracing` continues the caller's trace.
 *
 * Every error is `{ error: { code, message, issues? } }`. Create the host app with
 * `frameworkErrors: frameworkErrorHandler` so a URL with a bad percent-escape gets that body too.
 *
 * @example
 * const app = Fastify({ frameworkErrors: frameworkErrorHandler });
 * await app.register(createNotificationService({ channels: { sms, email, webhook }, idempotency, auth: { tokens: [token] } }));
 */
export function createNotificationService(options: NotificationServiceOptions): FastifyPluginAsync {
  checkOptions('createNotificationService', options, NOTIFICATION_OPTION_KEYS, true);
  checkOptions('createNotificationService: auth', options.auth, ['tokens']);
  checkOptions('createNotificationService: idempotencyOptions', options.idempotencyOptions, ['lockMs', 'ttlMs']);
  checkOptionShapes('createNotificationService', options, NOTIFICATION_OPTION_SHAPES);
  const authenticate = serviceTokenAuth({ tokens: options.auth?.tokens ?? [], realm: 'notifications' });
  const store = options.idempotency ?? createMemoryIdempotencyStore();
  const logger = (options.logger ?? silentLogger).child({ component: 'notification-service' });
  const bodyLimit = positiveIntOption('createNotificationService: bodyLimit', options.bodyLimit, DEFAULT_BODY_LIMIT);
  const defaultRetryAfter = options.defaultRetryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  if (!Number.isInteger(defaultRetryAfter) || defaultRetryAfter < 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `createNotificationService: defaultRetryAfterSeconds must be a non-negative integer, got ${String(defaultRetryAfter)}`);
  }
  if (typeof options.channels !== 'object' || options.channels === null) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createNotificationService needs channels: { sms, email, webhook, ... }');
  }
  const types = Object.keys(options.channels);
  if (types.length === 0) throw new AutomationError('CRM_ERR_CONFIG', 'createNotificationService needs at least one channel');

  return async function notificationService(app: FastifyInstance) {
    // JSON only (UTF-8, each key once, no prototype keys); anything else is a 415.
    useStrictJsonBodies(app, bodyLimit);
    app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
    setNotFoundHandlerUnlessSet(app);
    app.addHook('onRequest', authenticate);

    for (const type of types) {
      const gateway = options.channels[type] as ChannelGateway;
      const paramsSchema = gateway.commandSchema ?? (isBuiltInActionType(type) ? BUILT_IN_COMMAND_SCHEMAS[type] : undefined);

      app.post(`/api/v1/${type}`, { bodyLimit }, async (request, reply) => {
        const { metadata: input, params } = parseCommandBody(type, request.body, paramsSchema);
        const explicit = explicitKey(type, input.idempotencyKey, request.headers['idempotency-key']);
        const idempotencyKey = requestIdempotencyKey({ triggerId: input.triggerId, actionIndex: input.actionIndex, explicit }, params);
        // A failover send after an undelivered receipt is a new send of the same key: it must not be
        // answered with the first provider's stored result.
        const excluded = input.excludeProviders && input.excludeProviders.length > 0 ? [...new Set(input.excludeProviders)].sort() : undefined;
        const storedKey = storedIdempotencyKey(input.accountId, type, excluded ? `${idempotencyKey}#without:${excluded.join(',')}` : idempotencyKey);
        const actionIndex = input.actionIndex ?? 0;
        const command: ActionCommand = {
          type,
          params,
          metadata: {
            source: 'automation-engine',
            ruleId: input.ruleId,
            triggerId: input.triggerId,
            accountId: input.accountId,
            actionIndex,
            idempotencyKey,
            ...(input.deliveryId === undefined ? {} : { deliveryId: input.deliveryId }),
            ...(excluded ? { excludeProviders: excluded } : {}),
          },
        };
        // Continue the caller's trace: a gateway wrapped with withTracing parents its span on it.
        const trace = traceFromHeaders(request.headers);
        if (trace) command.trace = trace;
        const context = { accountId: input.accountId, ruleId: input.ruleId, triggerId: input.triggerId, actionIndex, type, idempotencyKey, ...(input.deliveryId === undefined ? {} : { deliveryId: input.deliveryId }) };

        let replayed = false;
        const once = withIdempotency(gateway, requestStore(store, storedKey, () => (replayed = true)), options.idempotencyOptions);
        const started = Date.now();
        try {
          const result = await once.send(command);
          logger.info({ ...context, replayed, durationMs: Date.now() - started }, replayed ? 'notification replayed' : 'notification sent');
          if (replayed) reply.header('idempotent-replayed', 'true');
          const body: NotificationResponse = { result: namingProvider(result ?? null, gateway.name), idempotencyKey, replayed };
          return reply.code(200).send(body);
        } catch (error) {
          const answer = deliveryFailure(error, defaultRetryAfter);
          if (typeof answer.body.error['provider'] !== 'string' && gateway.name) answer.body.error['provider'] = gateway.name;
          logger.warn({ ...context, durationMs: Date.now() - started, error: answer.body.error }, 'notification failed');
          if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
          return reply.code(answer.status).type('application/json').send(answer.body);
        }
      });
    }
  };
}

/**
 * A gateway's result with the provider named: the caller (`createHttpChannels`) reports and counts the
 * send under the provider its result names, and without one every series would be the Notification
 * Service's. A result that names one, or is not an object, is answered as it is.
 */
function namingProvider(result: unknown, provider: string | undefined): unknown {
  if (provider === undefined || typeof result !== 'object' || result === null || Array.isArray(result)) return result;
  const named = (result as { provider?: unknown }).provider;
  return typeof named === 'string' && named !== '' ? result : { provider, ...result };
}

/**
 * The same routes as a plugin taking its options at registration, like `rulesRoutes`:
 * `app.register(notificationRoutes, { channels, idempotency, auth: { tokens } })`.
 */
export const notificationRoutes: FastifyPluginAsync<NotificationServiceOptions> = async (app, options) => {
  // Fastify reads these from the registration options itself.
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...own } = options as NotificationServiceOptions & Record<string, unknown>;
  checkOptions('notificationRoutes', own, NOTIFICATION_OPTION_KEYS, true);
  await createNotificationService(own as NotificationServiceOptions)(app, {});
};
