import { createAutomationEngine, type AutomationEngineOptions } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createManualClock, createRecordingChannel } from '@crm-automation/testing';
import { apiKeyAuth, generateApiKey, rulesRoutes } from '@crm-automation/http';
import Fastify from 'fastify';

/**
 * The Rules API in this process (Fastify's inject, no socket): what the app's pure functions are
 * tested on is what the server really answers, as JSON, not a hand-written copy.
 */
export async function rulesApiAnswers(options: { channels?: AutomationEngineOptions['channels'] } = {}) {
  const clock = createManualClock('2030-01-01T09:00:00.000Z');
  const channels = options.channels ?? { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel() };
  const engine = createAutomationEngine({ store: createMemoryStore(), channels, clock });
  const key = generateApiKey();
  const app = Fastify({ logger: false });
  await app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: 'acc_ui' }] }), rateLimit: false });
  const call = async <T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${key.key}` }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
    if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}: ${response.body}`);
    return response.json<T>();
  };
  return { call, clock, close: () => app.close() };
}
