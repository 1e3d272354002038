import type { Channel } from 'amqplib';
import type { ResolvedRabbitOptions } from './options.js';

/** Queue names of one consumer group. */
export interface GroupQueues {
  group: string;
  /** Where the group consumes from; bound to the exchange. */
  main: string;
  /** Dead letters of this group, with the reason in headers. */
  deadLetter: string;
  /** Retry queue of a delay tier: messages wait out its TTL, then dead-letter back to `main`. */
  retry(delayMs: number): string;
}

export function groupQueues(options: ResolvedRabbitOptions, group: string): GroupQueues {
  const main = `${options.queuePrefix}.${group}`;
  return {
    group,
    main,
    deadLetter: `${main}.dead-letter`,
    retry: (delayMs) => `${main}.retry.${delayMs}ms`,
  };
}

function queueArguments(options: ResolvedRabbitOptions): Record<string, unknown> {
  return { 'x-queue-type': options.queueType };
}

export async function declareExchange(channel: Channel, options: ResolvedRabbitOptions): Promise<void> {
  await channel.assertExchange(options.exchange, 'topic', { durable: true });
}

/**
 * Declares a group's queues (idempotent, so every (re)connect runs it): the main queue bound to the
 * exchange, one retry queue per delay tier, and the dead-letter queue.
 *
 * Retries use TTL + dead-letter exchange rather than the delayed-message plugin, which stock
 * RabbitMQ (Debian's 3.10) does not ship: a message waits in the tier's queue for its TTL, then the
 * broker dead-letters it through the default exchange straight back to the group's main queue.
 * One queue per tier keeps every message in a queue at the same TTL, so none waits behind a longer one.
 */
export async function declareGroup(channel: Channel, options: ResolvedRabbitOptions, queues: GroupQueues): Promise<void> {
  await declareExchange(channel, options);
  await channel.assertQueue(queues.main, { durable: true, arguments: queueArguments(options) });
  for (const key of options.bindingKeys) await channel.bindQueue(queues.main, options.exchange, key);
  for (const delayMs of new Set(options.retryDelaysMs)) {
    const deadLettering: Record<string, unknown> = {
      'x-message-ttl': delayMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queues.main,
    };
    // Quorum queues dead-letter at most once unless told otherwise; a retry must not vanish.
    if (options.queueType === 'quorum') Object.assign(deadLettering, { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' });
    await channel.assertQueue(queues.retry(delayMs), { durable: true, arguments: { ...queueArguments(options), ...deadLettering } });
  }
  // Classic on purpose: listing dead letters browses them with get + requeue, which on a quorum
  // queue counts as a delivery and, where a delivery limit applies, would eventually drop them.
  await channel.assertQueue(queues.deadLetter, { durable: true, arguments: { 'x-queue-type': 'classic' } });
}
