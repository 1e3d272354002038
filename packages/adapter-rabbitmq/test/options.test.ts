import { describe, expect, it } from 'vitest';
import { describeOptionKeyChecks } from '@crm-automation/testing';
import { createRabbitBus } from '../src/index.js';
import { resolveRabbitOptions } from '../src/options.js';

// Every key of the options type, written out here so a key dropped from the factory's list fails.
const KEYS = ['url', 'connection', 'exchange', 'queuePrefix', 'queueType', 'bindingKeys', 'groups', 'prefetch', 'maxAttempts', 'retryDelaysMs', 'publishTimeoutMs', 'mandatory', 'reconnectDelayMs', 'reconnectMaxDelayMs', 'logger'];
const BASE: Record<string, unknown> = { url: 'amqp://guest:guest@127.0.0.1:1' };

// No broker needed: every case is refused before connecting.
describeOptionKeyChecks('createRabbitBus', (options) => createRabbitBus(options as never), BASE, KEYS);

describe('createRabbitBus options', () => {
  it('accepts every documented key', () => {
    const resolved = resolveRabbitOptions({ ...BASE, logger: undefined, maxAttempts: 3 } as never);
    expect(resolved.maxAttempts).toBe(3);
  });
});
