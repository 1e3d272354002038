// One file: every Rules API route is defined once here as data (method, path, scope, schemas, handler),
// from which both Fastify and the OpenAPI document are built, so a route and its documentation cannot drift.
import type { AutomationEngine, Rule, SuppressionChange, Trigger, TriggerStatus } from '@crm-automation/core';
import { AutomationError, asUntrustedRule, isAutomationError, checkJsonShape, checkOptions, formatPath, MAX_JSON_DEPTH, optionKeys, positiveIntOption, type DeliveryState, type UntrustedRuleInput } from '@crm-automation/core';
import { checkOptionShapes, normalizedRecipient, type OptionShape } from '@crm-automation/core/spi';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Authenticate, Principal, RulesScope } from '../account-auth/principal.js';
import { HttpError, replyWithError, setNotFoundHandlerUnlessSet } from '../http-errors.js';
import { useStrictJsonBodies } from '../json-body.js';
import { buildOpenApiDocument, type OpenApiInfo } from './openapi.js';
import { createAccountRateLimiter, type RateLimitOptions } from './rate-limit.js';
import * as s from './schemas.js';
import { DELIVERY_ADMINISTRATION_METHODS, ruleRunStats, TRIGGER_ADMINISTRATION_METHODS, type DeliveryAdministration, type TriggerAdministration } from '../triggers/trigger-administration.js';

/** An event type the CRM emits, offered to rule builders with a sample payload. */
export interface EventType {
  name: string;
  description?: string | undefined;
  samplePayload?: Record<string, unknown> | undefined;
}

export interface RulesRoutesOptions {
  engine: AutomationEngine;
  /** Who is calling: `apiKeyAuth(...)`, `jwtAuth(...)`, `anyOf(...)` or your own. */
  authenticate: Authenticate;
  /** Per-account request rate; `false` turns it off. Default 600 requests a minute. */
  rateLimit?: RateLimitOptions | false | undefined;
  /** Largest request body in bytes. Default 256 KiB. */
  bodyLimit?: number | undefined;
  /** Event types offered by `GET /event-types`. */
  eventCatalog?: readonly EventType[] | undefined;
  /** Window of `GET /rules/:id/stats`. Default 7 days. */
  statsWindowMs?: number | undefined;
  /** `info` of the OpenAPI document. */
  openapi?: Partial<OpenApiInfo> | undefined;
  /**
   * Where the trigger routes (`/triggers...`, the counts of `/rules/:id/stats`, `POST /events`) read
   * and change triggers. Default: the engine's own (`engine.triggers`, `engine.ingest`). A rules
   * service whose triggers live in a trigger service passes `triggerServiceClient({ ... })`.
   */
  triggers?: TriggerAdministration | undefined;
  /**
   * Where the delivery routes (`/deliveries...`, `/triggers/:id/deliveries`) read the ledger and
   * resolve unknown sends. Default: `triggers.deliveries` when `triggers` has it (a
   * `triggerServiceClient` does), else `engine.deliveries`.
   */
  deliveries?: DeliveryAdministration | undefined;
}

const RULES_ROUTES_OPTION_KEYS = optionKeys<RulesRoutesOptions>()('engine', 'authenticate', 'rateLimit', 'bodyLimit', 'eventCatalog', 'statsWindowMs', 'openapi', 'triggers', 'deliveries');

/** `given` when it has every method of the engine's own `what`, else a configuration error naming the missing ones. */
function checkedAdministration<T>(what: 'triggers' | 'deliveries', given: T | undefined, methods: readonly string[], engineOwn: T): T {
  if (given === undefined) return engineOwn;
  const missing = methods.filter((name) => typeof (given as Record<string, unknown> | null)?.[name] !== 'function');
  if (typeof given !== 'object' || given === null || missing.length > 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `rulesRoutes: ${what} must have the methods of engine.${what} (${methods.join(', ')}); missing: ${missing.join(', ')}`);
  }
  return given;
}

const OPENAPI_INFO_KEYS = optionKeys<OpenApiInfo>()('title', 'version', 'description');

interface RouteInput {
  principal: Principal;
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  request: FastifyRequest;
}

interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One route of the API: what it accepts and answers (for the OpenAPI document) and what it does. */
export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  /** Required scope; undefined = no authentication (health, OpenAPI). */
  scope?: RulesScope | undefined;
  query?: z.ZodType | undefined;
  /** `'rule'` = a rule document, `'contact-policy'` = a contact policy (the engine's own JSON Schemas). */
  body?: z.ZodType | 'rule' | 'contact-policy' | undefined;
  /** Code of a body nested too deep: the engine's for rules, events and contact policies, a bad request otherwise. */
  invalidBodyCode?: 'CRM_ERR_RULE_INVALID' | 'CRM_ERR_EVENT_INVALID' | 'CRM_ERR_POLICY_INVALID' | undefined;
  /** The route also answers `text/csv` when asked (`Accept: text/csv`): what the CSV holds. */
  csv?: string | undefined;
  responses: Record<number, z.ZodType | null>;
  handler: (input: RouteInput) => Promise<RouteResult>;
}

const DAY = 86_400_000;

function parse<T>(schema: z.ZodType<T>, value: unknown, location: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: formatPath([location, ...i.path]), code: i.code, message: i.message }));
  throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid ${location}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/**
 * A body may wrap a tenant document by two levels (`{ sample: { payload } }`); the engine bounds the
 * documents themselves to {@link MAX_JSON_DEPTH} and reports them with their own codes.
 */
const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 2;

/**
 * Refuses a body nested deeper than {@link MAX_BODY_DEPTH} (or holding too many values) before any
 * other work on it, with the path of the first level too deep.
 */
function checkBodyShape(body: unknown, code: string): void {
  const problem = checkJsonShape(body, MAX_BODY_DEPTH);
  if (!problem) return;
  const path = formatPath(problem.path);
  throw new HttpError(400, code, `invalid body: ${path || '(root)'}: ${problem.message}`, [{ path, code: problem.code, message: problem.message }]);
}

const deliveryNotFound = (id: string) => new HttpError(404, 'CRM_ERR_HTTP_DELIVERY_NOT_FOUND', `Delivery ${JSON.stringify(id)} not found`);

const notFound = (what: 'Rule' | 'Trigger', id: string) =>
  new HttpError(404, what === 'Rule' ? 'CRM_ERR_RULE_NOT_FOUND' : 'CRM_ERR_TRIGGER_NOT_FOUND', `${what} ${JSON.stringify(id)} not found`);

/** Fields a client may send back from a GET; they are the server's to set. */
const READ_ONLY = ['id', 'version', 'createdAt', 'updatedAt'] as const;

function isZeroDelay(delay: unknown): boolean {
  return typeof delay === 'object' && delay !== null && (delay as Record<string, unknown>)['value'] === 0;
}

/** A rule document from a request body, validated by the engine when it is used. */
function ruleBody(body: unknown): { document: UntrustedRuleInput; version?: number | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'CRM_ERR_RULE_INVALID', 'Invalid rule: the body must be a JSON object', [{ path: '', code: 'invalid_type', message: 'expected a rule object' }]);
  }
  const document = { ...(body as Record<string, unknown>) };
  const version = document['version'];
  for (const key of READ_ONLY) delete document[key];
  // A scheduled rule is answered with the zero delay the engine stores for it; sent back as it was
  // read (GET, edit, PUT), that delay is the server's own and not a second timing next to the schedule.
  if (document['schedule'] !== undefined && isZeroDelay(document['delay'])) delete document['delay'];
  return { document: asUntrustedRule(document), version: typeof version === 'number' ? version : undefined };
}

function ifMatchVersion(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(Array.isArray(header) ? (header[0] ?? '') : header);
  if (!match) throw new HttpError(400, 'CRM_ERR_HTTP_PRECONDITION', 'If-Match must be a version (of the rule or the contact policy), e.g. "3"');
  return Number(match[1]);
}

const etag = (rule: Rule) => `"${rule.version}"`;

/** Fields of a stored contact policy a client may send back from a GET; they are the server's to set. */
const POLICY_READ_ONLY = ['accountId', 'version', 'updatedAt'] as const;

/** A contact policy from a request body (validated by the engine), and the version it was read at, if sent back. */
function policyBody(body: unknown): { document: unknown; version?: number | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { document: body };
  const document = { ...(body as Record<string, unknown>) };
  const version = document['version'];
  for (const key of POLICY_READ_ONLY) delete document[key];
  return { document, version: typeof version === 'number' ? version : undefined };
}

/** Who changed a suppression through this API, as the audit export shows it. */
const apiActor = (principal: Principal) => (principal.subject ? `api:${principal.subject}` : 'api');

/** Whether the client asked for CSV (`Accept: text/csv`) rather than JSON. */
function wantsCsv(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept);
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field a spreadsheet
 * would run as a formula (`=`, `@`, or `+`/`-` not followed by a digit) gets a leading quote mark;
 * E.164 numbers (`+1555...`) stay as they are.
 */
function csvField(value: unknown): string {
  let text = value instanceof Date ? value.toISOString() : value === undefined || value === null ? '' : String(value);
  if (/^[=@\t\r]/.test(text) || /^[+-](?!\d)/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const SUPPRESSION_CHANGE_COLUMNS = ['at', 'action', 'channel', 'recipient', 'reason', 'source', 'by', 'detail'] as const;

function suppressionChangesCsv(items: readonly SuppressionChange[]): string {
  const lines = [SUPPRESSION_CHANGE_COLUMNS.join(',')];
  for (const change of items) lines.push(SUPPRESSION_CHANGE_COLUMNS.map((column) => csvField(change[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** `/triggers/:id` and its actions: the trigger `act` returns, or 404 when it finds none (a change may also answer 409). */
function triggerByIdRoute(method: 'GET' | 'POST', suffix: string, summary: string, scope: RulesScope, act: (accountId: string, id: string) => Promise<Trigger | null | undefined>): RouteDefinition {
  const conflict = method === 'POST' ? { 409: s.errorResponse } : {};
  return {
    method,
    url: `/triggers/:id${suffix}`,
    summary,
    scope,
    responses: { 200: s.triggerResponse, 400: s.errorResponse, 404: s.errorResponse, ...conflict, 503: s.errorResponse },
    async handler({ principal, params }) {
      const id = params['id'] ?? '';
      const trigger = await act(principal.accountId, id);
      if (!trigger) throw notFound('Trigger', id);
      return { status: 200, body: trigger };
    },
  };
}

// What the known keys hold: a wrong one is a CRM_ERR_CONFIG at registration, not a TypeError (or a 500 per request).
const RULES_ROUTES_OPTION_SHAPES: Readonly<Partial<Record<keyof RulesRoutesOptions, OptionShape>>> = {
  engine: { kind: 'port', what: 'an automation engine (createAutomationEngine(...))', methods: ['ingest'] },
  authenticate: { kind: 'function', what: 'an authenticate function (apiKeyAuth(...), jwtAuth(...), anyOf(...))' },
};

/** The route table, shared by registration and the OpenAPI document. */
export function rulesRouteDefinitions(options: RulesRoutesOptions): RouteDefinition[] {
  checkOptions('rulesRoutes', options, RULES_ROUTES_OPTION_KEYS, true);
  checkOptions('rulesRoutes: openapi', options.openapi, OPENAPI_INFO_KEYS);
  checkOptionShapes('rulesRoutes', options, RULES_ROUTES_OPTION_SHAPES);
  if (typeof options.engine?.rules !== 'object' || options.engine.rules === null) {
    throw new AutomationError('CRM_ERR_CONFIG', 'rulesRoutes: engine must be an automation engine (createAutomationEngine(...)); it has no rules');
  }
  if (options.eventCatalog !== undefined && !Array.isArray(options.eventCatalog)) throw new AutomationError('CRM_ERR_CONFIG', 'rulesRoutes: eventCatalog must be an array of event types ({ name, description?, example? })');
  const { engine } = options;
  const triggers = checkedAdministration<TriggerAdministration>('triggers', options.triggers, TRIGGER_ADMINISTRATION_METHODS, engine.triggers);
  const deliveries = checkedAdministration<DeliveryAdministration>('deliveries', options.deliveries ?? triggers.deliveries, DELIVERY_ADMINISTRATION_METHODS, engine.deliveries);
  const statsWindowMs = positiveIntOption('rulesRoutes: statsWindowMs', options.statsWindowMs, 7 * DAY);
  let openapi: Record<string, unknown> | undefined;
  const routes: RouteDefinition[] = [
    {
      method: 'POST',
      url: '/rules',
      summary: 'Create a rule',
      scope: 'rules:write',
      body: 'rule',
      invalidBodyCode: 'CRM_ERR_RULE_INVALID',
      responses: { 201: s.savedRuleResponse, 400: s.errorResponse },
      async handler({ principal, body }) {
        const rule = await engine.rules.create(principal.accountId, ruleBody(body).document);
        return { status: 201, body: rule, headers: { location: `/rules/${rule.id}`, etag: etag(rule) } };
      },
    },
    {
      method: 'GET',
      url: '/rules',
      summary: 'List rules (filter by event name and enabled; cursor pagination)',
      scope: 'rules:read',
      query: s.listRulesQuery,
      responses: { 200: s.rulePage, 400: s.errorResponse },
      async handler({ principal, query }) {
        const q = parse(s.listRulesQuery, query, 'query');
        return { status: 200, body: await engine.rules.list(principal.accountId, q) };
      },
    },
    {
      method: 'POST',
      url: '/rules/validate',
      summary: 'Validate a rule without saving it; with a sample event (and current state for facts evaluated at fire time), dry-run it',
      scope: 'rules:read',
      body: s.validateBody,
      responses: { 200: s.validateResponse, 400: s.errorResponse },
      async handler({ principal, body }) {
        const { rule, sample } = parse(s.validateBody, body, 'body');
        const { document } = ruleBody(rule);
        const result = engine.rules.validate(document);
        if (!result.ok) return { status: 200, body: { valid: false, issues: result.issues } };
        // The same render and evaluation budgets as a real run; reading is all it needs.
        const dryRun = sample ? await engine.rules.dryRun(principal.accountId, document, sample) : undefined;
        const warnings = result.warnings && result.warnings.length > 0 ? { warnings: result.warnings } : {};
        return { status: 200, body: { valid: true, rule: result.rule, ...warnings, ...(dryRun ? { dryRun } : {}) } };
      },
    },
    {
      method: 'GET',
      url: '/rules/:id',
      summary: 'Get a rule',
      scope: 'rules:read',
      responses: { 200: s.ruleResponse, 400: s.errorResponse, 404: s.errorResponse },
      async handler({ principal, params }) {
        const rule = await engine.rules.get(principal.accountId, params['id'] ?? '');
        if (!rule) throw notFound('Rule', params['id'] ?? '');
        return { status: 200, body: rule, headers: { etag: etag(rule) } };
      },
    },
    {
      method: 'PUT',
      url: '/rules/:id',
      summary: 'Replace a rule (bumps its version; If-Match for optimistic concurrency)',
      scope: 'rules:write',
      body: 'rule',
      invalidBodyCode: 'CRM_ERR_RULE_INVALID',
      responses: { 200: s.savedRuleResponse, 400: s.errorResponse, 404: s.errorResponse, 409: s.errorResponse },
      async handler({ principal, params, body, request }) {
        const id = params['id'] ?? '';
        const { document, version } = ruleBody(body);
        const expectedVersion = ifMatchVersion(request) ?? version;
        const rule = await engine.rules.update(principal.accountId, id, document, { expectedVersion });
        if (!rule) throw notFound('Rule', id);
        return { status: 200, body: rule, headers: { etag: etag(rule) } };
      },
    },
    {
      method: 'DELETE',
      url: '/rules/:id',
      summary: 'Delete a rule (its pending triggers are skipped when due)',
      scope: 'rules:write',
      responses: { 204: null, 400: s.errorResponse, 404: s.errorResponse },
      async handler({ principal, params }) {
        if (!(await engine.rules.delete(principal.accountId, params['id'] ?? ''))) throw notFound('Rule', params['id'] ?? '');
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      url: '/rules/:id/test',
      summary: 'Dry-run a saved rule against a sample event (and current state for facts evaluated at fire time); nothing is sent',
      scope: 'rules:read',
      body: s.sampleEvent,
      responses: { 200: s.dryRunResponse, 400: s.errorResponse, 404: s.errorResponse },
      async handler({ principal, params, body }) {
        const sample = parse(s.sampleEvent, body, 'body');
        const result = await engine.rules.dryRun(principal.accountId, params['id'] ?? '', sample);
        if (!result) throw notFound('Rule', params['id'] ?? '');
        return { status: 200, body: result };
      },
    },
    {
      method: 'GET',
      url: '/rules/:id/stats',
      summary: 'Recent runs of a rule by outcome, and when it last fired',
      scope: 'triggers:read',
      responses: { 200: s.ruleStatsResponse, 400: s.errorResponse, 404: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, params }) {
        const id = params['id'] ?? '';
        if (!(await engine.rules.get(principal.accountId, id))) throw notFound('Rule', id);
        const since = new Date(engine.clock.now().getTime() - statsWindowMs);
        const stats = triggers.ruleStats ? await triggers.ruleStats(principal.accountId, id, { since }) : await ruleRunStats(triggers.list, principal.accountId, id, since);
        return { status: 200, body: { ruleId: id, ...stats } };
      },
    },
    {
      method: 'GET',
      url: '/triggers',
      summary: 'List triggers, newest first (by status, rule, entity key, evaluateAt range)',
      scope: 'triggers:read',
      query: s.listTriggersQuery,
      responses: { 200: s.triggerPage, 400: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, query }) {
        const q = parse(s.listTriggersQuery, query, 'query');
        const page = await triggers.list(principal.accountId, {
          status: q.status as TriggerStatus[] | undefined,
          ruleId: q.ruleId,
          entityKey: q.entityKey,
          from: q.from ? new Date(q.from) : undefined,
          to: q.to ? new Date(q.to) : undefined,
          limit: q.limit,
          cursor: q.cursor,
        });
        return { status: 200, body: page };
      },
    },
    triggerByIdRoute('GET', '', 'Get a trigger with its execution history', 'triggers:read', triggers.get),
    triggerByIdRoute('POST', '/retry', 'Run a failed trigger again, now, with a fresh attempt budget', 'triggers:write', triggers.retry),
    triggerByIdRoute('POST', '/cancel', 'Cancel a pending or retrying trigger', 'triggers:write', triggers.cancel),
    {
      method: 'GET',
      url: '/triggers/:id/deliveries',
      summary: 'Every send of a trigger, oldest first (one per action and attempt; execution history entries name theirs by deliveryId)',
      scope: 'triggers:read',
      responses: { 200: s.triggerDeliveries, 400: s.errorResponse, 404: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, params }) {
        const id = params['id'] ?? '';
        const items = await deliveries.ofTrigger(principal.accountId, id);
        // A trigger with no sends yet and no trigger at all look alike in the ledger.
        if (items.length === 0 && !(await triggers.get(principal.accountId, id))) throw notFound('Trigger', id);
        return { status: 200, body: { items } };
      },
    },
    {
      method: 'GET',
      url: '/deliveries',
      summary: 'List deliveries, newest first (by trigger, recipient, provider, provider id, state; cursor pagination)',
      scope: 'triggers:read',
      query: s.listDeliveriesQuery,
      responses: { 200: s.deliveryPage, 400: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, query }) {
        const q = parse(s.listDeliveriesQuery, query, 'query');
        const page = await deliveries.list(principal.accountId, {
          triggerId: q.triggerId,
          // The ledger keeps recipients normalised (email lower-cased); the query is read the same way.
          recipient: q.recipient === undefined ? undefined : normalizedRecipient('query', { recipient: q.recipient }),
          provider: q.provider,
          providerId: q.providerId,
          state: q.state as DeliveryState[] | undefined,
          limit: q.limit,
          cursor: q.cursor,
        });
        return { status: 200, body: page };
      },
    },
    {
      method: 'GET',
      url: '/deliveries/:id',
      summary: 'Get a delivery with its events (intent, outcome, receipts, resolutions)',
      scope: 'triggers:read',
      responses: { 200: s.deliveryResponse, 400: s.errorResponse, 404: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, params }) {
        const delivery = await deliveries.get(principal.accountId, params['id'] ?? '');
        if (!delivery) throw deliveryNotFound(params['id'] ?? '');
        return { status: 200, body: delivery };
      },
    },
    {
      method: 'POST',
      url: '/deliveries/:id/resolve',
      summary: "Resolve an unknown send: 'sent' (it reached the provider) or 'resend' (send the action again now)",
      scope: 'triggers:write',
      body: s.resolveDeliveryBody,
      responses: { 200: s.deliveryResponse, 400: s.errorResponse, 404: s.errorResponse, 409: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, params, body }) {
        const id = params['id'] ?? '';
        const { as, note } = parse(s.resolveDeliveryBody, body, 'body');
        const before = await deliveries.get(principal.accountId, id);
        if (!before) throw deliveryNotFound(id);
        if (before.state !== 'unknown') throw new HttpError(409, 'CRM_ERR_HTTP_DELIVERY_STATE', `Delivery ${JSON.stringify(id)} is ${before.state}: only an unknown delivery can be resolved`);
        const by = principal.subject ? `api:${principal.subject}` : 'api';
        const after = await deliveries.resolve(principal.accountId, id, { as, by, ...(note === undefined ? {} : { note }) }).catch((error: unknown) => {
          // A receipt or another operator settled it since the read above.
          if (isAutomationError(error) && error.code === 'CRM_ERR_DELIVERY_STATE') throw new HttpError(409, 'CRM_ERR_HTTP_DELIVERY_STATE', error.message);
          throw error;
        });
        if (!after) throw deliveryNotFound(id);
        return { status: 200, body: after };
      },
    },
    {
      method: 'GET',
      url: '/contact-policy',
      summary: "The account's contact policy: quiet hours, caps and over-cap behaviour per channel (version 0: none set yet)",
      scope: 'rules:read',
      responses: { 200: s.contactPolicyResponse, 400: s.errorResponse },
      async handler({ principal }) {
        const stored = await engine.contactPolicy.get(principal.accountId);
        const body = stored ?? { accountId: principal.accountId, channels: {}, version: 0 };
        return { status: 200, body, headers: { etag: `"${body.version}"` } };
      },
    },
    {
      method: 'PUT',
      url: '/contact-policy',
      summary: "Replace the account's contact policy (validated: every issue with its path; If-Match for optimistic concurrency, \"0\" when none is set yet)",
      scope: 'rules:write',
      body: 'contact-policy',
      invalidBodyCode: 'CRM_ERR_POLICY_INVALID',
      responses: { 200: s.contactPolicyResponse, 400: s.errorResponse, 409: s.errorResponse },
      async handler({ principal, body, request }) {
        const { document, version } = policyBody(body);
        const expectedVersion = ifMatchVersion(request) ?? version;
        const stored = await engine.contactPolicy.set(principal.accountId, document, { expectedVersion });
        return { status: 200, body: stored, headers: { etag: `"${stored.version}"` } };
      },
    },
    {
      method: 'GET',
      url: '/suppressions',
      summary: 'List suppressed recipients, newest first (by channel; cursor pagination)',
      scope: 'triggers:read',
      query: s.listSuppressionsQuery,
      responses: { 200: s.suppressionPage, 400: s.errorResponse },
      async handler({ principal, query }) {
        const q = parse(s.listSuppressionsQuery, query, 'query');
        return { status: 200, body: await engine.suppressions.list(principal.accountId, { channel: q.channel, limit: q.limit, cursor: q.cursor }) };
      },
    },
    {
      method: 'GET',
      url: '/suppressions/changes',
      summary: 'Every suppression added or removed, oldest first, with who or what and why: the audit export (by channel, recipient; cursor pagination; Accept: text/csv for CSV)',
      scope: 'triggers:read',
      query: s.suppressionChangesQuery,
      csv: 'One change per line: at, action, channel, recipient, reason, source, by, detail (a header line first); the next page’s cursor in the X-Next-Cursor header',
      responses: { 200: s.suppressionChangePage, 400: s.errorResponse },
      async handler({ principal, query, request }) {
        const q = parse(s.suppressionChangesQuery, query, 'query');
        const page = await engine.suppressions.changes(principal.accountId, { channel: q.channel, recipient: q.recipient, limit: q.limit, cursor: q.cursor });
        if (!wantsCsv(request)) return { status: 200, body: page };
        const next = page.nextCursor === undefined ? {} : { 'x-next-cursor': page.nextCursor };
        return { status: 200, body: suppressionChangesCsv(page.items), headers: { 'content-type': 'text/csv; charset=utf-8', ...next } };
      },
    },
    {
      method: 'GET',
      url: '/suppressions/:channel/:recipient',
      summary: 'Look up a recipient: whether it is suppressed on the channel, and why',
      scope: 'triggers:read',
      responses: { 200: s.suppressionLookupResponse, 400: s.errorResponse },
      async handler({ principal, params }) {
        const { channel, recipient } = parse(s.suppressionParams, params, 'params');
        const suppression = await engine.suppressions.lookup(principal.accountId, channel, recipient);
        const key = normalizedRecipient(channel, { recipient }) ?? recipient;
        return { status: 200, body: { channel, recipient: key, suppressed: suppression !== null, ...(suppression ? { suppression } : {}) } };
      },
    },
    {
      method: 'PUT',
      url: '/suppressions/:channel/:recipient',
      summary: 'Suppress a recipient on a channel (reason default manual; source api or ui, default api; by the caller); 200 when it was suppressed already',
      scope: 'triggers:write',
      body: s.addSuppressionBody,
      responses: { 200: s.addSuppressionResponse, 201: s.addSuppressionResponse, 400: s.errorResponse },
      async handler({ principal, params, body }) {
        const { channel, recipient } = parse(s.suppressionParams, params, 'params');
        const { reason, detail, source } = parse(s.addSuppressionBody, body ?? {}, 'body');
        const added = await engine.suppressions.add(principal.accountId, { channel, recipient, reason: reason ?? 'manual', source: source ?? 'api', by: apiActor(principal), ...(detail === undefined ? {} : { detail }) });
        return { status: added.created ? 201 : 200, body: added };
      },
    },
    {
      method: 'DELETE',
      url: '/suppressions/:channel/:recipient',
      summary: 'Lift a suppression (reason default manual; source api or ui, default api; by the caller); removed false when there was none',
      scope: 'triggers:write',
      query: s.removeSuppressionQuery,
      responses: { 200: s.removeSuppressionResponse, 400: s.errorResponse },
      async handler({ principal, params, query }) {
        const { channel, recipient } = parse(s.suppressionParams, params, 'params');
        const { reason, detail, source } = parse(s.removeSuppressionQuery, query, 'query');
        const removed = await engine.suppressions.remove(principal.accountId, channel, recipient, {
          source: source ?? 'api',
          by: apiActor(principal),
          ...(reason === undefined ? {} : { reason }),
          ...(detail === undefined ? {} : { detail }),
        });
        return { status: 200, body: { removed } };
      },
    },
    {
      method: 'POST',
      url: '/events',
      summary: 'HTTP intake of a CRM event (same validation and dedupe as the bus)',
      scope: 'events:write',
      body: s.eventBody,
      invalidBodyCode: 'CRM_ERR_EVENT_INVALID',
      responses: { 202: s.eventAccepted, 400: s.errorResponse, 503: s.errorResponse },
      async handler({ principal, body }) {
        const event = parse(s.eventBody, body, 'body');
        if (event.accountId !== undefined && event.accountId !== principal.accountId) {
          throw new HttpError(400, 'CRM_ERR_EVENT_INVALID', 'Invalid event: accountId does not match the credentials', [
            { path: 'accountId', code: 'account_mismatch', message: 'leave accountId out; it comes from the credentials' },
          ]);
        }
        const accepted = { ...event, accountId: principal.accountId } as Parameters<AutomationEngine['ingest']>[0];
        const stored: Trigger[] = triggers.ingest ? await triggers.ingest(accepted) : await engine.ingest(accepted);
        const id = stored[0]?.triggeringEvent.id ?? event.id;
        return {
          status: 202,
          body: {
            id: id ?? '',
            triggers: stored.map((t) => ({ id: t.id, ruleId: t.ruleId, evaluateAt: t.evaluateAt, status: t.status, ...(t.entityKey === undefined ? {} : { entityKey: t.entityKey }) })),
          },
        };
      },
    },
    {
      method: 'GET',
      url: '/event-types',
      summary: 'Event types for the rule builder: the catalogue, plus names used by the account’s rules',
      scope: 'rules:read',
      responses: { 200: s.eventTypesResponse },
      async handler({ principal }) {
        const items = new Map<string, { name: string; description?: string; samplePayload?: Record<string, unknown> }>();
        for (const type of options.eventCatalog ?? []) {
          items.set(type.name, {
            name: type.name,
            ...(type.description ? { description: type.description } : {}),
            ...(type.samplePayload ? { samplePayload: type.samplePayload } : {}),
          });
        }
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await engine.rules.list(principal.accountId, { limit: 500, cursor });
          for (const rule of page.items) {
            // A cancelling event is one the builder offers too: a rule may start on it next.
            for (const name of [rule.trigger.eventName, ...(rule.cancelOn ?? []).map((entry) => entry.eventName)]) if (!items.has(name)) items.set(name, { name });
          }
          cursor = page.nextCursor;
        } while (cursor && ++pages < 10);
        return { status: 200, body: { items: [...items.values()] } };
      },
    },
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness',
      responses: { 200: s.healthResponse },
      handler: async () => ({ status: 200, body: { status: 'ok' } }),
    },
    {
      method: 'GET',
      url: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      responses: { 200: null },
      handler: async () => {
        openapi ??= buildOpenApiDocument(routes, engine.rules.jsonSchema(), options.openapi, engine.contactPolicy.jsonSchema());
        return { status: 200, body: openapi };
      },
    },
  ];
  return routes;
}

/**
 * The Rules Service REST API as a Fastify plugin, over any engine. Mount it in your own service:
 * `app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys }) })`.
 *
 * Every error is `{ error: { code, message, issues? } }`, unknown routes included (unless the host set
 * its own 404 handler for this prefix first). Create the host app with
 * `frameworkErrors: frameworkErrorHandler` so a URL with a bad percent-escape gets that body too.
 */
export const rulesRoutes: FastifyPluginAsync<RulesRoutesOptions> = async (app: FastifyInstance, registered) => {
  // Fastify reads these from the registration options itself.
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...options } = registered as RulesRoutesOptions & Record<string, unknown>;
  const routes = rulesRouteDefinitions(options as RulesRoutesOptions);
  const limited = options.rateLimit === false ? undefined : createAccountRateLimiter(options.rateLimit ?? {});
  const bodyLimit = positiveIntOption('rulesRoutes: bodyLimit', options.bodyLimit, 256 * 1024);

  // Bodies are JSON only (UTF-8, each key once): without this, Fastify's text/plain parser would accept text.
  useStrictJsonBodies(app);
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  setNotFoundHandlerUnlessSet(app);

  for (const route of routes) {
    const hasId = route.url.includes(':id');
    app.route({
      method: route.method,
      url: route.url,
      bodyLimit,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        let principal: Principal = { accountId: '', scopes: [] };
        if (route.scope) {
          const found = await options.authenticate(request);
          if (!found) {
            throw new HttpError(401, 'CRM_ERR_HTTP_UNAUTHENTICATED', 'missing or invalid credentials', undefined, { 'www-authenticate': 'Bearer' });
          }
          if (!found.scopes.includes(route.scope)) throw new HttpError(403, 'CRM_ERR_HTTP_FORBIDDEN', `this route needs the "${route.scope}" scope`);
          const waitMs = limited?.(found.accountId) ?? 0;
          if (waitMs > 0) {
            throw new HttpError(429, 'CRM_ERR_HTTP_RATE_LIMITED', 'too many requests for this account', undefined, { 'retry-after': String(Math.ceil(waitMs / 1000)) });
          }
          principal = found;
          request.log = request.log.child({ accountId: found.accountId });
        }
        const params = request.params as Record<string, string>;
        if (hasId) parse(s.idParams, params, 'params');
        if (route.body) checkBodyShape(request.body, route.invalidBodyCode ?? 'CRM_ERR_HTTP_BAD_REQUEST');
        const result = await route.handler({ principal, params, query: request.query, body: request.body, request });
        reply.status(result.status).headers(result.headers ?? {});
        return result.body === undefined ? reply.send() : reply.send(result.body);
      },
    });
  }
};
