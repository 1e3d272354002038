import { afterEach } from 'vitest';
import { createAutomationEngine, type AutomationEngineOptions } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createManualClock, createRecordingChannel } from '@crm-automation/testing';
import { apiKeyAuth, generateApiKey, rulesRoutes } from '@crm-automation/http';
import Fastify from 'fastify';

/**
 * The Rules API in this process (Fastify's inject, no socket): what the app's pure functions are
 * tested on is what the server really answers, as JSON, not a hand-written copy. `origin()` also
 * listens on 127.0.0.1, for the app's own API client (fetch) to call.
 */
export async function rulesApiAnswers(options: { channels?: AutomationEngineOptions['channels'] } = {}) {
  const clock = createManualClock('2030-01-01T09:00:00.000Z');
  const channels = options.channels ?? { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel() };
  // Rules on current state need a loader for each fact they read so; `currentJobs` is the CRM's jobs now.
  const currentJobs = new Map<string, unknown>();
  const facts = { job: async ({ entityKey, event }: { entityKey?: string | undefined; event: { payload: Record<string, unknown> } }) => (entityKey !== undefined && currentJobs.has(entityKey) ? currentJobs.get(entityKey) : event.payload['job']) };
  const engine = createAutomationEngine({ store: createMemoryStore(), channels, clock, maxAttempts: 1, facts });
  const key = generateApiKey();
  // A key that may look but not change: what a user without the write scopes signs in with.
  const readOnly = generateApiKey();
  const app = Fastify({ logger: false });
  await app.register(rulesRoutes, {
    engine,
    authenticate: apiKeyAuth({
      keys: [
        { hash: key.hash, accountId: 'acc_ui', id: 'ui-user' },
        { hash: readOnly.hash, accountId: 'acc_ui', id: 'ui-viewer', scopes: ['rules:read', 'triggers:read'] },
      ],
    }),
    rateLimit: false,
  });
  const call = async <T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${key.key}` }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
    if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}: ${response.body}`);
    return response.json<T>();
  };
  let listening: Promise<string> | undefined;
  const origin = () => (listening ??= app.listen({ host: '127.0.0.1', port: 0 }));
  return { call, clock, engine, currentJobs, origin, apiKey: key.key, readOnlyKey: readOnly.key, close: () => app.close() };
}

/**
 * The Rules API for the tests of one file, one at a time: the function returned starts one (closing
 * the one before) and the file's afterEach closes the last, so a failed test leaves no server open.
 */
export function rulesApiPerTest() {
  let api: Awaited<ReturnType<typeof rulesApiAnswers>> | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });
  return async (options?: Parameters<typeof rulesApiAnswers>[0]) => {
    await api?.close();
    api = await rulesApiAnswers(options);
    return api;
  };
}
