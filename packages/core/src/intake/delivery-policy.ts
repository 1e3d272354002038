/**
 * What a bus does with a message whose handler failed, the same for every transport (memory,
 * RabbitMQ, Kafka): a non-retryable error (a malformed event) is dead-lettered at once; any other
 * error is redelivered with backoff until `maxAttempts`, then dead-lettered with the last reason.
 * Transports own the mechanics (TTL queues, retry topics, timers); this owns the decision.
 */
export type FailedDelivery =
  | { action: 'dead-letter'; reason: string }
  | { action: 'retry'; reason: string };

/** The reason of a thrown value, as it goes into a dead letter, clipped to fit a broker header. */
export function failureReason(error: unknown): string {
  const reason = error instanceof Error ? error.message || error.name : String(error);
  return reason.length > 1_000 ? `${reason.slice(0, 997)}...` : reason;
}

export function decideFailedDelivery(error: unknown, attempt: number, maxAttempts: number): FailedDelivery {
  const reason = failureReason(error);
  if ((error as { retryable?: unknown } | null)?.retryable === false) return { action: 'dead-letter', reason };
  if (attempt >= maxAttempts) return { action: 'dead-letter', reason: failureReason(`gave up after ${attempt} attempts: ${reason}`) };
  return { action: 'retry', reason };
}

/** The account of a consumed message, for dead-letter filters and logs; undefined when it has none. */
export function accountOfMessage(body: unknown): string | undefined {
  const id = typeof body === 'object' && body !== null ? (body as { accountId?: unknown }).accountId : undefined;
  return typeof id === 'string' ? id : undefined;
}
