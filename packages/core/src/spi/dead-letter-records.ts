import type { DeadLetter } from '../ports/bus.js';
import { jsonTextNestsDeeperThan } from './json-text.js';
import { BUS_HEADER, numberHeader, stringHeader } from './message-headers.js';

/** Dead letters `deadLetters.list()` returns when the filter gives no limit. */
export const DEFAULT_DEAD_LETTER_LIST_LIMIT = 1_000;

/**
 * A dead letter as `deadLetters.list()` shows it, from the bytes and headers it was stored with:
 * the body parsed when it is JSON nested at most 64 levels (the raw text otherwise, as it arrived), and the reason, attempts,
 * time and account from the bus's headers. `id` and the time to show when the headers lack one come
 * from the broker (message id, offset, broker timestamp).
 */
export function readDeadLetter(text: string, headers: Readonly<Record<string, unknown>> | undefined, broker: { id: string; deadAt: Date }): DeadLetter {
  let body: unknown = text;
  // Text nested too deep stays text: parsed, it could not be written out again (JSON.stringify throws).
  if (!jsonTextNestsDeeperThan(text)) {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // kept as the raw text it arrived as
    }
  }
  const deadAt = stringHeader(headers, BUS_HEADER.deadAt);
  return {
    id: broker.id,
    message: body,
    reason: stringHeader(headers, BUS_HEADER.reason) ?? 'unknown',
    attempts: numberHeader(headers, BUS_HEADER.attempts) ?? 1,
    deadAt: deadAt ? new Date(deadAt) : broker.deadAt,
    accountId: stringHeader(headers, BUS_HEADER.accountId),
  };
}
