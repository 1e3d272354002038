import type { BusStats } from '@crm-automation/core';
import type { Channel, ChannelModel } from 'amqplib';
import type { RabbitConnection } from './connection.js';
import type { ResolvedRabbitOptions } from './options.js';
import { groupQueues } from './topology.js';

/** 404 NOT_FOUND: the queue was never declared (a group nobody consumed yet). */
function isMissingQueue(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 404;
}

/**
 * Backlog figures of the groups this bus knows, read with passive `queue.declare` (`checkQueue`),
 * which counts the messages ready for delivery (not the ones delivered and waiting for an ack) and
 * the consumers attached. A queue that does not exist counts as empty; the broker closes a channel
 * on such a check, so each miss costs a fresh channel.
 */
export async function readQueueStats(
  connection: RabbitConnection,
  options: ResolvedRabbitOptions,
  knownGroups: () => Iterable<string>,
): Promise<BusStats> {
  const model: ChannelModel = await connection.ready(Date.now() + options.publishTimeoutMs);
  let channel: Channel | undefined;
  const check = async (queue: string): Promise<{ messageCount: number; consumerCount: number } | undefined> => {
    if (!channel) {
      channel = await model.createChannel();
      // A missing queue closes the channel with an error event; without a listener it would be thrown.
      channel.on('error', () => {});
    }
    try {
      return await channel.checkQueue(queue);
    } catch (error) {
      channel = undefined;
      if (isMissingQueue(error)) return undefined;
      throw error;
    }
  };
  try {
    const stats: BusStats = { backlog: [], deadLetters: 0 };
    for (const group of [...new Set(knownGroups())].sort()) {
      const queues = groupQueues(options, group);
      const main = await check(queues.main);
      stats.backlog.push({ name: queues.main, messages: main?.messageCount ?? 0, consumers: main?.consumerCount ?? 0 });
      stats.deadLetters += (await check(queues.deadLetter))?.messageCount ?? 0;
    }
    return stats;
  } finally {
    await (channel as Channel | undefined)?.close().catch(() => {});
  }
}
