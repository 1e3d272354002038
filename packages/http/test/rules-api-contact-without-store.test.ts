import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createMemoryStore } from '@crm-automation/core';
import { apiKeyAuth, generateApiKey, rulesRoutes } from '@crm-automation/http';

// The Rules API suite covers this over the Mongo store (services); here, in `npm test`, an engine told
// to keep no contact policy stands in for a store adapter without those ports.
describe('contact policy routes over an engine without a contact policy or suppression store', () => {
  it('answer 400 CRM_ERR_CONFIG naming what is missing, and the other routes work', async () => {
    const key = generateApiKey();
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: {}, contactPolicies: false, suppressions: false, contactCounter: false });
    const app = Fastify();
    await app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc_1' }] }) });
    const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${key.key}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    try {
      for (const [method, url, payload] of [
        ['GET', '/contact-policy'],
        ['PUT', '/contact-policy', { channels: {} }],
        ['GET', '/suppressions'],
        ['GET', '/suppressions/changes'],
        ['GET', '/suppressions/sms/+15557654321'],
        ['PUT', '/suppressions/sms/+15557654321', {}],
        ['DELETE', '/suppressions/sms/+15557654321'],
      ] as const) {
        const answer = await call(method, url, payload);
        expect(answer.statusCode, `${method} ${url}`).toBe(400);
        expect(answer.json(), `${method} ${url}`).toMatchObject({ error: { code: 'CRM_ERR_CONFIG', message: expect.stringMatching(/no (contact policy|suppression) store/) } });
      }
      expect((await call('GET', '/rules')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
