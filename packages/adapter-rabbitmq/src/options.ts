import { AutomationError, silentLogger, type Logger } from '@crm-automation/core';
import { checkOptions, checkOptionShapes, LOGGER_OPTION_SHAPE, optionKeys, positiveIntOption, retryDelaysOption, type OptionShape } from '@crm-automation/core/spi';
import type { ChannelModel } from 'amqplib';

/** Options of {@link createRabbitBus}. Give `url` or `connection`. */
export interface RabbitBusOptions {
  /** `amqp://user:pass@host:5672/vhost`. The bus owns this connection and reconnects it. */
  url?: string | undefined;
  /**
   * An amqplib connection (`ChannelModel`) you own: the bus never closes it and cannot reconnect it.
   * Or a function that opens one: the bus owns those connections and calls it again to reconnect.
   */
  connection?: ChannelModel | (() => Promise<ChannelModel>) | undefined;
  /** Topic exchange events are published to, routing key = event name. Default `crm-automation.events`. */
  exchange?: string | undefined;
  /** Prefix of every queue name. Default `crm-automation`. */
  queuePrefix?: string | undefined;
  /** Type of the group and retry queues. Default `quorum` (replicated, poison-message safe). */
  queueType?: 'quorum' | 'classic' | undefined;
  /** Binding keys of each group queue. Default `['#']` (every event name). */
  bindingKeys?: readonly string[] | undefined;
  /**
   * Consumer groups whose queues are declared as soon as the bus connects, publishers included,
   * so events published before the first consumer of a group starts are kept for it.
   */
  groups?: readonly string[] | undefined;
  /** Unacknowledged deliveries per consumer, i.e. handlers running at once. Default 32. */
  prefetch?: number | undefined;
  /** Deliveries of one message before it is dead-lettered. Default 5. */
  maxAttempts?: number | undefined;
  /** Redelivery delay after failed attempt n is `retryDelaysMs[n - 1]` (the last one repeats). Default 1 s, 5 s, 30 s, 2 min. */
  retryDelaysMs?: readonly number[] | undefined;
  /** How long `publish()` keeps trying (connection outage, lost confirm) before it fails. Default 30 s. */
  publishTimeoutMs?: number | undefined;
  /**
   * Refuse events no queue is bound for (`CRM_ERR_BUS_UNROUTABLE`) instead of letting the broker drop
   * them. Default true.
   */
  mandatory?: boolean | undefined;
  /** Reconnect backoff: first delay, doubling up to `reconnectMaxDelayMs`. Defaults 100 ms and 5 s. */
  reconnectDelayMs?: number | undefined;
  reconnectMaxDelayMs?: number | undefined;
  /** A pino logger or anything with its debug/info/warn/error/child; silent by default. */
  logger?: Logger | undefined;
}

const RABBIT_OPTION_KEYS = optionKeys<RabbitBusOptions>()(
  'url', 'connection', 'exchange', 'queuePrefix', 'queueType', 'bindingKeys', 'groups', 'prefetch', 'maxAttempts', 'retryDelaysMs',
  'publishTimeoutMs', 'mandatory', 'reconnectDelayMs', 'reconnectMaxDelayMs', 'logger',
);

export interface ResolvedRabbitOptions {
  exchange: string;
  queuePrefix: string;
  queueType: 'quorum' | 'classic';
  bindingKeys: readonly string[];
  groups: readonly string[];
  prefetch: number;
  maxAttempts: number;
  retryDelaysMs: readonly number[];
  publishTimeoutMs: number;
  mandatory: boolean;
  reconnectDelayMs: number;
  reconnectMaxDelayMs: number;
  logger: Logger;
}

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError inside amqplib.
const RABBIT_OPTION_SHAPES: Readonly<Partial<Record<keyof RabbitBusOptions, OptionShape>>> = {
  url: { kind: 'string', what: 'an amqp:// URL' },
  exchange: { kind: 'string', what: 'an exchange name' },
  queuePrefix: { kind: 'string', what: 'a queue name prefix' },
  bindingKeys: { kind: 'strings', what: 'an array of routing key patterns' },
  groups: { kind: 'strings', what: 'an array of consumer group names' },
  mandatory: { kind: 'boolean', what: 'true or false' },
  logger: LOGGER_OPTION_SHAPE,
};

export function resolveRabbitOptions(options: RabbitBusOptions): ResolvedRabbitOptions {
  checkOptions('createRabbitBus', options, RABBIT_OPTION_KEYS, true);
  checkOptionShapes('createRabbitBus', options, RABBIT_OPTION_SHAPES);
  const connection = options.connection as unknown;
  if (connection !== undefined && typeof connection !== 'function' && (typeof connection !== 'object' || connection === null || typeof (connection as { createConfirmChannel?: unknown }).createConfirmChannel !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createRabbitBus: connection must be an amqplib connection, or a function returning one');
  }
  if (options.url === undefined && options.connection === undefined) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createRabbitBus needs a url or a connection');
  }
  const retryDelaysMs = retryDelaysOption(options.retryDelaysMs);
  const queueType = options.queueType ?? 'quorum';
  if (queueType !== 'quorum' && queueType !== 'classic') {
    throw new AutomationError('CRM_ERR_CONFIG', `queueType must be 'quorum' or 'classic', got ${String(queueType)}`);
  }
  const bindingKeys = options.bindingKeys ?? ['#'];
  if (bindingKeys.length === 0) throw new AutomationError('CRM_ERR_CONFIG', 'bindingKeys must not be empty');
  return {
    exchange: options.exchange ?? 'crm-automation.events',
    queuePrefix: options.queuePrefix ?? 'crm-automation',
    queueType,
    bindingKeys,
    groups: options.groups ?? [],
    prefetch: positiveIntOption('prefetch', options.prefetch, 32),
    maxAttempts: positiveIntOption('maxAttempts', options.maxAttempts, 5),
    retryDelaysMs,
    publishTimeoutMs: positiveIntOption('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    mandatory: options.mandatory ?? true,
    reconnectDelayMs: positiveIntOption('reconnectDelayMs', options.reconnectDelayMs, 100),
    reconnectMaxDelayMs: positiveIntOption('reconnectMaxDelayMs', options.reconnectMaxDelayMs, 5_000),
    logger: (options.logger ?? silentLogger).child({ component: 'rabbitmq-bus' }),
  };
}
