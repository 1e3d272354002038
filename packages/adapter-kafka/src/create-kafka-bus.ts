import { randomUUID } from 'node:crypto';
import type { AutomationEvent, BusHandler, BusStats, BusSubscription, EventBus, SubscribeOptions } from '@crm-automation/core';
import { withDeadline } from '@crm-automation/core/spi';
import { Kafka, logLevel } from 'kafkajs';
import { BatchingProducer } from './batching-producer.js';
import { KafkaBusError } from './bus-error.js';
import { createKafkaDeadLetters, type KafkaDeadLetterQueue } from './dead-letters.js';
import { readGroupLag } from './group-lag.js';
import { KafkaGroupSubscription } from './group-subscription.js';
import { kafkaLogCreator } from './kafka-logger.js';
import { HEADER } from './message-headers.js';
import { resolveKafkaOptions, type KafkaBusOptions } from './options.js';
import { ensureTopics } from './topics.js';

export interface KafkaBus extends EventBus {
  readonly deadLetters: KafkaDeadLetterQueue;
  /** Publishes raw bytes to the event topic, as a foreign producer would (tests, tooling). */
  publishRaw(value: Buffer | string, options?: { key?: string | undefined; headers?: Record<string, string> | undefined }): Promise<void>;
  /** The topic names in use. */
  readonly topics: { readonly events: string; readonly retry: string; readonly deadLetter: string };
  /**
   * Consumer-group lag on the event topic per partition (backlog `name` is
   * `<group>:<topic>/<partition>`) for the groups subscribed through this bus, or the default
   * `groupId` when there are none, and the dead letters not replayed yet.
   */
  stats(): Promise<BusStats>;
}

/**
 * An event bus on Kafka: events go to one topic keyed by accountId (so each account's events stay
 * in order) through an idempotent producer with acks=all; each consumer group reads it with offsets
 * committed only after the handler finished; failures go through a retry topic (delayed by pausing
 * the partition until the message is due) and, after `maxAttempts` or at once when not retryable,
 * to a dead-letter topic with the reason in headers. Topics are created up front.
 *
 * @example
 * const bus = createKafkaBus({ brokers: process.env.KAFKA_BROKERS });
 * const engine = createAutomationEngine({ store, bus });
 * await engine.start();
 */
export function createKafkaBus(options: KafkaBusOptions): KafkaBus {
  const resolved = resolveKafkaOptions(options);
  const { logger } = resolved;
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',').map((b) => b.trim()).filter(Boolean) : [...(options.brokers ?? [])];
  const kafka =
    options.kafka ??
    new Kafka({
      clientId: resolved.clientId,
      brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(logger),
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 },
    });
  const producer = new BatchingProducer(kafka, { maxBatchSize: resolved.maxBatchSize, logger });
  const subscriptions = new Set<KafkaGroupSubscription>();
  const subscribedGroups = new Set<string>();
  let topicsReady: Promise<void> | undefined;
  let closed = false;

  const ready = (): Promise<void> => {
    topicsReady ??= ensureTopics(kafka, resolved).catch((error: unknown) => {
      topicsReady = undefined;
      throw error;
    });
    return topicsReady;
  };

  const closedError = () => new KafkaBusError('CRM_ERR_BUS_CLOSED', 'the Kafka bus is closed');

  const produce = async (value: Buffer | string, key: string | undefined, headers: Record<string, string>) => {
    if (closed) throw closedError();
    const deadline = Date.now() + resolved.publishTimeoutMs;
    try {
      await withDeadline(ready(), deadline, 'the Kafka topics');
    } catch (error) {
      throw new KafkaBusError('CRM_ERR_BUS_PUBLISH', `Kafka topics could not be created: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    await producer.send(resolved.topic, { key: key ?? null, value, headers }, deadline);
  };

  const bus: KafkaBus = {
    topics: { events: resolved.topic, retry: resolved.retryTopic, deadLetter: resolved.deadLetterTopic },

    async publish(event: AutomationEvent, publishOptions) {
      const headers: Record<string, string> = { ...publishOptions?.headers, [HEADER.attempt]: '1', [HEADER.messageId]: randomUUID() };
      if (typeof event.accountId === 'string') headers[HEADER.accountId] = event.accountId;
      await produce(JSON.stringify(event), typeof event.accountId === 'string' ? event.accountId : undefined, headers);
    },

    async publishRaw(value, rawOptions = {}) {
      await produce(value, rawOptions.key, { ...rawOptions.headers, [HEADER.attempt]: '1' });
    },

    async subscribe(handler: BusHandler, subscribeOptions: SubscribeOptions = {}): Promise<BusSubscription> {
      if (closed) throw closedError();
      try {
        await withDeadline(ready(), Date.now() + resolved.publishTimeoutMs, 'the Kafka topics');
      } catch (error) {
        throw new KafkaBusError('CRM_ERR_BUS_SUBSCRIBE', `Kafka topics could not be created: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      const group = subscribeOptions.group ?? resolved.groupId;
      subscribedGroups.add(group);
      const subscription: KafkaGroupSubscription = new KafkaGroupSubscription(kafka, producer, resolved, group, handler, () => subscriptions.delete(subscription));
      subscriptions.add(subscription);
      try {
        await subscription.start();
      } catch (error) {
        subscriptions.delete(subscription);
        throw error;
      }
      logger.info({ group, topic: resolved.topic }, 'Kafka consumer started');
      return subscription;
    },

    deadLetters: createKafkaDeadLetters(kafka, producer, resolved, ready),

    async stats() {
      if (closed) throw closedError();
      await withDeadline(ready(), Date.now() + resolved.publishTimeoutMs, 'the Kafka topics');
      const groups = subscribedGroups.size > 0 ? [...subscribedGroups].sort() : [resolved.groupId];
      return readGroupLag(kafka, resolved, groups);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...subscriptions].map((s) => s.stop()));
      await producer.close();
    },
  };
  return bus;
}
