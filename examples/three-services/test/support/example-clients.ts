import type { ReceivedLog } from '../../src/provider-stand-ins/received-log.js';
import type { ReceivedReply } from '../../src/provider-stand-ins/twilio-replies.js';

/** What the provider stand-ins received. */
export async function received(standInsUrl: string): Promise<ReceivedLog> {
  const response = await fetch(`${standInsUrl}/received`);
  if (!response.ok) throw new Error(`stand-ins answered ${response.status}`);
  return (await response.json()) as ReceivedLog;
}

export async function setStandInBehaviour(standInsUrl: string, behaviour: { smsDelayMs?: number; smsFailures?: number; smsReceipts?: string[]; emailReceipts?: string[] }): Promise<void> {
  const response = await fetch(`${standInsUrl}/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(behaviour) });
  if (!response.ok) throw new Error(`stand-ins answered ${response.status}`);
}

/** A person texts one of the example's numbers back, through the Twilio stand-in (`POST /twilio/replies`). */
export async function replyBySms(standInsUrl: string, text: { from: string; body: string; to?: string; webhook?: boolean }): Promise<ReceivedReply> {
  const response = await fetch(`${standInsUrl}/twilio/replies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(text) });
  if (!response.ok) throw new Error(`stand-ins answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as ReceivedReply;
}

/** A Rules API call with the dev key; throws on a non-2xx answer. */
export async function rulesApi<T>(rulesUrl: string, apiKey: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${rulesUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface TriggerView {
  id: string;
  ruleId: string;
  status: string;
  attempt: number;
  evaluateAt: string;
  /** Keyed rules: the job the run is about. */
  entityKey?: string;
  triggeringEvent: { id: string; timestamp: string; payload: { job?: { number?: string } } };
  executionHistory: Array<{
    outcome: string;
    reason?: string;
    error?: { code?: string; retryable?: boolean };
    /** Superseded or stale: the other run of the entity. */
    triggerId?: string;
    /** A condition on a fact read at fire time carries the event's value next to the current one. */
    conditions?: Array<{ fact: string; factPath?: string; factResult?: unknown; eventValue?: unknown; result: boolean }>;
    actions?: Array<{ index: number; type: string; status: string; reason?: string; error?: { code?: string; providerCode?: unknown } }>;
  }>;
}

/** The runs of one rule for one entity (`GET /triggers?ruleId=&entityKey=`), newest first. */
export async function triggersOfEntity(rulesUrl: string, apiKey: string, ruleId: string, entityKey: string): Promise<TriggerView[]> {
  const page = await rulesApi<{ items: TriggerView[] }>(rulesUrl, apiKey, 'GET', `/triggers?ruleId=${ruleId}&entityKey=${encodeURIComponent(entityKey)}&limit=100`);
  return page.items;
}

/** Every trigger of a rule (newest first), through the Rules API. */
export async function triggersOf(rulesUrl: string, apiKey: string, ruleId: string): Promise<TriggerView[]> {
  const items: TriggerView[] = [];
  let cursor: string | undefined;
  do {
    const page = await rulesApi<{ items: TriggerView[]; nextCursor?: string }>(rulesUrl, apiKey, 'GET', `/triggers?ruleId=${ruleId}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

export interface DeliveryView {
  id: string;
  triggerId: string;
  type: string;
  provider: string;
  providerId?: string;
  state: string;
  events: Array<{ state: string; source: string; detail?: string }>;
}
