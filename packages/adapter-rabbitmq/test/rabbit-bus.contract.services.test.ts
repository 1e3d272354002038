import { beforeAll } from 'vitest';
import { describeBusContract } from '@crm-automation/testing';
import { rabbitSubject, requireRabbit } from './rabbit-subject.js';

beforeAll(requireRabbit);

for (const queueType of ['quorum', 'classic'] as const) {
  describeBusContract(`RabbitMQ bus (${queueType} queues)`, ({ maxAttempts, retryDelayMs }) =>
    rabbitSubject({ queueType, maxAttempts, retryDelaysMs: [retryDelayMs, retryDelayMs * 2], publishTimeoutMs: 10_000 }),
  );
}
