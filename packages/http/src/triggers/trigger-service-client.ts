import { checkOptions, optionKeys, positiveIntOption, AutomationError, type Delivery, type DeliveryFilter, type DeliveryReceipt, type Page, type ReceiptResult, type RuleSource, type Trigger, type TriggerFilter, type ValidationIssue } from '@crm-automation/core';
import { HttpError } from '../http-errors.js';
import { TRIGGER_SERVICE_API_PREFIX } from './trigger-service-routes.js';
import type { DeliveryAdministration, TriggerAdministration } from './trigger-administration.js';
import { deliveryFromJson, receiptResultFromJson, ruleRunStatsFromJson, triggerFromJson, WireShapeError } from './wire-json.js';

export interface TriggerServiceClientOptions {
  /** Origin of the trigger service, e.g. `http://127.0.0.1:4102`. */
  baseUrl: string;
  /** One of the trigger service's `auth.tokens`. */
  token: string;
  /** Deadline of one call. Default 5 s. */
  timeoutMs?: number | undefined;
  /**
   * Where `POST /events` finds the rules an event matches before handing it to the trigger service:
   * the rules service's rule store. Without it the client has no `ingest`.
   */
  rules?: RuleSource | undefined;
  /** Seconds in the `Retry-After` of a 503 while the trigger service is unavailable. Default 5. */
  retryAfterSeconds?: number | undefined;
}

/** The trigger service's internal API as its callers see it: trigger administration, and receipts for its ledger. */
export interface TriggerServiceClient extends TriggerAdministration {
  /**
   * Applies a provider receipt to the trigger service's delivery ledger (what the notification
   * service's receipt routes call: `receiptRoutes({ deliveries: client })`). Throws a `503
   * CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE` when the trigger service cannot answer, so the receipt
   * route answers an error and the provider retries.
   */
  applyReceipt(receipt: DeliveryReceipt): Promise<ReceiptResult>;
  /** The trigger service's delivery ledger, for the Rules API's delivery routes (`rulesRoutes` finds it here). */
  deliveries: DeliveryAdministration;
}

const OPTION_KEYS = optionKeys<TriggerServiceClientOptions>()('baseUrl', 'token', 'timeoutMs', 'rules', 'retryAfterSeconds');

/** The trigger service could not answer: down, too slow, refusing this service's token, or answering nonsense. */
const UNAVAILABLE = 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE';

interface ErrorAnswer {
  error?: { code?: unknown; message?: unknown; issues?: unknown };
}

/**
 * A client of the trigger service's internal API ({@link triggerServiceRoutes}), shaped as the Rules
 * API's `triggers` option: `rulesRoutes(app, { engine, triggers: triggerServiceClient({ ... }) })`
 * serves the trigger routes of a rules service that has no access to the triggers database.
 *
 * Answers keep their meaning across the hop: a trigger missing (or another account's) is `null`, a
 * refused transition is the trigger service's `409 CRM_ERR_TRIGGER_STATE`, a bad event its `400` with
 * the issues. When the trigger service cannot answer (unreachable, past `timeoutMs`, a 5xx, a refused
 * service token, an answer of the wrong shape), calls throw a `503 CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE`
 * with `Retry-After`, whose `cause` holds what happened (logged by the Rules API, never sent).
 */
export function triggerServiceClient(options: TriggerServiceClientOptions): TriggerServiceClient {
  checkOptions('triggerServiceClient', options, OPTION_KEYS, true);
  if (typeof options.token !== 'string' || options.token === '') throw new AutomationError('CRM_ERR_CONFIG', 'triggerServiceClient needs a token (one of the trigger service\'s SERVICE_TOKENS)');
  const givenRules = options.rules as { findRulesForEvent?: unknown; getRule?: unknown } | undefined;
  if (givenRules !== undefined && (typeof givenRules !== 'object' || givenRules === null || typeof givenRules.findRulesForEvent !== 'function' || typeof givenRules.getRule !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', 'triggerServiceClient: rules must be a rule source (findRulesForEvent and getRule)');
  }
  let origin: string;
  try {
    origin = new URL(options.baseUrl).origin;
  } catch {
    throw new AutomationError('CRM_ERR_CONFIG', `triggerServiceClient: baseUrl must be a URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (typeof options.token !== 'string' || options.token.length < 16) throw new AutomationError('CRM_ERR_CONFIG', 'triggerServiceClient: token must be a service token (at least 16 characters)');
  const timeoutMs = positiveIntOption('triggerServiceClient: timeoutMs', options.timeoutMs, 5_000);
  const retryAfter = String(positiveIntOption('triggerServiceClient: retryAfterSeconds', options.retryAfterSeconds, 5));
  const unavailable = (cause: unknown) => {
    const error = new HttpError(503, UNAVAILABLE, 'the trigger service is unavailable; retry later', undefined, { 'retry-after': retryAfter });
    error.cause = cause;
    return error;
  };

  /** One call; resolves to the JSON answer, or null for a 404 of a missing trigger or delivery. */
  const call = async (path: string, body: unknown): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetch(`${origin}${TRIGGER_SERVICE_API_PREFIX}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw unavailable(new Error(timedOut ? `trigger service: no answer within ${timeoutMs} ms` : `trigger service unreachable: ${describe(error)}`, { cause: error }));
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch (error) {
      throw unavailable(new Error(`trigger service answered ${response.status} without a JSON body`, { cause: error }));
    }
    if (response.ok) return answer;
    const { code, message, issues } = (answer as ErrorAnswer | null)?.error ?? {};
    if (response.status === 404 && (code === 'CRM_ERR_TRIGGER_NOT_FOUND' || code === 'CRM_ERR_HTTP_DELIVERY_NOT_FOUND')) return null;
    // A refusal of the request itself is the caller's to see; anything else means this service cannot do its job.
    const typed = typeof code === 'string' && code.startsWith('CRM_ERR_') && typeof message === 'string';
    if (typed && response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403 && code !== 'CRM_ERR_HTTP_NOT_FOUND') {
      throw new HttpError(response.status, code, message, Array.isArray(issues) ? (issues as ValidationIssue[]) : undefined);
    }
    throw unavailable(new Error(`trigger service answered ${response.status}${typed ? ` ${code}: ${message}` : ''}`));
  };

  const revive = <T>(read: (value: unknown) => T, value: unknown): T => {
    try {
      return read(value);
    } catch (error) {
      if (error instanceof WireShapeError) throw unavailable(error);
      throw error;
    }
  };
  /** A page the service answered, each item read with `read`; `what` names the list in the error of a page without items. */
  const pageOf = <T>(answer: unknown, read: (value: unknown) => T, what: string): Page<T> => {
    const page = answer as { items?: unknown; nextCursor?: unknown } | null;
    if (!page || !Array.isArray(page.items)) throw unavailable(new Error(`trigger service answered ${what} without items`));
    const items = page.items.map((item) => revive(read, item));
    return typeof page.nextCursor === 'string' ? { items, nextCursor: page.nextCursor } : { items };
  };
  const one = async (operation: 'get' | 'retry' | 'cancel', accountId: string, id: string): Promise<Trigger | null> => {
    const answer = await call(`/triggers/${operation}`, { accountId, id });
    return answer === null ? null : revive(triggerFromJson, answer);
  };

  const client: TriggerServiceClient = {
    get: (accountId, id) => one('get', accountId, id),
    retry: (accountId, id) => one('retry', accountId, id),
    cancel: (accountId, id) => one('cancel', accountId, id),
    async list(accountId, filter: TriggerFilter = {}): Promise<Page<Trigger>> {
      const status = filter.status === undefined ? undefined : Array.isArray(filter.status) ? filter.status : [filter.status];
      const answer = (await call('/triggers/list', {
        accountId,
        // Undefined fields are left out by JSON.stringify, so the filter is passed as it is.
        filter: { status, ruleId: filter.ruleId, entityKey: filter.entityKey, from: filter.from?.toISOString(), to: filter.to?.toISOString(), limit: filter.limit, cursor: filter.cursor },
      }));
      return pageOf(answer, triggerFromJson, 'a list');
    },
    async ruleStats(accountId, ruleId, { since }) {
      return revive(ruleRunStatsFromJson, await call('/triggers/rule-stats', { accountId, ruleId, since: since.toISOString() }));
    },
    async applyReceipt(receipt) {
      const body = { provider: receipt.provider, state: receipt.state, at: receipt.at.toISOString(), providerId: receipt.providerId, deliveryId: receipt.deliveryId, detail: receipt.detail };
      return revive(receiptResultFromJson, await call('/deliveries/receipt', { receipt: body }));
    },
    deliveries: {
      async list(accountId, filter: DeliveryFilter = {}): Promise<Page<Delivery>> {
        const state = filter.state === undefined ? undefined : Array.isArray(filter.state) ? filter.state : [filter.state];
        const answer = (await call('/deliveries/list', {
          accountId,
          filter: { triggerId: filter.triggerId, recipient: filter.recipient, provider: filter.provider, providerId: filter.providerId, state, limit: filter.limit, cursor: filter.cursor },
        }));
        return pageOf(answer, deliveryFromJson, 'a delivery list');
      },
      async get(accountId, id) {
        const answer = await call('/deliveries/get', { accountId, id });
        return answer === null ? null : revive(deliveryFromJson, answer);
      },
      async ofTrigger(accountId, triggerId) {
        const answer = (await call('/deliveries/of-trigger', { accountId, triggerId })) as { items?: unknown } | null;
        if (!answer || !Array.isArray(answer.items)) throw unavailable(new Error("trigger service answered a trigger's deliveries without items"));
        return answer.items.map((item) => revive(deliveryFromJson, item));
      },
      async resolve(accountId, id, { as, by, note }) {
        const resolution = { as, ...(by === undefined ? {} : { by }), ...(note === undefined ? {} : { note }) };
        const answer = await call('/deliveries/resolve', { accountId, id, resolution });
        return answer === null ? null : revive(deliveryFromJson, answer);
      },
    },
  };
  const { rules } = options;
  if (rules) {
    client.ingest = async (event) => {
      const matched = typeof event.name === 'string' && event.name.length > 0 ? await rules.findRulesForEvent(event.accountId, event.name) : [];
      const answer = (await call('/events', { accountId: event.accountId, event, rules: matched })) as { triggers?: unknown } | null;
      if (!answer || !Array.isArray(answer.triggers)) throw unavailable(new Error('trigger service answered an intake without triggers'));
      return answer.triggers.map((trigger) => revive(triggerFromJson, trigger));
    };
  }
  return client;
}

function describe(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
