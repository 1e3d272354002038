import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { managementUi } from '@crm-automation/ui';

// A path option that is not a string is a CRM_ERR_CONFIG naming it, not a TypeError from `.replace`.
describe('managementUi refuses wrong kinds of values', () => {
  it.each([
    ['prefix', [1, {}, ['/ui']]],
    ['apiBase', [1, {}, true]],
    ['root', [1, {}]],
  ] as const)('%s', async (key, values) => {
    for (const value of values) {
      const app = Fastify();
      let error: unknown;
      try {
        await app.register(managementUi, { [key]: value } as never);
        await app.ready();
      } catch (e) {
        error = e;
      } finally {
        await app.close();
      }
      expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
  });
});
