import type { Logger } from '@crm-automation/core';
import { failureReason } from '@crm-automation/core/spi';
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { KafkaBusError } from './bus-error.js';

interface Pending {
  topic: string;
  message: Message;
  deadline: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  settled: boolean;
}

export interface BatchingProducerOptions {
  maxBatchSize: number;
  logger: Logger;
}

/**
 * An idempotent, acks=all producer that sends what was queued since its last request as one
 * produce request, one request at a time. Each `send()` resolves once Kafka acknowledged the
 * request its message went out in (all in-sync replicas have it), or rejects at its deadline; a
 * message whose deadline passed before it went out is not sent at all. Single in-flight requests
 * keep the per-partition (per-account) order through retries.
 */
export class BatchingProducer {
  private readonly producer: Producer;
  private readonly queue: Pending[] = [];
  private connected: Promise<void> | undefined;
  private flushing = false;
  private sending: Pending[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    kafka: Kafka,
    private readonly options: BatchingProducerOptions,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // kafkajs retries an idempotent produce with the same sequence numbers, so a retry cannot
      // duplicate; keep that up until Kafka is back (each publish still has its own deadline).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
      // The Java client's murmur2 partitioner, stated explicitly (kafkajs warns when it is implied).
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }

  send(topic: string, message: Message, deadline: number): Promise<void> {
    if (this.closed) return Promise.reject(new KafkaBusError('CRM_ERR_BUS_CLOSED', 'the Kafka bus is closed'));
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        topic,
        message,
        deadline,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.fail(pending, undefined), Math.max(0, deadline - Date.now())),
      };
      this.queue.push(pending);
      this.schedule();
    });
  }

  private fail(pending: Pending, cause: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    const detail = cause === undefined ? 'timed out' : failureReason(cause);
    pending.reject(new KafkaBusError('CRM_ERR_BUS_PUBLISH', `Kafka did not acknowledge the message to ${pending.topic}: ${detail}`, { cause }));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // One macrotask of batching: publishes issued together go out together.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatchSize).filter((p) => !p.settled);
        if (batch.length === 0) continue;
        this.sending = batch;
        await this.sendBatch(batch);
        this.sending = [];
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Sends one batch, retrying (Kafka may be restarting) until every message in it is past its deadline. */
  private async sendBatch(batch: Pending[]): Promise<void> {
    let delay = 100;
    for (;;) {
      const live = batch.filter((p) => !p.settled);
      if (live.length === 0) return;
      try {
        await this.connect();
        const byTopic = new Map<string, Message[]>();
        for (const p of live) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.message]);
        const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
        await this.producer.sendBatch({ acks: -1, topicMessages });
        for (const p of live) {
          if (p.settled) continue;
          p.settled = true;
          clearTimeout(p.timer);
          p.resolve();
        }
        return;
      } catch (error) {
        if (this.closed) {
          for (const p of live) this.fail(p, error);
          return;
        }
        this.options.logger.warn({ error: failureReason(error), messages: live.length, retryInMs: delay }, 'Kafka produce failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let what is queued go out first: those callers are waiting for their acknowledgement. Each
    // has a deadline, so this ends even when Kafka is away.
    while ([...this.queue, ...this.sending].some((p) => !p.settled)) await new Promise((resolve) => setTimeout(resolve, 10));
    this.closed = true;
    await this.producer.disconnect().catch(() => {});
  }
}
