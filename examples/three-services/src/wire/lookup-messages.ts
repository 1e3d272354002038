import type { AutomationEvent, NormalizedEvent, Rule } from '@crm-automation/core';
import { z } from 'zod';
import { ruleFromJson, ruleToJson } from './rule-json.js';
import { LookupMessageError } from '../service-errors.js';

export { LookupMessageError };

/**
 * The messages of the pub/sub rule lookup (the design doc's Option 3), as bus events:
 * - `rule_lookup_requested` (trigger service → rules service): the original CRM event;
 * - `rules_found` (rules service → trigger service): the enabled rules for that event's account and
 *   name, and the original event, so the trigger service can store its triggers without a call;
 * - `rule_changed` (rules service → trigger service): a rule as it is now, or null once deleted,
 *   which keeps the trigger service's replica current for the re-read at fire time.
 */
export const LOOKUP_MESSAGES = {
  requested: 'rule_lookup_requested',
  found: 'rules_found',
  changed: 'rule_changed',
} as const;

/** The original event as it travels inside lookup messages: normalized, timestamp as ISO text. */
export interface WireEvent {
  id: string;
  name: string;
  accountId: string;
  timestamp: string;
  payload: Record<string, unknown>;
}

const wireEvent = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  accountId: z.string().min(1),
  timestamp: z.string().min(1),
  payload: z.record(z.string(), z.unknown()),
});

export function toWireEvent(event: NormalizedEvent): WireEvent {
  return { id: event.id, name: event.name, accountId: event.accountId, timestamp: event.timestamp.toISOString(), payload: event.payload };
}

// The message id derives from the event id, so a redelivered request is recognisably the same one.
export function lookupRequest(event: NormalizedEvent): AutomationEvent {
  return { name: LOOKUP_MESSAGES.requested, accountId: event.accountId, id: `lookup:${event.id}`, payload: { event: toWireEvent(event) } };
}

export function rulesFound(event: WireEvent, rules: readonly Rule[]): AutomationEvent {
  return { name: LOOKUP_MESSAGES.found, accountId: event.accountId, id: `found:${event.id}`, payload: { event, rules: rules.map(ruleToJson) } };
}

export function ruleChanged(accountId: string, ruleId: string, rule: Rule | null): AutomationEvent {
  return { name: LOOKUP_MESSAGES.changed, accountId, payload: { ruleId, rule: rule ? ruleToJson(rule) : null } };
}

const envelope = z.object({ name: z.string(), accountId: z.string().min(1), payload: z.record(z.string(), z.unknown()) });

export type LookupMessage =
  | { kind: 'requested'; event: WireEvent }
  | { kind: 'found'; event: WireEvent; rules: Rule[] }
  | { kind: 'changed'; accountId: string; ruleId: string; rule: Rule | null };

/** Parses any message of the lookup streams; throws {@link LookupMessageError} when malformed. */
export function parseLookupMessage(message: unknown): LookupMessage {
  const outer = envelope.safeParse(message);
  if (!outer.success) throw new LookupMessageError('not a lookup message: expected { name, accountId, payload }');
  const { name, accountId, payload } = outer.data;
  try {
    switch (name) {
      case LOOKUP_MESSAGES.requested:
        return { kind: 'requested', event: wireEvent.parse(payload['event']) };
      case LOOKUP_MESSAGES.found: {
        const event = wireEvent.parse(payload['event']);
        const rules = z.array(z.unknown()).parse(payload['rules']).map(ruleFromJson);
        if (rules.some((r) => r.accountId !== event.accountId)) throw new LookupMessageError('rules_found carries another account’s rule');
        return { kind: 'found', event, rules };
      }
      case LOOKUP_MESSAGES.changed: {
        const ruleId = z.string().min(1).parse(payload['ruleId']);
        const rule = payload['rule'] === null ? null : ruleFromJson(payload['rule']);
        if (rule && (rule.id !== ruleId || rule.accountId !== accountId)) throw new LookupMessageError('rule_changed: rule id or account does not match the message');
        return { kind: 'changed', accountId, ruleId, rule };
      }
      default:
        throw new LookupMessageError(`unknown lookup message ${JSON.stringify(name)}`);
    }
  } catch (error) {
    if (error instanceof LookupMessageError) throw error;
    throw new LookupMessageError(`malformed ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
