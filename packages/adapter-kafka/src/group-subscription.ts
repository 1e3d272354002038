import type { BusHandler, BusSubscription, Logger } from '@crm-automation/core';
import type { ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { BatchingProducer } from './batching-producer.js';
import { decideFailedDelivery } from '@crm-automation/core';
import { accountOf, clipReason, decodeHeaders, HEADER, intHeader, publisherHeaders, reasonOf } from './message-headers.js';
import { retryDelayFor, type ResolvedKafkaOptions } from './options.js';
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
        this.logger.warn({ error: reasonOf(error), topic: batch.topic, partition: batch.partition }, 'Kafka offset commit failed; messages will be redelivered');
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
          const wait = (intHeader(headers, HEADER.due) ?? 0) - Date.now();
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
    const attempt = Math.max(1, intHeader(headers, HEADER.attempt) ?? 1);
    let body: unknown;
    try {
      body = JSON.parse(message.value?.toString('utf8') ?? '') as unknown;
    } catch {
      await this.deadLetter(message, headers, undefined, 'message is not valid JSON', attempt);
      return;
    }
    try {
      await this.handler(body, { attempt, headers: publisherHeaders(headers) });
    } catch (error) {
      const decision = decideFailedDelivery(error, attempt, this.options.maxAttempts);
      const reason = decision.reason;
      if (decision.action === 'dead-letter') {
        await this.deadLetter(message, headers, body, reason, attempt);
      } else {
        const delayMs = retryDelayFor(this.options, attempt);
        const copy = { ...headers, [HEADER.attempt]: String(attempt + 1), [HEADER.group]: this.group, [HEADER.due]: String(Date.now() + delayMs) };
        await this.producer.send(this.options.retryTopic, { key: message.key, value: message.value, headers: copy }, Date.now() + this.options.publishTimeoutMs);
        this.logger.debug({ accountId: accountOf(body), attempt, retryInMs: delayMs, reason }, 'event intake failed; redelivery scheduled');
      }
    }
  }

  private async deadLetter(message: KafkaMessage, headers: Record<string, string>, body: unknown, reason: string, attempt: number): Promise<void> {
    const { [HEADER.due]: _due, ...kept } = headers;
    const accountId = accountOf(body) ?? headers[HEADER.accountId];
    const copy: Record<string, string> = {
      ...kept,
      [HEADER.reason]: clipReason(reason),
      [HEADER.attempts]: String(attempt),
      [HEADER.deadAt]: new Date().toISOString(),
      [HEADER.group]: this.group,
    };
    if (accountId !== undefined) copy[HEADER.accountId] = accountId;
    await this.producer.send(this.options.deadLetterTopic, { key: message.key, value: message.value, headers: copy }, Date.now() + this.options.publishTimeoutMs);
    this.logger.warn({ accountId, attempts: attempt, reason: clipReason(reason) }, 'event dead-lettered');
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
