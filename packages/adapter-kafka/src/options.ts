import { AutomationError, silentLogger, type Logger } from '@crm-automation/core';
import { checkOptions, checkOptionShapes, LOGGER_OPTION_SHAPE, optionKeys, positiveIntOption, retryDelaysOption, type OptionShape } from '@crm-automation/core/spi';
import type { Kafka } from 'kafkajs';

/** Options of {@link createKafkaBus}. Give `brokers` or `kafka`. */
export interface KafkaBusOptions {
  /** Bootstrap brokers, `host:port` (an array or a comma-separated string). */
  brokers?: readonly string[] | string | undefined;
  /** A kafkajs client you configured (TLS, SASL, logging); the bus creates its producer, consumers and admin from it. */
  kafka?: Kafka | undefined;
  /** Client id for a client the bus creates. Default `crm-automation`. */
  clientId?: string | undefined;
  /** Topic events are published to (key = accountId). Default `crm-automation.events`. */
  topic?: string | undefined;
  /** Delayed redeliveries wait here. Default `<topic>.retry`. */
  retryTopic?: string | undefined;
  /** Dead letters, with the reason in headers. Default `<topic>.dead-letter`. */
  deadLetterTopic?: string | undefined;
  /** Consumer group when `subscribe()` names none. Default `automation-intake` (the engine's). */
  groupId?: string | undefined;
  /** Consumer group whose committed offsets mark how far the dead-letter topic was replayed. Default `<deadLetterTopic>.replay`. */
  replayGroupId?: string | undefined;
  /** Partitions of the topics the bus creates (existing topics are left as they are). Default 3. */
  partitions?: number | undefined;
  /** Replication factor of the topics the bus creates. Default: the broker's `default.replication.factor`. */
  replicationFactor?: number | undefined;
  /** Deliveries of one message before it is dead-lettered. Default 5. */
  maxAttempts?: number | undefined;
  /** Redelivery delay after failed attempt n is `retryDelaysMs[n - 1]` (the last one repeats). Default 1 s, 5 s, 30 s, 2 min. */
  retryDelaysMs?: readonly number[] | undefined;
  /** How long `publish()` waits for acks=all, and `subscribe()` for its group join, through outages. Default 30 s. */
  publishTimeoutMs?: number | undefined;
  /** Events sent to Kafka in one produce request at most. Default 500. */
  maxBatchSize?: number | undefined;
  /** Partitions handled at once per consumer (each one in order). Default: `partitions`. */
  partitionsConsumedConcurrently?: number | undefined;
  /** Consumer session timeout: how soon a dead consumer's partitions move to another. Default 30 s (broker minimum 6 s). */
  sessionTimeoutMs?: number | undefined;
  /** Default 1 s. Rebalances are noticed on heartbeats, so this bounds how fast a group reshapes. */
  heartbeatIntervalMs?: number | undefined;
  /** Longest wait of an empty fetch. Default 1 s. */
  maxWaitTimeInMs?: number | undefined;
  /** Commit consumed offsets at least this often while a batch is being handled. Default 1 s. */
  commitIntervalMs?: number | undefined;
  /** A pino logger or anything with its debug/info/warn/error/child; silent by default. kafkajs warnings and errors go here too. */
  logger?: Logger | undefined;
}

const KAFKA_OPTION_KEYS = optionKeys<KafkaBusOptions>()(
  'brokers', 'kafka', 'clientId', 'topic', 'retryTopic', 'deadLetterTopic', 'groupId', 'replayGroupId', 'partitions', 'replicationFactor',
  'maxAttempts', 'retryDelaysMs', 'publishTimeoutMs', 'maxBatchSize', 'partitionsConsumedConcurrently', 'sessionTimeoutMs',
  'heartbeatIntervalMs', 'maxWaitTimeInMs', 'commitIntervalMs', 'logger',
);

export interface ResolvedKafkaOptions {
  clientId: string;
  topic: string;
  retryTopic: string;
  deadLetterTopic: string;
  groupId: string;
  replayGroupId: string;
  partitions: number;
  replicationFactor: number;
  maxAttempts: number;
  retryDelaysMs: readonly number[];
  publishTimeoutMs: number;
  maxBatchSize: number;
  partitionsConsumedConcurrently: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeInMs: number;
  commitIntervalMs: number;
  logger: Logger;
}

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError inside kafkajs.
const KAFKA_OPTION_SHAPES: Readonly<Partial<Record<keyof KafkaBusOptions, OptionShape>>> = {
  kafka: { kind: 'port', what: 'a kafkajs Kafka client', methods: ['producer', 'consumer', 'admin'] },
  clientId: { kind: 'string', what: 'a client id' },
  topic: { kind: 'string', what: 'a topic name' },
  retryTopic: { kind: 'string', what: 'a topic name' },
  deadLetterTopic: { kind: 'string', what: 'a topic name' },
  groupId: { kind: 'string', what: 'a consumer group id' },
  replayGroupId: { kind: 'string', what: 'a consumer group id' },
  logger: LOGGER_OPTION_SHAPE,
};

export function resolveKafkaOptions(options: KafkaBusOptions): ResolvedKafkaOptions {
  checkOptions('createKafkaBus', options, KAFKA_OPTION_KEYS, true);
  checkOptionShapes('createKafkaBus', options, KAFKA_OPTION_SHAPES);
  if (options.brokers !== undefined && typeof options.brokers !== 'string' && !(Array.isArray(options.brokers) && options.brokers.length > 0 && options.brokers.every((b) => typeof b === 'string' && b.trim() !== ''))) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createKafkaBus: brokers must be host:port strings (an array, or one comma-separated string)');
  }
  if (options.brokers === undefined && options.kafka === undefined) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createKafkaBus needs brokers or a kafka client');
  }
  const retryDelaysMs = retryDelaysOption(options.retryDelaysMs);
  const topic = options.topic ?? 'crm-automation.events';
  const deadLetterTopic = options.deadLetterTopic ?? `${topic}.dead-letter`;
  const retryTopic = options.retryTopic ?? `${topic}.retry`;
  if (new Set([topic, retryTopic, deadLetterTopic]).size !== 3) {
    throw new AutomationError('CRM_ERR_CONFIG', 'topic, retryTopic and deadLetterTopic must be three different topics');
  }
  const partitions = positiveIntOption('partitions', options.partitions, 3);
  const sessionTimeoutMs = positiveIntOption('sessionTimeoutMs', options.sessionTimeoutMs, 30_000);
  const heartbeatIntervalMs = positiveIntOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 1_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new AutomationError('CRM_ERR_CONFIG', 'heartbeatIntervalMs must be shorter than sessionTimeoutMs');
  }
  return {
    clientId: options.clientId ?? 'crm-automation',
    topic,
    retryTopic,
    deadLetterTopic,
    groupId: options.groupId ?? 'automation-intake',
    replayGroupId: options.replayGroupId ?? `${deadLetterTopic}.replay`,
    partitions,
    replicationFactor: options.replicationFactor === undefined ? -1 : positiveIntOption('replicationFactor', options.replicationFactor, 1),
    maxAttempts: positiveIntOption('maxAttempts', options.maxAttempts, 5),
    retryDelaysMs,
    publishTimeoutMs: positiveIntOption('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    maxBatchSize: positiveIntOption('maxBatchSize', options.maxBatchSize, 500),
    partitionsConsumedConcurrently: positiveIntOption('partitionsConsumedConcurrently', options.partitionsConsumedConcurrently, partitions),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxWaitTimeInMs: positiveIntOption('maxWaitTimeInMs', options.maxWaitTimeInMs, 1_000),
    commitIntervalMs: positiveIntOption('commitIntervalMs', options.commitIntervalMs, 1_000),
    logger: (options.logger ?? silentLogger).child({ component: 'kafka-bus' }),
  };
}
