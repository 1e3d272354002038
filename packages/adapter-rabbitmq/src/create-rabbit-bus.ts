import { randomUUID } from 'node:crypto';
import type { AutomationEvent, BusHandler, BusStats, BusSubscription, EventBus, SubscribeOptions } from '@crm-automation/core';
import { BUS_HEADER, failureReason, remainingMs, withDeadline } from '@crm-automation/core/spi';
import { isRabbitBusError, RabbitBusError } from './bus-error.js';
import { ConfirmedChannel } from './confirm-channel.js';
import { RabbitConnection, sleep } from './connection.js';
import { createRabbitDeadLetters, type RabbitDeadLetterQueue } from './dead-letters.js';
import { readQueueStats } from './queue-stats.js';
import { GroupConsumer } from './group-consumer.js';
import { resolveRabbitOptions, type RabbitBusOptions } from './options.js';
import { declareExchange, declareGroup, groupQueues } from './topology.js';

/** The engine's default intake group, subscribed when no group is given. */
const DEFAULT_GROUP = 'automation-intake';

export interface RabbitBus extends EventBus {
  readonly deadLetters: RabbitDeadLetterQueue;
  /** Publishes raw bytes with an event name as routing key, as a foreign producer would (tests, tooling). */
  publishRaw(routingKey: string, content: Buffer | string, headers?: Record<string, string> | undefined): Promise<void>;
  /** True while the bus has a live connection to the broker. */
  readonly connected: boolean;
  /**
   * Ready messages and consumers of each known group's queue (the `groups` option and the groups
   * subscribed through this bus; backlog `name` is the queue name), and the messages in their
   * dead-letter queues. Rejects when the broker cannot be reached within `publishTimeoutMs`.
   */
  stats(): Promise<BusStats>;
}

/**
 * An event bus on RabbitMQ: events go to a durable topic exchange (routing key = event name) with
 * publisher confirms; each consumer group has a durable queue (quorum by default) that its consumers
 * share; a failed delivery waits in a TTL retry queue and comes back, and after `maxAttempts`, or at
 * once when the handler says it is not retryable, goes to the group's dead-letter queue with the
 * reason. The connection is re-opened with backoff and the topology re-declared when it drops.
 *
 * @example
 * const bus = createRabbitBus({ url: process.env.RABBITMQ_URL, groups: ['automation-intake'] });
 * const engine = createAutomationEngine({ store, bus });
 * await engine.start();
 */
export function createRabbitBus(options: RabbitBusOptions): RabbitBus {
  const resolved = resolveRabbitOptions(options);
  const { logger } = resolved;
  const connection = new RabbitConnection({ url: options.url, connection: options.connection }, resolved);
  const consumers = new Set<GroupConsumer>();
  const knownGroups = new Set<string>(resolved.groups);
  let publisher: ConfirmedChannel | undefined;
  let openingPublisher: Promise<ConfirmedChannel> | undefined;
  let closed = false;

  const closedError = () => new RabbitBusError('CRM_ERR_BUS_CLOSED', 'the RabbitMQ bus is closed');

  /** The publishing channel on the current connection; declares the exchange and configured groups. */
  const publisherChannel = async (deadline: number): Promise<ConfirmedChannel> => {
    const model = await connection.ready(deadline);
    if (publisher?.open && publisher.model === model) return publisher;
    openingPublisher ??= (async () => {
      const channel = await ConfirmedChannel.create(model, logger, 'publisher');
      try {
        await declareExchange(channel.channel, resolved);
        for (const group of resolved.groups) await declareGroup(channel.channel, resolved, groupQueues(resolved, group));
      } catch (error) {
        await channel.close();
        throw error;
      }
      publisher = channel;
      return channel;
    })().finally(() => {
      openingPublisher = undefined;
    });
    return withDeadline(openingPublisher, deadline, 'the RabbitMQ publisher channel');
  };

  /**
   * Publishes until the broker confirms, through reconnects, until the timeout: a publish never
   * resolves without a confirm. A confirm lost with its channel means the message may be stored
   * anyway, so a retry can duplicate it; consumers dedupe by event id.
   */
  const confirmPublish = async (routingKey: string, content: Buffer, headers: Record<string, unknown>, type: string | undefined) => {
    if (closed) throw closedError();
    const deadline = Date.now() + resolved.publishTimeoutMs;
    let delay = 50;
    let lastError: unknown;
    for (;;) {
      if (closed) throw closedError();
      if (remainingMs(deadline) <= 0) {
        throw new RabbitBusError('CRM_ERR_BUS_PUBLISH', `RabbitMQ did not confirm the event within ${resolved.publishTimeoutMs} ms: ${lastError === undefined ? 'no connection' : failureReason(lastError)}`, { cause: lastError });
      }
      try {
        const channel = await publisherChannel(deadline);
        await withDeadline(
          channel.publish(resolved.exchange, routingKey, content, {
            persistent: true,
            mandatory: resolved.mandatory,
            contentType: 'application/json',
            messageId: randomUUID(),
            timestamp: Math.floor(Date.now() / 1000),
            ...(type === undefined ? {} : { type }),
            headers,
          }),
          deadline,
          'the RabbitMQ publisher confirm',
        );
        return;
      } catch (error) {
        if (isRabbitBusError(error) && error.code !== 'CRM_ERR_BUS_PUBLISH') throw error;
        lastError = error;
        await sleep(Math.min(delay, Math.max(0, remainingMs(deadline))));
        delay = Math.min(delay * 2, 1_000);
      }
    }
  };

  // Declare the topology (and the configured groups' queues) as soon as the broker is reachable.
  void publisherChannel(Date.now() + resolved.publishTimeoutMs).catch((error: unknown) => {
    if (!closed) logger.warn({ error: failureReason(error) }, 'RabbitMQ topology not declared yet; will retry on first publish');
  });

  const bus: RabbitBus = {
    get connected() {
      return connection.isOpen;
    },

    async publish(event: AutomationEvent, publishOptions) {
      const headers: Record<string, unknown> = { ...publishOptions?.headers, [BUS_HEADER.attempt]: 1 };
      if (typeof event.accountId === 'string') headers[BUS_HEADER.accountId] = event.accountId;
      await confirmPublish(event.name, Buffer.from(JSON.stringify(event)), headers, event.name);
    },

    async publishRaw(routingKey, content, headers = {}) {
      await confirmPublish(routingKey, Buffer.isBuffer(content) ? content : Buffer.from(content), { ...headers, [BUS_HEADER.attempt]: 1 }, undefined);
    },

    async subscribe(handler: BusHandler, subscribeOptions: SubscribeOptions = {}): Promise<BusSubscription> {
      if (closed) throw closedError();
      const group = subscribeOptions.group ?? DEFAULT_GROUP;
      knownGroups.add(group);
      const consumer: GroupConsumer = new GroupConsumer(connection, resolved, group, handler, () => consumers.delete(consumer));
      consumers.add(consumer);
      try {
        await consumer.start(resolved.publishTimeoutMs);
      } catch (error) {
        consumers.delete(consumer);
        throw error;
      }
      logger.info({ group, queue: groupQueues(resolved, group).main }, 'RabbitMQ consumer started');
      return consumer;
    },

    deadLetters: createRabbitDeadLetters(connection, resolved, () => knownGroups),

    async stats() {
      if (closed) throw closedError();
      return readQueueStats(connection, resolved, () => knownGroups);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...consumers].map((c) => c.stop()));
      await publisher?.close();
      await connection.close();
    },
  };
  return bus;
}
