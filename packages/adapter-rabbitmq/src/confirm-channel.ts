import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import type { Logger } from '@crm-automation/core';
import { failureReason } from '@crm-automation/core/spi';
import { RabbitBusError } from './bus-error.js';
import { PUBLISH_ID_HEADER } from './message-headers.js';

/**
 * A confirm channel that knows whether it is still open and turns a publish into a promise that
 * settles only on the broker's confirm: resolved on ack, rejected on nack, on a mandatory return
 * (no queue bound) or when the channel closes first.
 */
export class ConfirmedChannel {
  open = true;
  readonly closed: Promise<void>;
  /** Mandatory publishes the broker returned, by publish id; a return always precedes its ack. */
  private readonly returned = new Set<string>();

  private constructor(
    readonly model: ChannelModel,
    readonly channel: ConfirmChannel,
    logger: Logger,
    purpose: string,
  ) {
    this.closed = new Promise((resolve) => {
      channel.once('close', () => {
        this.open = false;
        resolve();
      });
    });
    channel.on('error', (error: Error) => logger.warn({ error: failureReason(error), channel: purpose }, 'RabbitMQ channel error'));
    channel.on('return', (message: Message) => {
      const id = message.properties.headers?.[PUBLISH_ID_HEADER];
      if (typeof id === 'string') this.returned.add(id);
    });
  }

  static async create(model: ChannelModel, logger: Logger, purpose: string): Promise<ConfirmedChannel> {
    return new ConfirmedChannel(model, await model.createConfirmChannel(), logger, purpose);
  }

  /** Publishes and resolves once the broker confirmed it (stored, for persistent messages on durable queues). */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    if (!this.open) return Promise.reject(new Error('channel closed'));
    const publishId = options.mandatory ? randomUUID() : undefined;
    const headers = publishId ? { ...(options.headers as Record<string, unknown> | undefined), [PUBLISH_ID_HEADER]: publishId } : options.headers;
    return new Promise<void>((resolve, reject) => {
      try {
        this.channel.publish(exchange, routingKey, content, { ...options, headers }, (error: unknown) => {
          if (publishId && this.returned.delete(publishId)) {
            reject(new RabbitBusError('CRM_ERR_BUS_UNROUTABLE', `no queue is bound to exchange ${JSON.stringify(exchange)} for ${JSON.stringify(routingKey)}`));
          } else if (error) {
            reject(error instanceof Error ? error : new Error(`broker refused the message: ${String(error)}`));
          } else {
            resolve();
          }
        });
      } catch (error) {
        reject(error);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.channel.close().catch(() => {});
  }
}
