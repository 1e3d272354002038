import type { BusHandler, BusSubscription, Logger } from '@crm-automation/core';
import { BUS_HEADER, consumeDelivery, failureReason, type BusConsumerPolicy } from '@crm-automation/core/spi';
import type { ConsumeMessage, Message, Options } from 'amqplib';
import { RabbitBusError } from './bus-error.js';
import { ConfirmedChannel } from './confirm-channel.js';
import { jittered, nextDelay, sleep, type RabbitConnection } from './connection.js';
import { RESERVED_HEADERS, withoutBrokerHeaders } from './message-headers.js';
import type { ResolvedRabbitOptions } from './options.js';
import { declareGroup, groupQueues, type GroupQueues } from './topology.js';

/** Properties a copy of a message keeps (retry, dead letter, replay), with new headers. */
export function copyProperties(message: Message, headers: Record<string, unknown>): Options.Publish {
  const { messageId, type, timestamp, contentType } = message.properties as {
    messageId?: string;
    type?: string;
    timestamp?: number;
    contentType?: string;
  };
  const copy: Options.Publish = { persistent: true, headers, contentType: contentType ?? 'application/json' };
  if (messageId !== undefined) copy.messageId = messageId;
  if (type !== undefined) copy.type = type;
  if (timestamp !== undefined) copy.timestamp = timestamp;
  return copy;
}

/** AMQP channel errors the broker raises for a request it will keep refusing (403, 404, 405, 406). */
function isBrokerRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && [403, 404, 405, 406, 530].includes(code);
}

/**
 * The consumers of one group in this process, on one channel: the group's queue is shared with
 * every other process subscribed to the same group (competing consumers). Each delivery is acked
 * only after the handler resolved, or after its retry / dead-letter copy was confirmed, so a
 * process that dies mid-handle leaves the message to be redelivered.
 */
export class GroupConsumer implements BusSubscription {
  private active = true;
  private attachment: { channel: ConfirmedChannel; consumerTag: string } | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly queues: GroupQueues;
  private readonly logger: Logger;
  private readonly policy: BusConsumerPolicy;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly connection: RabbitConnection,
    private readonly options: ResolvedRabbitOptions,
    group: string,
    private readonly handler: BusHandler,
    private readonly onStopped: () => void,
  ) {
    this.queues = groupQueues(options, group);
    this.logger = options.logger.child({ group });
    this.policy = { group, maxAttempts: options.maxAttempts, retryDelaysMs: options.retryDelaysMs, logger: this.logger, reservedHeaders: RESERVED_HEADERS };
  }

  /** Starts the supervisor; resolves once consuming, rejects if the first setup fails or times out. */
  start(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.active = false;
        reject(new RabbitBusError('CRM_ERR_BUS_SUBSCRIBE', `could not start consuming ${this.queues.main} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      void this.supervise(settle);
    });
  }

  /** Keeps one consuming channel alive across channel errors and reconnects. */
  private async supervise(settle: (error?: unknown) => void): Promise<void> {
    let delay = this.options.reconnectDelayMs;
    let first = true;
    while (this.active) {
      let model;
      try {
        model = await this.connection.ready();
      } catch (error) {
        settle(error);
        return;
      }
      if (!this.active) return;
      let channel: ConfirmedChannel | undefined;
      try {
        channel = await ConfirmedChannel.create(model, this.logger, `consumer ${this.queues.main}`);
        await declareGroup(channel.channel, this.options, this.queues);
        await channel.channel.prefetch(this.options.prefetch);
        const current = channel;
        const { consumerTag } = await channel.channel.consume(this.queues.main, (message) => this.onDelivery(current, message), { noAck: false });
        if (!this.active) {
          await channel.close();
          return;
        }
        this.attachment = { channel, consumerTag };
        if (!first) this.logger.info({ queue: this.queues.main }, 'RabbitMQ consumer resumed');
        first = false;
        delay = this.options.reconnectDelayMs;
        settle();
        await channel.closed;
      } catch (error) {
        this.logger.warn({ error: failureReason(error), queue: this.queues.main }, 'RabbitMQ consumer setup failed');
        // A refusal by the broker (queue exists with other arguments, access denied) will not fix
        // itself; fail subscribe() rather than retry forever. Connection trouble is retried.
        if (first && isBrokerRefusal(error)) {
          this.active = false;
          settle(error);
          return;
        }
        await channel?.close();
      }
      this.attachment = undefined;
      if (!this.active) return;
      await sleep(jittered(delay));
      delay = nextDelay(delay, this.options.reconnectMaxDelayMs);
    }
  }

  private onDelivery(channel: ConfirmedChannel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted); closing the channel makes the supervisor redeclare.
      this.logger.warn({ queue: this.queues.main }, 'RabbitMQ cancelled the consumer; re-subscribing');
      void channel.close();
      return;
    }
    const work = this.process(channel, message).catch((error: unknown) => {
      this.logger.error({ error: failureReason(error), queue: this.queues.main }, 'RabbitMQ delivery could not be settled; the broker will redeliver it');
    });
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private async process(channel: ConfirmedChannel, message: ConsumeMessage): Promise<void> {
    await consumeDelivery(
      { text: message.content.toString('utf8'), headers: message.properties.headers as Record<string, unknown> | undefined },
      this.handler,
      {
        retry: ({ attempt, delayMs }) => this.publishCopy(channel, this.queues.retry(delayMs), message, { [BUS_HEADER.attempt]: attempt }),
        deadLetter: ({ headers }) => this.publishCopy(channel, this.queues.deadLetter, message, headers),
      },
      this.policy,
    );
    this.ack(channel, message);
  }

  /** Acks on the channel the message came on; a closed channel already returned it to the queue. */
  private ack(channel: ConfirmedChannel, message: ConsumeMessage): void {
    if (channel.open) channel.channel.ack(message);
  }

  /** A confirmed copy of `message` in `queue` (a retry tier, the dead-letter queue), with `extra` headers. */
  private publishCopy(channel: ConfirmedChannel, queue: string, message: ConsumeMessage, extra: object): Promise<void> {
    const headers = { ...withoutBrokerHeaders(message.properties.headers as Record<string, unknown> | undefined), ...extra };
    return channel.publish('', queue, message.content, { ...copyProperties(message, headers), mandatory: true });
  }

  /** Graceful: cancel the consumer, let in-flight handlers finish and ack, close the channel. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.active = false;
      const attachment = this.attachment;
      if (attachment?.channel.open) await attachment.channel.channel.cancel(attachment.consumerTag).catch(() => {});
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      await attachment?.channel.close();
      this.onStopped();
    })();
    return this.stopping;
  }
}
