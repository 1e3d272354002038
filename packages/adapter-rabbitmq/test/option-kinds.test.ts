import { describe, expect, it } from 'vitest';
import { createRabbitBus } from '@crm-automation/adapter-rabbitmq';

// A wrong kind of value for a known option is a CRM_ERR_CONFIG naming it, refused before any connection.
describe('createRabbitBus refuses wrong kinds of values', () => {
  const base = { url: 'amqp://127.0.0.1:1' };
  it.each([
    ['url', [42, {}, '']],
    ['connection', ['amqp://x', 42, {}]],
    ['exchange', [1, '', {}]],
    ['queuePrefix', [1, '']],
    ['bindingKeys', ['#', 42, [1], ['']]],
    ['groups', ['automation-intake', 42, [1]]],
    ['mandatory', ['yes', 1]],
    ['logger', ['x', {}, console.log]],
  ] as const)('%s', (key, values) => {
    for (const value of values) {
      let error: unknown;
      try {
        createRabbitBus({ ...(key === 'connection' ? {} : base), [key]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error, `${key}: ${String(value)}`).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
  });
});
