import type { AutomationEvent } from '../events/event.js';

export interface BusDelivery {
  /** 1 on first delivery, higher on redelivery when the transport knows it. */
  attempt: number;
  /** Transport headers (trace context, ...). */
  headers: Readonly<Record<string, string>>;
}

/**
 * Handles one consumed message. Resolving acknowledges it. Throwing an error whose `retryable` is
 * `false` dead-letters it at once (malformed events); any other error redelivers it with backoff,
 * and after the transport's attempt limit dead-letters it with the reason.
 */
export type BusHandler = (message: unknown, delivery: BusDelivery) => Promise<void>;

export interface BusSubscription {
  /** Graceful: stop fetching, finish in-flight handlers, acknowledge, detach. */
  stop(): Promise<void>;
}

export interface SubscribeOptions {
  /** Consumers of one group share the load; each group sees every event once. */
  group?: string | undefined;
}

export interface DeadLetter {
  id: string;
  /** The message as received (parsed when it was JSON, the raw text otherwise). */
  message: unknown;
  reason: string;
  attempts: number;
  deadAt: Date;
  accountId?: string | undefined;
}

export interface DeadLetterFilter {
  accountId?: string | undefined;
  limit?: number | undefined;
}

/** Inspection and replay of dead letters, for transports that keep them. */
export interface DeadLetterQueue {
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /** Moves matching dead letters back to the main stream; returns how many moved. */
  replay(filter?: DeadLetterFilter & { dryRun?: boolean | undefined }): Promise<number>;
}

/** Backlog figures for monitoring: queue depth (RabbitMQ) or consumer-group lag (Kafka). */
export interface BusStats {
  backlog: Array<{
    /** Queue (RabbitMQ), or `group:topic/partition` (Kafka consumer-group lag). */
    name: string;
    /** Messages waiting to be consumed. */
    messages: number;
    consumers?: number | undefined;
  }>;
  /** Messages in the dead-letter queue/topic. */
  deadLetters: number;
}

/** Transport for events: the CRM publishes, the engine's intake consumes. */
export interface EventBus {
  /** In-process transport: `publish()` resolves after the subscriber handled the event. */
  readonly local?: boolean | undefined;
  /** Resolves once the transport has durably accepted the event (publisher confirm, acks=all). */
  publish(event: AutomationEvent, options?: { headers?: Record<string, string> | undefined }): Promise<void>;
  subscribe(handler: BusHandler, options?: SubscribeOptions): Promise<BusSubscription>;
  readonly deadLetters?: DeadLetterQueue | undefined;
  /** Backlog and dead letters, for metrics and alerts; transports that can't tell omit it. */
  stats?(): Promise<BusStats>;
  close(): Promise<void>;
}
