import type { JsonObject } from '../model/json.js';
import type { PathIssue } from '../model/form-fields.js';
import type {
  Delivery,
  DeliveryPage,
  DeliveryResolution,
  DeliveryState,
  DryRunResult,
  EventAccepted,
  EventType,
  PublishedEvent,
  Rule,
  RulePage,
  RuleStats,
  SampleEvent,
  SavedRule,
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

  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; response: Response }> {
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
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, init);
    } catch {
      throw new ApiError(0, 'CRM_ERR_NETWORK', 'The Rules Service could not be reached. Check your connection and try again.');
    }
    if (response.status === 204) return { data: undefined as T, response };
    let payload: unknown = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: string; message?: string; issues?: PathIssue[] } } | null)?.error;
      if (response.status === 401) options.onUnauthorized?.();
      throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `The request failed (${response.status})`, error?.issues ?? []);
    }
    return { data: payload as T, response };
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
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
