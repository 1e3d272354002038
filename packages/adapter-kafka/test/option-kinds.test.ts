import { describe, expect, it } from 'vitest';
import { createKafkaBus } from '@crm-automation/adapter-kafka';

// A wrong kind of value for a known option is a CRM_ERR_CONFIG naming it, refused before any connection.
describe('createKafkaBus refuses wrong kinds of values', () => {
  const base = { brokers: ['127.0.0.1:1'] };
  it.each([
    ['brokers', [42, {}, [], [1], [''], null]],
    ['kafka', ['kafka://x', 42, {}]],
    ['clientId', [1, '', {}]],
    ['topic', [1, '', []]],
    ['retryTopic', [1, '']],
    ['deadLetterTopic', [1, '']],
    ['groupId', [1, '']],
    ['replayGroupId', [1, '']],
    ['logger', ['x', {}, console.log]],
  ] as const)('%s', (key, values) => {
    for (const value of values) {
      let error: unknown;
      try {
        createKafkaBus({ ...base, [key]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error, `${key}: ${String(value)}`).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
  });
});
