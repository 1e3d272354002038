import type { DeadLetter, DeadLetterFilter, DeadLetterQueue } from '@crm-automation/core';
import { BUS_HEADER, DEFAULT_DEAD_LETTER_LIST_LIMIT, readDeadLetter } from '@crm-automation/core/spi';
import type { GetMessage } from 'amqplib';
import { ConfirmedChannel } from './confirm-channel.js';
import type { RabbitConnection } from './connection.js';
import { copyProperties } from './group-consumer.js';
import type { ResolvedRabbitOptions } from './options.js';
import { groupQueues } from './topology.js';

/** A dead-letter filter that can also name the consumer group whose dead-letter queue to read. */
export interface RabbitDeadLetterFilter extends DeadLetterFilter {
  /** Only this group's dead-letter queue. Default: every group this bus knows (`groups` option and subscriptions). */
  group?: string | undefined;
}

/** A dead letter of the RabbitMQ bus: which group gave up on it. */
export interface RabbitDeadLetter extends DeadLetter {
  group: string;
}

export interface RabbitDeadLetterQueue extends DeadLetterQueue {
  list(filter?: RabbitDeadLetterFilter): Promise<RabbitDeadLetter[]>;
  replay(filter?: RabbitDeadLetterFilter & { dryRun?: boolean | undefined }): Promise<number>;
}

function toDeadLetter(message: GetMessage, group: string): RabbitDeadLetter {
  const messageId = (message.properties as { messageId?: string }).messageId;
  const letter = readDeadLetter(message.content.toString('utf8'), message.properties.headers as Record<string, unknown> | undefined, {
    id: messageId ?? `${group}:${message.fields.deliveryTag}`,
    deadAt: new Date(0),
  });
  return { ...letter, group };
}

/**
 * Browses and replays the per-group dead-letter queues. Browsing takes each message with `basic.get`
 * and returns them all when the channel closes, so it leaves the queue as it found it. These are
 * admin operations: two of them at once on one queue see part of it each.
 */
export function createRabbitDeadLetters(
  connection: RabbitConnection,
  options: ResolvedRabbitOptions,
  knownGroups: () => Iterable<string>,
): RabbitDeadLetterQueue {
  const groupsFor = (filter: RabbitDeadLetterFilter) => (filter.group !== undefined ? [filter.group] : [...new Set(knownGroups())].sort());
  const matches = (letter: RabbitDeadLetter, filter: RabbitDeadLetterFilter) => filter.accountId === undefined || letter.accountId === filter.accountId;

  const withChannel = async <T>(work: (channel: ConfirmedChannel) => Promise<T>): Promise<T> => {
    const model = await connection.ready(Date.now() + options.publishTimeoutMs);
    const channel = await ConfirmedChannel.create(model, options.logger, 'dead-letter admin');
    try {
      return await work(channel);
    } finally {
      // Closing returns every message taken and not acked (browsed, dry-run, filtered out) to its queue.
      await channel.close();
    }
  };

  return {
    async list(filter = {}) {
      const limit = filter.limit ?? DEFAULT_DEAD_LETTER_LIST_LIMIT;
      return withChannel(async ({ channel }) => {
        const letters: RabbitDeadLetter[] = [];
        for (const group of groupsFor(filter)) {
          const queue = groupQueues(options, group).deadLetter;
          await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
          while (letters.length < limit) {
            const message = await channel.get(queue, { noAck: false });
            if (message === false) break;
            const letter = toDeadLetter(message, group);
            if (matches(letter, filter)) letters.push(letter);
          }
        }
        return letters;
      });
    },

    async replay(filter = {}) {
      const limit = filter.limit ?? Number.POSITIVE_INFINITY;
      return withChannel(async (confirmed) => {
        const { channel } = confirmed;
        let moved = 0;
        for (const group of groupsFor(filter)) {
          const queues = groupQueues(options, group);
          await channel.assertQueue(queues.deadLetter, { durable: true, arguments: { 'x-queue-type': 'classic' } });
          while (moved < limit) {
            const message = await channel.get(queues.deadLetter, { noAck: false });
            if (message === false) break;
            const letter = toDeadLetter(message, group);
            if (!matches(letter, filter)) continue;
            moved += 1;
            if (filter.dryRun) continue;
            const headers: Record<string, unknown> = {};
            for (const [key, value] of Object.entries((message.properties.headers as Record<string, unknown> | undefined) ?? {})) {
              if (key !== BUS_HEADER.reason && key !== BUS_HEADER.attempts && key !== BUS_HEADER.deadAt && key !== BUS_HEADER.group) headers[key] = value;
            }
            headers[BUS_HEADER.attempt] = 1;
            // Back to this group's queue only: the other groups handled the event already.
            await confirmed.publish('', queues.main, message.content, { ...copyProperties(message, headers), mandatory: true });
            channel.ack(message);
          }
        }
        if (!filter.dryRun && moved > 0) options.logger.info({ moved, accountId: filter.accountId }, 'dead letters replayed');
        return moved;
      });
    },
  };
}
