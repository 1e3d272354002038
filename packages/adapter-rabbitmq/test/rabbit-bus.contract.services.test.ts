import { randomUUID } from 'node:crypto';
import { beforeAll } from 'vitest';
import { describeBusContract } from '@crm-automation/testing';
import { createRabbitBus } from '../src/index.js';
import { crashConsumerProcess } from './crash-consumer.js';
import { deleteTopology } from './rabbit-cleanup.js';

const url = process.env.RABBITMQ_URL ?? '';

beforeAll(() => {
  if (!url) throw new Error('RABBITMQ_URL is not set: run `scripts/services.sh up rabbitmq` and export what it prints');
});

for (const queueType of ['quorum', 'classic'] as const) {
  describeBusContract(`RabbitMQ bus (${queueType} queues)`, ({ maxAttempts, retryDelayMs }) => {
    const namespace = `contract.${randomUUID().slice(0, 8)}`;
    const retryDelaysMs = [retryDelayMs, retryDelayMs * 2];
    const bus = createRabbitBus({ url, exchange: namespace, queuePrefix: namespace, queueType, maxAttempts, retryDelaysMs, publishTimeoutMs: 10_000 });
    const groups = new Set<string>();
    const subscribe = bus.subscribe.bind(bus);
    bus.subscribe = (handler, options) => {
      groups.add(options?.group ?? 'automation-intake');
      return subscribe(handler, options);
    };
    return {
      bus,
      publishRaw: (text) => bus.publishRaw('job.status.changed', text),
      crashConsumer: async (group, publish) => {
        groups.add(group);
        await crashConsumerProcess(
          new URL('./doomed-consumer.ts', import.meta.url),
          { RABBITMQ_URL: url, CRASH_EXCHANGE: namespace, CRASH_QUEUE_PREFIX: namespace, CRASH_GROUP: group, CRASH_QUEUE_TYPE: queueType, CRASH_RETRY_DELAYS: JSON.stringify(retryDelaysMs) },
          publish,
        );
      },
      cleanup: () => deleteTopology(url, { exchange: namespace, queuePrefix: namespace, groups, retryDelaysMs }),
    };
  });
}

