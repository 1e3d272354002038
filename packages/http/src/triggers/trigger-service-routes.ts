import { AutomationError, checkJsonShape, checkOptions, DELIVERY_STATES, formatPath, isAutomationError, MAX_ENTITY_KEY_LENGTH, MAX_JSON_DEPTH, optionKeys, positiveIntOption, TRIGGER_STATUSES, type AutomationEngine, type DeliveryAdmin, type DeliveryState, type TriggerStatus } from '@crm-automation/core';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { HttpError, replyWithError, setNotFoundHandlerUnlessSet } from '../http-errors.js';
import { useStrictJsonBodies } from '../json-body.js';
import { serviceTokenAuth } from '../service-auth/service-token-auth.js';
import { ruleRunStats } from './trigger-administration.js';
import { ruleFromJson, WireShapeError } from './wire-json.js';

export interface TriggerServiceRoutesOptions {
  /**
   * The trigger service's engine, or what of it these routes use: its `triggers` API and its intake
   * (wrap `ingest` to see the rules that come with an intake request, e.g. into a rule replica).
   */
  engine: Pick<AutomationEngine, 'triggers' | 'ingest'> & {
    /**
     * The engine's delivery ledger (`engine.deliveries`): serves the `deliveries/*` routes when given
     * (receipts from the notification service; list, get, of-trigger and resolve for the rules service).
     */
    deliveries?: Pick<DeliveryAdmin, 'applyReceipt' | 'list' | 'get' | 'ofTrigger' | 'resolve'> | undefined;
  };
  /** Tokens the calling services (the rules service) present; several during a rotation. */
  auth: { tokens: readonly string[] };
  /** Largest request body in bytes. Default 1 MiB (an intake request carries the event and its rules). */
  bodyLimit?: number | undefined;
}

const OPTION_KEYS = optionKeys<TriggerServiceRoutesOptions>()('engine', 'auth', 'bodyLimit');

/** The prefix of every route; the client and the server agree on it here. */
export const TRIGGER_SERVICE_API_PREFIX = '/internal/v1';

const accountId = z.string().min(1).max(200);
const id = z.string().min(1).max(200);
const isoDate = z.iso.datetime({ offset: true });

const byId = z.strictObject({ accountId, id });
const listBody = z.strictObject({
  accountId,
  filter: z
    .strictObject({
      status: z.array(z.enum(TRIGGER_STATUSES as [TriggerStatus, ...TriggerStatus[]])).min(1).optional(),
      ruleId: id.optional(),
      entityKey: z.string().min(1).max(MAX_ENTITY_KEY_LENGTH).optional(),
      from: isoDate.optional(),
      to: isoDate.optional(),
      limit: z.number().int().min(1).max(500).optional(),
      cursor: z.string().min(1).max(200).optional(),
    })
    .default({}),
});
const statsBody = z.strictObject({ accountId, ruleId: id, since: isoDate });
const receiptBody = z.strictObject({
  receipt: z.strictObject({
    provider: z.string().min(1).max(100),
    providerId: id.optional(),
    deliveryId: id.optional(),
    state: z.enum(['accepted', 'delivered', 'undelivered', 'bounced', 'failed']),
    at: isoDate,
    detail: z.string().max(1000).optional(),
  }),
});
const deliveryListBody = z.strictObject({
  accountId,
  filter: z
    .strictObject({
      triggerId: id.optional(),
      recipient: z.string().min(1).max(320).optional(),
      provider: z.string().min(1).max(100).optional(),
      providerId: id.optional(),
      state: z.array(z.enum(DELIVERY_STATES as [DeliveryState, ...DeliveryState[]])).min(1).optional(),
      limit: z.number().int().min(1).max(500).optional(),
      cursor: z.string().min(1).max(200).optional(),
    })
    .default({}),
});
const ofTriggerBody = z.strictObject({ accountId, triggerId: id });
const resolveBody = z.strictObject({
  accountId,
  id,
  resolution: z.strictObject({ as: z.enum(['sent', 'resend']), by: z.string().min(1).max(300).optional(), note: z.string().max(1000).optional() }),
});
const intakeBody = z.strictObject({
  accountId,
  event: z.looseObject({ name: z.unknown(), payload: z.unknown() }),
  rules: z.array(z.unknown()).max(10_000),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: formatPath(['body', ...i.path]), code: i.code, message: i.message }));
  throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid body: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

const notFound = (triggerId: string) => new HttpError(404, 'CRM_ERR_TRIGGER_NOT_FOUND', `Trigger ${JSON.stringify(triggerId)} not found`);
const deliveryNotFound = (deliveryId: string) => new HttpError(404, 'CRM_ERR_HTTP_DELIVERY_NOT_FOUND', `Delivery ${JSON.stringify(deliveryId)} not found`);

/**
 * The trigger service's internal API, for a rules service that serves the Rules API's trigger routes
 * without access to the triggers database ({@link triggerServiceClient} is its client). Service-token
 * auth; the account is given explicitly in every request, because the caller acts for every account,
 * and every operation is scoped to it exactly as the engine's `triggers.*` are.
 *
 * Every route is a `POST` of a JSON body under `/internal/v1/triggers/`, `/internal/v1/deliveries/` (and
 * `/internal/v1/events`):
 * ids travel in bodies, never in paths, so no id can be read as a path segment (`..`).
 *
 * - `list {accountId, filter}` → `{ items, nextCursor? }`
 * - `get | retry | cancel {accountId, id}` → the trigger, `404 CRM_ERR_TRIGGER_NOT_FOUND`, `409 CRM_ERR_TRIGGER_STATE`
 * - `rule-stats {accountId, ruleId, since}` → `{ since, lastFiredAt, counts, truncated }`
 * - `/internal/v1/events {accountId, event, rules}` → `{ triggers }`: intake of an event with the rules the
 *   caller matched (the rules service owns the rules), so it works whatever way this service reads rules.
 * - `/internal/v1/deliveries/...` (when `engine.deliveries` is given), this service's delivery ledger:
 *   - `receipt {receipt}` → the `ReceiptResult`: a provider receipt the notification service received
 *   - `list {accountId, filter}` → `{ items, nextCursor? }`; `of-trigger {accountId, triggerId}` → `{ items }`
 *   - `get {accountId, id}` → the delivery; `resolve {accountId, id, resolution}` → the delivery after it;
 *     both `404 CRM_ERR_HTTP_DELIVERY_NOT_FOUND` when it is missing
 */
export const triggerServiceRoutes: FastifyPluginAsync<TriggerServiceRoutesOptions> = async (app: FastifyInstance, registered) => {
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...options } = registered as TriggerServiceRoutesOptions & Record<string, unknown>;
  checkOptions('triggerServiceRoutes', options, OPTION_KEYS, true);
  checkOptions('triggerServiceRoutes: auth', options.auth, ['tokens'], true);
  const given = (options as { engine?: unknown }).engine as { triggers?: unknown; ingest?: unknown } | null | undefined;
  if (typeof given !== 'object' || given === null || typeof given.triggers !== 'object' || given.triggers === null || typeof given.ingest !== 'function') {
    throw new AutomationError('CRM_ERR_CONFIG', 'triggerServiceRoutes: engine must be the trigger service\'s engine (its triggers API and ingest)');
  }
  const { engine } = options as TriggerServiceRoutesOptions;
  const bodyLimit = positiveIntOption('triggerServiceRoutes: bodyLimit', (options as TriggerServiceRoutesOptions).bodyLimit, 1024 * 1024);
  const authenticate = serviceTokenAuth({ tokens: (options as TriggerServiceRoutesOptions).auth.tokens, realm: 'triggers-internal' });

  useStrictJsonBodies(app);
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  setNotFoundHandlerUnlessSet(app);

  const route = (path: string, handler: (body: unknown) => Promise<unknown>) =>
    app.post(`${TRIGGER_SERVICE_API_PREFIX}${path}`, { bodyLimit, onRequest: authenticate }, async (request) => {
      const shape = checkJsonShape(request.body, MAX_JSON_DEPTH + 4);
      if (shape) throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid body: ${formatPath(shape.path) || '(root)'}: ${shape.message}`);
      return handler(request.body);
    });

  route('/triggers/list', async (body) => {
    const { accountId: account, filter } = parse(listBody, body);
    return engine.triggers.list(account, {
      status: filter.status,
      ruleId: filter.ruleId,
      entityKey: filter.entityKey,
      from: filter.from === undefined ? undefined : new Date(filter.from),
      to: filter.to === undefined ? undefined : new Date(filter.to),
      limit: filter.limit,
      cursor: filter.cursor,
    });
  });
  for (const operation of ['get', 'retry', 'cancel'] as const) {
    route(`/triggers/${operation}`, async (body) => {
      const { accountId: account, id: triggerId } = parse(byId, body);
      const trigger = await engine.triggers[operation](account, triggerId);
      if (!trigger) throw notFound(triggerId);
      return trigger;
    });
  }
  route('/triggers/rule-stats', async (body) => {
    const { accountId: account, ruleId, since } = parse(statsBody, body);
    return ruleRunStats(engine.triggers.list, account, ruleId, new Date(since));
  });
  const { deliveries } = engine;
  if (deliveries) {
    route('/deliveries/receipt', async (body) => {
      const { receipt } = parse(receiptBody, body);
      return deliveries.applyReceipt({ ...receipt, at: new Date(receipt.at) });
    });
    route('/deliveries/list', async (body) => {
      const { accountId: account, filter } = parse(deliveryListBody, body);
      return deliveries.list(account, filter);
    });
    route('/deliveries/of-trigger', async (body) => {
      const { accountId: account, triggerId } = parse(ofTriggerBody, body);
      return { items: await deliveries.ofTrigger(account, triggerId) };
    });
    route('/deliveries/get', async (body) => {
      const { accountId: account, id: deliveryId } = parse(byId, body);
      const delivery = await deliveries.get(account, deliveryId);
      if (!delivery) throw deliveryNotFound(deliveryId);
      return delivery;
    });
    route('/deliveries/resolve', async (body) => {
      const { accountId: account, id: deliveryId, resolution } = parse(resolveBody, body);
      const delivery = await deliveries.resolve(account, deliveryId, resolution).catch((error: unknown) => {
        // Not unknown (in flight, settled, resolved already): the same answer as the Rules API's.
        if (isAutomationError(error) && error.code === 'CRM_ERR_DELIVERY_STATE') throw new HttpError(409, 'CRM_ERR_HTTP_DELIVERY_STATE', error.message);
        throw error;
      });
      if (!delivery) throw deliveryNotFound(deliveryId);
      return delivery;
    });
  }
  route('/events', async (body) => {
    const { accountId: account, event, rules } = parse(intakeBody, body);
    let matched;
    try {
      matched = rules.map(ruleFromJson);
    } catch (error) {
      if (error instanceof WireShapeError) throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid body: rules: ${error.message}`);
      throw error;
    }
    // The event's own accountId, if any, is replaced: the account is the one the caller names.
    const triggers = await engine.ingest({ ...(event as Record<string, unknown>), accountId: account } as Parameters<AutomationEngine['ingest']>[0], { rules: matched });
    return { triggers };
  });
};
