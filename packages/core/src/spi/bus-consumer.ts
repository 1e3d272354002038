import { accountOfMessage, decideFailedDelivery, failureReason, type FailedDelivery } from '../intake/delivery-policy.js';
import type { BusDelivery, BusHandler } from '../ports/bus.js';
import type { Logger } from '../ports/logger.js';
import { BUS_HEADER, deadLetterHeaders, numberHeader, publisherHeaders, stringHeader, type DeadLetterHeaders } from './message-headers.js';
import { jsonTextNestsDeeperThan, MAX_BUS_MESSAGE_CHARS } from './json-text.js';
import { retryDelayFor } from './redelivery-delays.js';

/** What a transport does with a delivery once the handler returned or threw. */
export type HandlerOutcome = { action: 'handled' } | FailedDelivery;

/**
 * Runs the handler on one delivery and says what comes next: acknowledge it, redeliver it later, or
 * dead-letter it (the decision every bus shares, see `decideFailedDelivery`). Never throws.
 */
export async function runBusHandler(handler: BusHandler, body: unknown, delivery: BusDelivery, maxAttempts: number): Promise<HandlerOutcome> {
  try {
    await handler(body, delivery);
  } catch (error) {
    return decideFailedDelivery(error, delivery.attempt, maxAttempts);
  }
  return { action: 'handled' };
}

/** One message as a broker handed it over. */
export interface ConsumedMessage {
  /** The body as text (UTF-8). */
  text: string;
  /** Every header, the bus's and the broker's own included, as the client library decoded them. */
  headers: Readonly<Record<string, unknown>> | undefined;
}

/** How a transport writes the copies that settle a failed delivery; each resolves once the broker has the copy. */
export interface DeliverySettlement {
  /** Writes the copy that comes back as attempt `attempt` (the failed one + 1) after `delayMs`. */
  retry(redelivery: { attempt: number; delayMs: number; reason: string }): Promise<void>;
  /** Writes the dead-letter copy with these headers added to the original ones. */
  deadLetter(letter: { headers: DeadLetterHeaders; reason: string; attempts: number; accountId: string | undefined }): Promise<void>;
}

export interface BusConsumerPolicy {
  /** The consumer group the consumer belongs to; dead letters say which group gave up on them. */
  group: string;
  /** Deliveries of one message before it is dead-lettered. */
  maxAttempts: number;
  /** Redelivery delay after failed attempt n is `retryDelaysMs[n - 1]` (the last one repeats). */
  retryDelaysMs: readonly number[];
  logger: Logger;
  /** Header names that are the bus's or the broker's, kept from the handler. Default: `x-crm-*`. */
  reservedHeaders?: RegExp | undefined;
}

export type DeliveryOutcome = 'handled' | 'retried' | 'dead-lettered';

/**
 * The consumer steps every broker-backed bus shares, for one message: read the attempt from its
 * headers, parse the body (bytes that are not JSON are dead-lettered without calling the handler),
 * run the handler with the publisher's headers, then either nothing more, or a redelivery copy due
 * after the configured delay, or a dead-letter copy with the reason.
 *
 * Resolves once the message may be acknowledged (committed): handled, or its copy taken by the
 * broker. Rejects only when writing the copy failed; the message must then stay unacknowledged, so
 * the broker delivers it again.
 */
export async function consumeDelivery(
  message: ConsumedMessage,
  handler: BusHandler,
  settlement: DeliverySettlement,
  policy: BusConsumerPolicy,
): Promise<DeliveryOutcome> {
  const attempt = Math.max(1, numberHeader(message.headers, BUS_HEADER.attempt) ?? 1);

  const deadLetter = async (body: unknown, why: string): Promise<DeliveryOutcome> => {
    const accountId = accountOfMessage(body) ?? stringHeader(message.headers, BUS_HEADER.accountId);
    const reason = failureReason(why);
    await settlement.deadLetter({ headers: deadLetterHeaders({ reason, attempts: attempt, group: policy.group, accountId }), reason, attempts: attempt, accountId });
    policy.logger.warn({ accountId, attempts: attempt, reason }, 'event dead-lettered');
    return 'dead-lettered';
  };

  // Bounded before parsing: a tenant's oversized or deeply nested bytes cost one pass, not a parse
  // and then a RangeError in whatever recurses over the result.
  if (message.text.length > MAX_BUS_MESSAGE_CHARS) return deadLetter(undefined, `message is longer than ${MAX_BUS_MESSAGE_CHARS} characters`);
  if (jsonTextNestsDeeperThan(message.text)) return deadLetter(undefined, 'message nests JSON deeper than 64 levels');
  let body: unknown;
  try {
    body = JSON.parse(message.text) as unknown;
  } catch {
    return deadLetter(undefined, 'message is not valid JSON');
  }
  const outcome = await runBusHandler(handler, body, { attempt, headers: publisherHeaders(message.headers, policy.reservedHeaders) }, policy.maxAttempts);
  if (outcome.action === 'handled') return 'handled';
  if (outcome.action === 'dead-letter') return deadLetter(body, outcome.reason);
  const delayMs = retryDelayFor(policy, attempt);
  await settlement.retry({ attempt: attempt + 1, delayMs, reason: outcome.reason });
  policy.logger.debug({ accountId: accountOfMessage(body), attempt, retryInMs: delayMs, reason: outcome.reason }, 'event intake failed; redelivery scheduled');
  return 'retried';
}
