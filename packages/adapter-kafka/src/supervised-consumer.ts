import type { Logger } from '@crm-automation/core';
import { failureReason, withDeadline } from '@crm-automation/core/spi';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { KafkaBusError } from './bus-error.js';

export interface SupervisedConsumerOptions {
  config: ConsumerConfig;
  topic: string;
  partitionsConsumedConcurrently: number;
  eachBatch: (payload: EachBatchPayload) => Promise<void>;
  logger: Logger;
}

/**
 * A kafkajs consumer that stays up: kafkajs restarts itself after retriable failures, but gives up
 * for good on some (a `KafkaJSNumberOfRetriesExceeded` whose cause it deems final, e.g. a broker
 * that stayed away through every retry); then this replaces it with a new one, with backoff. Offsets
 * are committed by the batch handler, never automatically, so a replacement resumes at the last
 * offset handled and committed.
 */
export class SupervisedConsumer {
  private consumer: Consumer | undefined;
  private active = true;
  private restarts = 0;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: SupervisedConsumerOptions,
  ) {}

  /** Connects, joins the group and starts consuming; resolves on the first group join. */
  async start(timeoutMs: number): Promise<void> {
    const consumer = this.kafka.consumer(this.options.config);
    this.consumer = consumer;
    let onJoin: () => void = () => {};
    const joined = new Promise<void>((resolve) => {
      onJoin = resolve;
    });
    const removeJoin = consumer.on(consumer.events.GROUP_JOIN, () => onJoin());
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      if (!this.active || this.consumer !== consumer) return;
      this.options.logger.warn({ error: failureReason(error), groupId: this.options.config.groupId, restart }, 'Kafka consumer crashed');
      if (!restart) this.replace(consumer);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        eachBatch: this.options.eachBatch,
      });
      await withDeadline(
        joined,
        Date.now() + timeoutMs,
        () => new KafkaBusError('CRM_ERR_BUS_SUBSCRIBE', `consumer group ${this.options.config.groupId} did not join within ${timeoutMs} ms`),
      );
    } catch (error) {
      await consumer.disconnect().catch(() => {});
      throw error;
    } finally {
      removeJoin();
    }
  }

  private replace(crashed: Consumer): void {
    if (!this.active || this.restartTimer) return;
    this.restarts += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts - 1, 6));
    this.restartTimer = setTimeout(() => {
      void (async () => {
        await crashed.disconnect().catch(() => {});
        this.restartTimer = undefined;
        if (!this.active) return;
        try {
          await this.start(60_000);
          this.options.logger.info({ groupId: this.options.config.groupId }, 'Kafka consumer replaced after a crash');
          this.restarts = 0;
        } catch (error) {
          this.options.logger.error({ error: failureReason(error), groupId: this.options.config.groupId }, 'Kafka consumer could not be replaced; retrying');
          this.replace(this.consumer ?? crashed);
        }
      })();
    }, delay);
  }

  /** Graceful: kafkajs lets the running batch handler return (it checks `isRunning()`), then leaves the group. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.consumer?.disconnect().catch(() => {});
  }
}
