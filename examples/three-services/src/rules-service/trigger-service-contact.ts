import type { ContactPolicyStore, SuppressionStore } from '@crm-automation/core';
import { HttpError } from '@crm-automation/http';
import { CONTACT_API_PREFIX, ContactWireError, pageFromJson, storedPolicyFromJson, suppressionChangeFromJson, suppressionFromJson } from '../wire/contact-json.js';

export interface TriggerServiceContactOptions {
  baseUrl: string;
  /** One of the trigger service's SERVICE_TOKENS. */
  token: string;
  /** Deadline of one call; past it the route answers 503. */
  timeoutMs: number;
}

const UNAVAILABLE = 'CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE';
const RETRY_AFTER_SECONDS = '5';

/**
 * The contact policy and suppression ports of the rules service's engine, kept by the trigger service
 * (whose engine reads them at fire time and records STOP replies there): each call is one POST to its
 * internal contact API. So the Rules API's `/suppressions` and `/contact-policy` routes show and change
 * the data the sends are checked against, never a copy. Answers keep their meaning across the hop (a
 * refused policy is the trigger service's `400 CRM_ERR_POLICY_INVALID` with its issues, a stale
 * If-Match its `409 CRM_ERR_VERSION_CONFLICT`); when the trigger service cannot answer, calls throw
 * `503 CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE` with Retry-After, as the trigger routes do.
 */
export function triggerServiceContact(options: TriggerServiceContactOptions): ContactPolicyStore & SuppressionStore {
  const origin = new URL(options.baseUrl).origin;
  const unavailable = (cause: unknown) => {
    const error = new HttpError(503, UNAVAILABLE, 'the trigger service is unavailable; retry later', undefined, { 'retry-after': RETRY_AFTER_SECONDS });
    error.cause = cause;
    return error;
  };

  const call = async (path: string, body: unknown): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetch(`${origin}${CONTACT_API_PREFIX}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      throw unavailable(error);
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch (error) {
      throw unavailable(new Error(`trigger service answered ${response.status} without a JSON body`, { cause: error }));
    }
    if (response.ok) return answer;
    const { code, message, issues } = (answer as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | null)?.error ?? {};
    const typed = typeof code === 'string' && code.startsWith('CRM_ERR_') && typeof message === 'string';
    // A refusal of the request itself is the caller's to see; anything else means this route cannot do its job.
    if (typed && response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403 && code !== 'CRM_ERR_HTTP_NOT_FOUND') {
      throw new HttpError(response.status, code, message, Array.isArray(issues) ? issues : undefined);
    }
    throw unavailable(new Error(`trigger service answered ${response.status}${typed ? ` ${code}: ${message}` : ''}`));
  };
  const revive = async <T>(answer: Promise<unknown>, read: (value: unknown) => T): Promise<T> => {
    const value = await answer;
    try {
      return read(value);
    } catch (error) {
      if (error instanceof ContactWireError) throw unavailable(error);
      throw error;
    }
  };
  const field = (name: string) => (value: unknown) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined);

  return {
    findSuppression: (accountId, channel, recipient) =>
      revive(call('/suppressions/lookup', { accountId, channel, recipient }), (v) => {
        const found = field('suppression')(v);
        return found === null ? null : suppressionFromJson(found);
      }),
    // The trigger service's engine stamps the time (its clock is the one sends are checked by).
    addSuppression: ({ accountId, channel, recipient, reason, source, by, detail }) =>
      revive(call('/suppressions/add', { accountId, entry: { channel, recipient, reason, source, by, detail } }), (v) => {
        const created = field('created')(v);
        if (typeof created !== 'boolean') throw new ContactWireError('malformed add answer: created is not a boolean');
        return { created, suppression: suppressionFromJson(field('suppression')(v)) };
      }),
    removeSuppression: (accountId, channel, recipient, { reason, source, by, detail }) =>
      revive(call('/suppressions/remove', { accountId, channel, recipient, change: { reason, source, by, detail } }), (v) => {
        const removed = field('removed')(v);
        if (typeof removed !== 'boolean') throw new ContactWireError('malformed remove answer: removed is not a boolean');
        return removed;
      }),
    listSuppressions: (accountId, { channel, limit, cursor }) => revive(call('/suppressions/list', { accountId, filter: { channel, limit, cursor } }), (v) => pageFromJson(v, suppressionFromJson, 'suppression')),
    suppressionChanges: (accountId, { channel, recipient, limit, cursor }) =>
      revive(call('/suppressions/changes', { accountId, filter: { channel, recipient, limit, cursor } }), (v) => pageFromJson(v, suppressionChangeFromJson, 'suppression change')),
    getContactPolicy: (accountId) =>
      revive(call('/policy/get', { accountId }), (v) => {
        const policy = field('policy')(v);
        return policy === null ? null : storedPolicyFromJson(policy);
      }),
    putContactPolicy: (accountId, policy, { expectedVersion }) => revive(call('/policy/set', { accountId, policy, expectedVersion }), storedPolicyFromJson),
  };
}
