import { connect, type ChannelModel } from 'amqplib';
import type { Logger } from '@crm-automation/core';
import { failureReason } from '@crm-automation/core/spi';
import { RabbitBusError } from './bus-error.js';

export interface ConnectionSource {
  url?: string | undefined;
  connection?: ChannelModel | (() => Promise<ChannelModel>) | undefined;
}

export interface ConnectionTuning {
  reconnectDelayMs: number;
  reconnectMaxDelayMs: number;
  logger: Logger;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Exponential backoff with +-20% jitter, so a fleet of consumers does not reconnect in lockstep. */
export function nextDelay(current: number, max: number): number {
  return Math.min(max, current * 2);
}
export function jittered(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

type Waiter = { resolve: (model: ChannelModel) => void; reject: (error: unknown) => void; timer: ReturnType<typeof setTimeout> | undefined };

/**
 * One AMQP connection, kept open: on loss it reconnects with backoff, and whoever needs the
 * connection waits for it through `ready()`. Channels and topology are the users' business: each
 * subscription and the publisher re-create theirs on the new connection.
 *
 * A connection handed in as an object belongs to the caller: it is never closed here and, once it
 * is lost, cannot be replaced.
 */
export class RabbitConnection {
  private model: ChannelModel | undefined;
  private waiters = new Set<Waiter>();
  private closed = false;
  private failure: unknown;
  private connecting = false;
  private readonly owned: boolean;

  constructor(
    private readonly source: ConnectionSource,
    private readonly tuning: ConnectionTuning,
  ) {
    this.owned = typeof source.connection !== 'object';
    if (typeof source.connection === 'object') this.adopt(source.connection);
    else void this.connectLoop();
  }

  /** The live connection, waiting through reconnects until `deadline` (epoch ms). */
  ready(deadline = Number.POSITIVE_INFINITY): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new RabbitBusError('CRM_ERR_BUS_CLOSED', 'the RabbitMQ bus is closed'));
    if (this.model) return Promise.resolve(this.model);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<ChannelModel>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (Number.isFinite(deadline)) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new RabbitBusError('CRM_ERR_BUS_PUBLISH', 'timed out waiting for the RabbitMQ connection'));
        }, Math.max(0, deadline - Date.now()));
      }
      this.waiters.add(waiter);
    });
  }

  get isOpen(): boolean {
    return this.model !== undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settleWaiters(new RabbitBusError('CRM_ERR_BUS_CLOSED', 'the RabbitMQ bus is closed'));
    const model = this.model;
    this.model = undefined;
    if (model && this.owned) await model.close().catch(() => {});
  }

  private settleWaiters(error: unknown, model?: ChannelModel): void {
    for (const waiter of this.waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      if (model) waiter.resolve(model);
      else waiter.reject(error);
    }
    this.waiters.clear();
  }

  private adopt(model: ChannelModel): void {
    model.on('error', (error: Error) => this.tuning.logger.warn({ error: failureReason(error) }, 'RabbitMQ connection error'));
    model.once('close', (error?: Error) => this.lost(model, error));
    this.model = model;
    this.settleWaiters(undefined, model);
  }

  private async open(): Promise<ChannelModel> {
    const { connection, url } = this.source;
    if (typeof connection === 'function') return connection();
    return connect(url ?? 'amqp://127.0.0.1');
  }

  private async connectLoop(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    let delay = this.tuning.reconnectDelayMs;
    let attempt = 0;
    try {
      while (!this.closed) {
        attempt += 1;
        try {
          const model = await this.open();
          if (this.closed) {
            await model.close().catch(() => {});
            return;
          }
          if (attempt > 1) this.tuning.logger.info({ attempt }, 'RabbitMQ connection restored');
          this.adopt(model);
          return;
        } catch (error) {
          this.tuning.logger.warn({ error: failureReason(error), attempt, retryInMs: delay }, 'RabbitMQ connection failed; retrying');
          await sleep(jittered(delay));
          delay = nextDelay(delay, this.tuning.reconnectMaxDelayMs);
        }
      }
    } finally {
      this.connecting = false;
    }
  }

  private lost(model: ChannelModel, error: Error | undefined): void {
    if (this.model !== model) return;
    this.model = undefined;
    if (this.closed) return;
    if (!this.owned) {
      this.failure = new RabbitBusError('CRM_ERR_BUS_PUBLISH', 'the RabbitMQ connection handed to the bus was closed; it cannot be reopened here', { cause: error });
      this.settleWaiters(this.failure);
      this.tuning.logger.error({ error: error ? failureReason(error) : 'closed' }, 'RabbitMQ connection lost (not owned by the bus, not reconnecting)');
      return;
    }
    this.tuning.logger.warn({ error: error ? failureReason(error) : 'closed' }, 'RabbitMQ connection lost; reconnecting');
    void this.connectLoop();
  }
}
