import { randomUUID } from 'node:crypto';
import { beforeAll } from 'vitest';
import { describeBusContract } from '@crm-automation/testing';
import { createKafkaBus } from '../src/index.js';
import { crashConsumerProcess } from './crash-consumer.js';
import { deleteKafkaNames } from './kafka-cleanup.js';

const brokers = process.env.KAFKA_BROKERS ?? '';

beforeAll(() => {
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run `scripts/services.sh up kafka` and export what it prints');
});

describeBusContract(
  'Kafka bus',
  ({ maxAttempts, retryDelayMs }) => {
    const topic = `contract-${randomUUID().slice(0, 8)}`;
    const retryDelaysMs = [retryDelayMs, retryDelayMs * 2];
    const bus = createKafkaBus({ brokers, topic, maxAttempts, retryDelaysMs, publishTimeoutMs: 20_000, sessionTimeoutMs: 10_000 });
    const groups = new Set<string>();
    const subscribe = bus.subscribe.bind(bus);
    bus.subscribe = (handler, options) => {
      groups.add(options?.group ?? 'automation-intake');
      return subscribe(handler, options);
    };
    return {
      bus,
      publishRaw: (text) => bus.publishRaw(text, { key: 'acc-raw' }),
      crashConsumer: async (group, publish) => {
        groups.add(group);
        await crashConsumerProcess(
          new URL('./doomed-consumer.ts', import.meta.url),
          { KAFKA_BROKERS: brokers, CRASH_TOPIC: topic, CRASH_GROUP: group, CRASH_RETRY_DELAYS: JSON.stringify(retryDelaysMs) },
          publish,
        );
      },
      cleanup: () => deleteKafkaNames(brokers, { topics: [bus.topics.events, bus.topics.retry, bus.topics.deadLetter], groups }),
    };
  },
  { timeoutMs: 90_000 },
);
