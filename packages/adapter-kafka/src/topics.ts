import type { Kafka } from 'kafkajs';
import type { ResolvedKafkaOptions } from './options.js';

/**
 * Creates the event, retry and dead-letter topics if they do not exist, and waits until each
 * partition has a leader, so the first publish and the first group join do not race topic creation
 * (auto-creation, where the broker allows it, would use broker defaults and answer the first
 * requests with LEADER_NOT_AVAILABLE).
 */
export async function ensureTopics(kafka: Kafka, options: ResolvedKafkaOptions): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = [options.topic, options.retryTopic, options.deadLetterTopic].filter((t) => !existing.has(t));
        if (missing.length === 0) return;
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor })),
        });
        options.logger.info({ topics: missing, partitions: options.partitions }, 'Kafka topics created');
        return;
      } catch (error) {
        // A fresh topic's metadata can lag its creation (UNKNOWN_TOPIC_OR_PARTITION, retriable): list and try again.
        if (attempt >= MAX_ATTEMPTS || !isRetriable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

const MAX_ATTEMPTS = 5;

const isRetriable = (error: unknown): boolean => typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
