import type { JsonObject } from '../model/json.js';
import type { PathIssue } from '../model/form-fields.js';
import type {
  ContactPolicy,
  ContactPolicyDocument,
  Delivery,
  DeliveryPage,
  DeliveryResolution,
  DeliveryState,
  DryRunResult,
  EventAccepted,
  EventType,
  ManualChangeSource,
  PublishedEvent,
  Rule,
  RulePage,
  RuleStats,
  SampleEvent,
  SavedRule,
  SuppressionAdded,
  SuppressionChangePage,
  SuppressionEntry,
  SuppressionLookup,
  SuppressionPage,
  SuppressionReason,
  SuppressionRemoved,
  Trigger,
  TriggerDeliveries,
  TriggerPage,
  TriggerStatus,
  ValidateResult,
} from './types.js';

/** An error answer of the API: its status, stable code, message and (for 400) issues with paths. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: PathIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** Where the API lives: '' for the same origin as the UI, or an absolute URL. */
  base: string;
  /** The API key of the signed-in user. */
  apiKey: string;
  /** Called on a 401, so the app can sign the user out. */
  onUnauthorized?: () => void;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

/** The Rules Service API, typed. The API key travels in the Authorization header only. */
export function createApiClient(options: ApiClientOptions) {
  const base = options.base.replace(/\/+$/, '');

  async function send(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
    // Built before it is passed: `cache` is in the DOM's RequestInit but not in Node's fetch types,
    // which the tests (calling this client from Node) are checked against.
    const init = {
      method,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: 'omit' as const,
      cache: 'no-store' as const,
    };
    try {
      return await fetch(`${base}${path}`, init);
    } catch {
      throw new ApiError(0, 'CRM_ERR_NETWORK', 'The Rules Service could not be reached. Check your connection and try again.');
    }
  }

  function failure(response: Response, payload: unknown): ApiError {
    const error = (payload as { error?: { code?: string; message?: string; issues?: PathIssue[] } } | null)?.error;
    if (response.status === 401) options.onUnauthorized?.();
    return new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `The request failed (${response.status})`, error?.issues ?? []);
  }

  async function json(response: Response): Promise<unknown> {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; response: Response }> {
    const response = await send(method, path, body, headers);
    if (response.status === 204) return { data: undefined as T, response };
    const payload = await json(response);
    if (!response.ok) throw failure(response, payload);
    return { data: payload as T, response };
  }

  /** A successful answer whose body the caller reads itself (CSV); an error answer is thrown as for JSON. */
  async function raw(method: string, path: string, headers: Record<string, string>): Promise<Response> {
    const response = await send(method, path, undefined, headers);
    if (!response.ok) throw failure(response, await json(response));
    return response;
  }

  const data = async <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => (await call<T>(method, path, body, headers)).data;

  return {
    listRules: (filter: { eventName?: string | undefined; enabled?: boolean | undefined; limit?: number | undefined; cursor?: string | undefined } = {}) =>
      data<RulePage>('GET', `/rules${query(filter)}`),
    getRule: (id: string) => data<Rule>('GET', `/rules/${enc(id)}`),
    createRule: (doc: JsonObject) => data<SavedRule>('POST', '/rules', doc),
    /** Replaces a rule if it is still at `version` (409 otherwise). */
    updateRule: (id: string, doc: JsonObject, version: number) => data<SavedRule>('PUT', `/rules/${enc(id)}`, doc, { 'if-match': `"${version}"` }),
    deleteRule: (id: string) => data<undefined>('DELETE', `/rules/${enc(id)}`),
    ruleStats: (id: string) => data<RuleStats>('GET', `/rules/${enc(id)}/stats`),
    validateRule: (rule: JsonObject, sample?: SampleEvent) => data<ValidateResult>('POST', '/rules/validate', sample ? { rule, sample } : { rule }),
    testRule: (id: string, sample: SampleEvent) => data<DryRunResult>('POST', `/rules/${enc(id)}/test`, sample),
    eventTypes: () => data<{ items: EventType[] }>('GET', '/event-types'),
    listTriggers: (filter: { ruleId?: string | undefined; status?: TriggerStatus[] | undefined; entityKey?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {}) =>
      data<TriggerPage>('GET', `/triggers${query({ ...filter, status: filter.status?.join(',') })}`),
    getTrigger: (id: string) => data<Trigger>('GET', `/triggers/${enc(id)}`),
    retryTrigger: (id: string) => data<Trigger>('POST', `/triggers/${enc(id)}/retry`),
    cancelTrigger: (id: string) => data<Trigger>('POST', `/triggers/${enc(id)}/cancel`),
    /** Every send of a run, oldest first. */
    triggerDeliveries: (triggerId: string) => data<TriggerDeliveries>('GET', `/triggers/${enc(triggerId)}/deliveries`),
    listDeliveries: (
      filter: { triggerId?: string | undefined; recipient?: string | undefined; provider?: string | undefined; providerId?: string | undefined; state?: DeliveryState[] | undefined; limit?: number | undefined; cursor?: string | undefined } = {},
    ) => data<DeliveryPage>('GET', `/deliveries${query({ ...filter, state: filter.state?.join(',') })}`),
    getDelivery: (id: string) => data<Delivery>('GET', `/deliveries/${enc(id)}`),
    /** An operator's decision on an `unknown` send (needs the triggers:write scope). */
    resolveDelivery: (id: string, resolution: DeliveryResolution) => data<Delivery>('POST', `/deliveries/${enc(id)}/resolve`, resolution),
    publishEvent: (event: PublishedEvent) => data<EventAccepted>('POST', '/events', event),
    /** The account's contact policy; version 0 and no channels before one is set. */
    getContactPolicy: () => data<ContactPolicy>('GET', '/contact-policy'),
    /** Replaces the policy if it is still at `version` (0 before any; 409 otherwise). */
    putContactPolicy: (policy: ContactPolicyDocument, version: number) => data<ContactPolicy>('PUT', '/contact-policy', policy, { 'if-match': `"${version}"` }),
    listSuppressions: (filter: { channel?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {}) => data<SuppressionPage>('GET', `/suppressions${query(filter)}`),
    lookupSuppression: (channel: string, recipient: string) => data<SuppressionLookup>('GET', `/suppressions/${enc(channel)}/${enc(recipient)}`),
    /** Adds a recipient to the list (idempotent: `created: false` when it was there already). */
    addSuppression: (channel: string, recipient: string, entry: SuppressionEntry = {}) =>
      data<SuppressionAdded>('PUT', `/suppressions/${enc(channel)}/${enc(recipient)}`, entry),
    /** Lifts a suppression (the START of a STOP); `removed: false` when there was none. */
    removeSuppression: (channel: string, recipient: string, change: { reason?: SuppressionReason | undefined; detail?: string | undefined; source?: ManualChangeSource | undefined } = {}) =>
      data<SuppressionRemoved>('DELETE', `/suppressions/${enc(channel)}/${enc(recipient)}${query(change)}`),
    /** The audit trail of the list, oldest first. */
    suppressionChanges: (filter: { channel?: string | undefined; recipient?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {}) =>
      data<SuppressionChangePage>('GET', `/suppressions/changes${query(filter)}`),
    /** One page of the audit trail as CSV (the server's export), with the cursor of the next page. */
    suppressionChangesCsv: async (filter: { channel?: string | undefined; recipient?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {}) => {
      const response = await raw('GET', `/suppressions/changes${query(filter)}`, { accept: 'text/csv' });
      return { csv: await response.text(), nextCursor: response.headers.get('x-next-cursor') ?? undefined };
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
