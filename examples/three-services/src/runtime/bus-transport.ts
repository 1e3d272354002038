import type { EventBus, Logger } from '@crm-automation/core';
import { createKafkaBus } from '@crm-automation/adapter-kafka';
import { createRabbitBus } from '@crm-automation/adapter-rabbitmq';
import { Kafka, logLevel } from 'kafkajs';
import { z } from 'zod';
import { csvDurations } from './env-config.js';

/**
 * The bus variables every service that touches the bus reads. `BUS_PREFIX` names every exchange,
 * queue and topic, so several deployments (or test runs) can share one broker.
 */
export const busEnv = {
  TRANSPORT: z.enum(['rabbitmq', 'kafka']).default('rabbitmq'),
  RABBITMQ_URL: z.string().url().optional(),
  KAFKA_BROKERS: z.string().optional(),
  BUS_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+$/, 'may use letters, digits and . _ -').default('crm-automation'),
  /** Kafka consumer session timeout: how soon a crashed consumer's partitions move on. */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).default(10_000),
};

/** Refinement shared by the services' schemas: the chosen transport needs its address. */
export function requireTransportAddress(env: { TRANSPORT: string; RABBITMQ_URL?: string | undefined; KAFKA_BROKERS?: string | undefined }, ctx: z.RefinementCtx): void {
  if (env.TRANSPORT === 'rabbitmq' && !env.RABBITMQ_URL) ctx.addIssue({ code: 'custom', path: ['RABBITMQ_URL'], message: 'required when TRANSPORT=rabbitmq (e.g. amqp://guest:guest@127.0.0.1:5672)' });
  if (env.TRANSPORT === 'kafka' && !env.KAFKA_BROKERS) ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'required when TRANSPORT=kafka (e.g. 127.0.0.1:9092)' });
}

export interface BusConfig {
  TRANSPORT: 'rabbitmq' | 'kafka';
  RABBITMQ_URL?: string | undefined;
  KAFKA_BROKERS?: string | undefined;
  BUS_PREFIX: string;
  KAFKA_SESSION_TIMEOUT_MS: number;
}

/**
 * The three streams of the deployment:
 * - `events`: what the CRM publishes (`job.created`, ...), consumed by the trigger service;
 * - `rule-lookups`: `rule_lookup_requested`, consumed by the rules service (pub/sub lookup only);
 * - `rule-updates`: `rules_found` and `rule_changed`, consumed by a pub/sub trigger service.
 * Each is its own exchange (RabbitMQ) or topic (Kafka), so a consumer sees only its stream.
 */
export type BusStream = 'events' | 'rule-lookups' | 'rule-updates';

export interface OpenBusOptions {
  stream: BusStream;
  logger: Logger;
  /**
   * Consumer groups whose queues are declared when the bus connects (RabbitMQ), so messages
   * published before that consumer first starts wait for it rather than being refused.
   */
  declareGroups?: readonly string[] | undefined;
  /** Refuse messages no queue takes (RabbitMQ). Default true. */
  mandatory?: boolean | undefined;
  /** Deliveries of one message before it is dead-lettered, and the delays between them. */
  maxAttempts?: number | undefined;
  retryDelaysMs?: readonly number[] | undefined;
  clientId?: string | undefined;
}

export interface OpenedBus {
  bus: EventBus;
  /** Resolves while the broker is reachable (for `/readyz`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens one stream on the configured transport. */
export function openBus(config: BusConfig, options: OpenBusOptions): OpenedBus {
  const name = `${config.BUS_PREFIX}.${options.stream}`;
  const retries = {
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.retryDelaysMs === undefined ? {} : { retryDelaysMs: options.retryDelaysMs }),
  };
  if (config.TRANSPORT === 'rabbitmq') {
    const bus = createRabbitBus({
      url: config.RABBITMQ_URL,
      exchange: name,
      queuePrefix: name,
      groups: options.declareGroups ?? [],
      mandatory: options.mandatory ?? true,
      logger: options.logger,
      ...retries,
    });
    return {
      bus,
      ping: async () => {
        if (!bus.connected) throw new Error('no connection to RabbitMQ');
      },
      close: () => bus.close(),
    };
  }
  const brokers = (config.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  const kafka = new Kafka({ clientId: options.clientId ?? name, brokers, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 } });
  const bus = createKafkaBus({
    kafka,
    topic: name,
    logger: options.logger,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: Math.min(1_000, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 4)),
    ...retries,
  });
  // Kafka consumer groups are broker-wide, not per topic: name them after the stream too, so two
  // deployments (or test runs) sharing a broker never join each other's groups.
  const scoped: EventBus = {
    publish: (event, publishOptions) => bus.publish(event, publishOptions),
    subscribe: (handler, subscribeOptions) => bus.subscribe(handler, { group: `${name}.${subscribeOptions?.group ?? 'default'}` }),
    deadLetters: bus.deadLetters,
    stats: () => bus.stats(),
    close: () => bus.close(),
  };
  // One admin connection for readiness probes, opened on the first probe.
  const admin = kafka.admin({ retry: { retries: 0 } });
  let adminConnected: Promise<void> | undefined;
  return {
    bus: scoped,
    ping: async () => {
      adminConnected ??= admin.connect().catch((error: unknown) => {
        adminConnected = undefined;
        throw error;
      });
      await adminConnected;
      await admin.describeCluster();
    },
    close: async () => {
      await bus.close();
      if (adminConnected) await admin.disconnect().catch(() => {});
    },
  };
}

/** `1000,5000` → `[1000, 5000]`, for `BUS_RETRY_DELAYS_MS`. */
export const busRetryEnv = {
  BUS_MAX_ATTEMPTS: z.coerce.number().int().positive().default(10),
  BUS_RETRY_DELAYS_MS: csvDurations.default([1_000, 5_000, 30_000, 120_000]),
};
