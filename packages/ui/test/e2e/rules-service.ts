import Fastify, { type FastifyInstance } from 'fastify';
import { createAutomationEngine, createMemoryStore, createRecordingChannel, type AutomationEngine, type RecordingChannel } from '@crm-automation/core';
import { apiKeyAuth, generateApiKey, rulesRoutes } from '@crm-automation/http';
import { doneJobPayload } from '@crm-automation/testing';
import { managementUi } from '../../src/index.js';

export const ACCOUNT = 'acc_12345';

/** The event catalogue the test service offers, with the design doc's payloads as samples. */
export const EVENT_CATALOG = [
  {
    name: 'job.status.changed',
    description: "A job's status changed (for example to Done).",
    samplePayload: doneJobPayload,
  },
  {
    name: 'job.created',
    description: 'A job was created in the CRM.',
    samplePayload: { job: { id: 'job_hv_1', number: 'J-9001', total: 2450, client: { name: 'Acme Corp', type: 'Commercial' } } },
  },
  {
    name: 'appointment.booked',
    description: 'An appointment was booked or moved (scheduled reminders count from its start).',
    // Two weeks from when the service starts: inside the schedule horizon, and not yet past.
    samplePayload: { appointment: { id: 'ap_1', startsAt: new Date(Date.now() + 14 * 86_400_000).toISOString() }, client: { name: 'John Smith', phone: '+15557654321', timeZone: 'America/New_York' } },
  },
];

export interface RulesService {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Where the UI is: `<origin>/ui/`. */
  uiUrl: string;
  apiKey: string;
  engine: AutomationEngine;
  channels: { sms: RecordingChannel; email: RecordingChannel; webhook: RecordingChannel };
  app: FastifyInstance;
  /** Calls the API directly (seeding, checking what the UI did). */
  api: <T = unknown>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
  close: () => Promise<void>;
}

/**
 * A real rules service on loopback: `rulesRoutes` over an engine with a memory store and recording
 * gateways, the claim loop running, and the built UI served by `managementUi` at /ui.
 */
export async function startRulesService(options: { port?: number | undefined } = {}): Promise<RulesService> {
  const channels = { sms: createRecordingChannel({ name: 'sms' }), email: createRecordingChannel({ name: 'email' }), webhook: createRecordingChannel({ name: 'webhook' }) };
  const engine = createAutomationEngine({ store: createMemoryStore(), channels, pollIntervalMs: 100, maxAttempts: 1 });
  const key = generateApiKey();
  const app = Fastify({ logger: false });
  await app.register(rulesRoutes, {
    engine,
    authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: ACCOUNT, id: 'ui-test' }] }),
    eventCatalog: EVENT_CATALOG,
    rateLimit: false,
  });
  await app.register(managementUi);
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  await engine.start();
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the service did not get a TCP port');
  const origin = `http://127.0.0.1:${address.port}`;

  const api = async <T,>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${key.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };

  return {
    origin,
    uiUrl: `${origin}/ui/`,
    apiKey: key.key,
    engine,
    channels,
    app,
    api,
    async close() {
      await engine.stop();
      await app.close();
    },
  };
}
