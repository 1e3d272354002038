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
    const existing = new Set(await admin.listTopics());
    const missing = [options.topic, options.retryTopic, options.deadLetterTopic].filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor })),
    });
    options.logger.info({ topics: missing, partitions: options.partitions }, 'Kafka topics created');
  } finally {
    await admin.disconnect();
  }
}
