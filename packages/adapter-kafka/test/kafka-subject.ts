import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crashConsumerProcess, trackSubscribedGroups, type BusContractSubject } from '@crm-automation/testing';
import { createKafkaBus, type KafkaBus, type KafkaBusOptions } from '../src/index.js';
import { deleteKafkaNames } from './kafka-cleanup.js';

export const kafkaBrokers = process.env.KAFKA_BROKERS ?? '';

export function requireKafka(): void {
  if (!kafkaBrokers) throw new Error('KAFKA_BROKERS is not set: run `scripts/services.sh up kafka` and export what it prints');
}

/** A Kafka bus on topics no other test uses; records its groups so the test can delete topics and groups. */
export function kafkaSubject(options: Partial<KafkaBusOptions> = {}): BusContractSubject & { bus: KafkaBus } {
  const topic = `test-${randomUUID().slice(0, 8)}`;
  const retryDelaysMs = options.retryDelaysMs ?? [100, 200];
  const bus = createKafkaBus({ brokers: kafkaBrokers, topic, sessionTimeoutMs: 10_000, ...options, retryDelaysMs });
  const groups = trackSubscribedGroups(bus, 'automation-intake');
  return {
    bus,
    publishRaw: (text) => bus.publishRaw(text, { key: 'acc-raw' }),
    crashConsumer: async (group, publish) => {
      groups.add(group);
      await crashConsumerProcess(
        new URL('./doomed-consumer.ts', import.meta.url),
        { KAFKA_BROKERS: kafkaBrokers, CRASH_TOPIC: topic, CRASH_GROUP: group, CRASH_RETRY_DELAYS: JSON.stringify(retryDelaysMs) },
        publish,
      );
    },
    cleanup: () => deleteKafkaNames(kafkaBrokers, { topics: [bus.topics.events, bus.topics.retry, bus.topics.deadLetter], groups }),
  };
}

const servicesScript = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url));

/** Stops and starts the real Kafka broker. */
export async function restartKafka(): Promise<void> {
  await promisify(execFile)('bash', [servicesScript, 'restart', 'kafka'], { timeout: 300_000 });
}
