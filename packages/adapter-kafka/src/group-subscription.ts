import type { BusHandler, BusSubscription, Logger } from '@crm-automation/core';
import { consumeDelivery, failureReason, numberHeader, type BusConsumerPolicy } from '@crm-automation/core/spi';
import type { ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { BatchingProducer } from './batching-producer.js';
import { decodeHeaders, HEADER } from './message-headers.js';
import type { ResolvedKafkaOptions } from './options.js';
import { SupervisedConsumer } from './supervised-consumer.js';

/** Retries due sooner than this are waited out in place; later ones pause their partition. */
const SHORT_WAIT_MS = 200;

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Consumer group of the retry topic for a group: each group waits out its own retries. */
export function retryGroupOf(group: string): string {
  return `${group}.retry`;
}

/**
 * One subscription of a consumer group: a consumer of the event topic (group `group`) and one of the
 * retry topic (group `<group>.retry`). Every partition is handled in order, one message at a time,
 * and an offset is committed only once its message was handled or its retry / dead-letter copy was
 * acknowledged by Kafka, so a consumer that dies before that has it redelivered to the group.
 *
 * A failed message is copied to the retry topic with a due time; the retry consumer pauses the
 * partition until then (rather than sleeping, which would stop heartbeats) and hands it to the
 * handler again. After `maxAttempts`, or at once when the handler says it is not retryable, the
 * copy goes to the dead-letter topic with the reason instead.
 */
export class KafkaGroupSubscription implements BusSubscription {
  private readonly main: SupervisedConsumer;
  private readonly retries: SupervisedConsumer;
  private readonly pauses = new Set<ReturnType<typeof setTimeout>>();
  private readonly logger: Logger;
  private readonly policy: BusConsumerPolicy;
  private stopping: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly producer: BatchingProducer,
    private readonly options: ResolvedKafkaOptions,
    private readonly group: string,
    private readonly handler: BusHandler,
    private readonly onStopped: () => void,
  ) {
    this.logger = options.logger.child({ group });
    this.policy = { group, maxAttempts: options.maxAttempts, retryDelaysMs: options.retryDelaysMs, logger: this.logger };
    const consumerConfig = (groupId: string): ConsumerConfig => ({
      groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
    });
    this.main = new SupervisedConsumer(kafka, {
      config: consumerConfig(group),
      topic: options.topic,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.consumeBatch(payload, false),
      logger: this.logger,
    });
    this.retries = new SupervisedConsumer(kafka, {
      config: consumerConfig(retryGroupOf(group)),
      topic: options.retryTopic,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.consumeBatch(payload, true),
      logger: this.logger,
    });
  }

  async start(): Promise<void> {
    try {
      await Promise.all([this.main.start(this.options.publishTimeoutMs), this.retries.start(this.options.publishTimeoutMs)]);
    } catch (error) {
      await Promise.all([this.main.stop(), this.retries.stop()]);
      throw error;
    }
  }

  private async consumeBatch(payload: EachBatchPayload, retryTopic: boolean): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, pause, commitOffsetsIfNecessary } = payload;
    let toCommit: string | undefined;
    let lastCommit = Date.now();
    const commit = async () => {
      if (toCommit === undefined) return;
      const offset = toCommit;
      toCommit = undefined;
      try {
        await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset }] }] });
        lastCommit = Date.now();
      } catch (error) {
        // Typically a rebalance: the partition's next owner starts from the last commit and sees
        // these messages again, which intake dedupes.
        this.logger.warn({ error: failureReason(error), topic: batch.topic, partition: batch.partition }, 'Kafka offset commit failed; messages will be redelivered');
      }
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const headers = decodeHeaders(message.headers);
        if (retryTopic) {
          if (headers[HEADER.group] !== this.group) {
            resolveOffset(message.offset);
            toCommit = nextOffset(message.offset);
            continue;
          }
          const wait = (numberHeader(headers, HEADER.due) ?? 0) - Date.now();
          if (wait > SHORT_WAIT_MS) {
            // Unresolved, so after the resume kafkajs fetches from this message again.
            const resume = pause();
            const timer = setTimeout(() => {
              this.pauses.delete(timer);
              resume();
            }, wait);
            this.pauses.add(timer);
            break;
          }
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        await this.handle(message, headers);
        resolveOffset(message.offset);
        toCommit = nextOffset(message.offset);
        if (Date.now() - lastCommit >= this.options.commitIntervalMs) await commit();
        await heartbeat();
      }
    } finally {
      await commit();
    }
  }

  /** Runs the handler; on failure writes the retry or dead-letter copy. Throws only if Kafka did not take that copy. */
  private async handle(message: KafkaMessage, headers: Record<string, string>): Promise<void> {
    const copy = (topic: string, copyHeaders: Record<string, string>) =>
      this.producer.send(topic, { key: message.key, value: message.value, headers: copyHeaders }, Date.now() + this.options.publishTimeoutMs);
    await consumeDelivery(
      { text: message.value?.toString('utf8') ?? '', headers },
      this.handler,
      {
        retry: ({ attempt, delayMs }) =>
          copy(this.options.retryTopic, { ...headers, [HEADER.attempt]: String(attempt), [HEADER.group]: this.group, [HEADER.due]: String(Date.now() + delayMs) }),
        deadLetter: ({ headers: added }) => {
          const { [HEADER.due]: _due, ...kept } = headers;
          const letter: Record<string, string> = { ...kept };
          // Kafka header values are bytes; the attempts count goes as text like every other header.
          for (const [key, value] of Object.entries(added)) letter[key] = String(value);
          return copy(this.options.deadLetterTopic, letter);
        },
      },
      this.policy,
    );
  }

  /** Graceful: both consumers finish the message in hand, commit, and leave their groups. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const timer of this.pauses) clearTimeout(timer);
      this.pauses.clear();
      await Promise.all([this.main.stop(), this.retries.stop()]);
      this.onStopped();
    })();
    return this.stopping;
  }
}
