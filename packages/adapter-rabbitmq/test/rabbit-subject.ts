import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crashConsumerProcess, trackSubscribedGroups, type BusContractSubject } from '@crm-automation/testing';
import { createRabbitBus, type RabbitBus, type RabbitBusOptions } from '../src/index.js';
import { deleteTopology } from './rabbit-cleanup.js';

export const rabbitUrl = process.env.RABBITMQ_URL ?? '';

export function requireRabbit(): void {
  if (!rabbitUrl) throw new Error('RABBITMQ_URL is not set: run `scripts/services.sh up rabbitmq` and export what it prints');
}

/**
 * A RabbitMQ bus on names no other test uses, which records the groups it serves so the test can
 * delete every queue it declared (quorum queues are not free on a small broker).
 */
export function rabbitSubject(options: Partial<RabbitBusOptions> = {}): BusContractSubject & { bus: RabbitBus; namespace: string } {
  const namespace = `test.${randomUUID().slice(0, 8)}`;
  const retryDelaysMs = options.retryDelaysMs ?? [100, 200];
  const queueType = options.queueType ?? 'quorum';
  const bus = createRabbitBus({ url: rabbitUrl, exchange: namespace, queuePrefix: namespace, ...options, retryDelaysMs, queueType });
  const groups = trackSubscribedGroups(bus, 'automation-intake', options.groups ?? []);
  return {
    bus,
    namespace,
    publishRaw: (text) => bus.publishRaw('job.status.changed', text),
    crashConsumer: async (group, publish) => {
      groups.add(group);
      await crashConsumerProcess(
        new URL('./doomed-consumer.ts', import.meta.url),
        { RABBITMQ_URL: rabbitUrl, CRASH_EXCHANGE: namespace, CRASH_QUEUE_PREFIX: namespace, CRASH_GROUP: group, CRASH_QUEUE_TYPE: queueType, CRASH_RETRY_DELAYS: JSON.stringify(retryDelaysMs) },
        publish,
      );
    },
    cleanup: () => deleteTopology(rabbitUrl, { exchange: namespace, queuePrefix: namespace, groups, retryDelaysMs }),
  };
}

const servicesScript = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url));

/** Stops and starts the real RabbitMQ server. */
export async function restartRabbit(): Promise<void> {
  await promisify(execFile)('bash', [servicesScript, 'restart', 'rabbitmq'], { timeout: 300_000 });
}
