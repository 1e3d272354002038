import { describe, expect, it } from 'vitest';
import { describeOptionKeyChecks } from '@crm-automation/testing';
import { createKafkaBus } from '../src/index.js';
import { resolveKafkaOptions } from '../src/options.js';

// Every key of the options type, written out here so a key dropped from the factory's list fails.
const KEYS = ['brokers', 'kafka', 'clientId', 'topic', 'retryTopic', 'deadLetterTopic', 'groupId', 'replayGroupId', 'partitions', 'replicationFactor', 'maxAttempts', 'retryDelaysMs', 'publishTimeoutMs', 'maxBatchSize', 'partitionsConsumedConcurrently', 'sessionTimeoutMs', 'heartbeatIntervalMs', 'maxWaitTimeInMs', 'commitIntervalMs', 'logger'];
const BASE: Record<string, unknown> = { brokers: ['127.0.0.1:1'] };

// No broker needed: every case is refused before connecting.
describeOptionKeyChecks('createKafkaBus', (options) => createKafkaBus(options as never), BASE, KEYS);

describe('createKafkaBus options', () => {
  it('accepts every documented key', () => {
    const resolved = resolveKafkaOptions({ ...BASE, logger: undefined, maxAttempts: 3 } as never);
    expect(resolved.maxAttempts).toBe(3);
  });
});
