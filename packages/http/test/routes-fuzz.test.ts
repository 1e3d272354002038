import fc from 'fast-check';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type AutomationEngine } from '@crm-automation/core';
import { apiKeyAuth, frameworkErrorHandler, generateApiKey, rulesRoutes } from '@crm-automation/http';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';
import { event, FUZZ_RUNS_FACTOR, fuzzParameters, hostileString, ruleDocument, validRule } from '../../core/test/hardening/fuzz-arbitraries.js';

const ACCOUNT = 'acc_fuzz';
const key = generateApiKey();
// Every answer the routes may give to generated input: success, or a typed client error.
const ALLOWED = new Set([200, 201, 202, 204, 400, 404, 409, 413, 415]);

describe('fuzzing the Rules Service routes', () => {
  let app: FastifyInstance;
  let engine: AutomationEngine;
  const sms = createRecordingChannel();
  const seen = new Map<number, number>();

  beforeAll(async () => {
    engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-06-01T12:00:00Z'), channels: { sms, email: createRecordingChannel(), webhook: createRecordingChannel() } });
    app = Fastify({ frameworkErrors: frameworkErrorHandler });
    await app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys: [{ hash: key.hash, accountId: ACCOUNT }] }), bodyLimit: 256 * 1024, rateLimit: false });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  const send = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, raw?: string): Promise<LightMyRequestResponse> => {
    const response = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key.key}`, ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(raw !== undefined ? { payload: raw } : body !== undefined ? { payload: JSON.stringify(body) ?? 'null' } : {}),
    });
    seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
    expect(ALLOWED.has(response.statusCode), `${method} ${url} answered ${response.statusCode}: ${response.body.slice(0, 300)}`).toBe(true);
    if (response.statusCode >= 400) {
      const parsed = response.json() as { error?: { code?: unknown; message?: unknown } };
      expect(typeof parsed.error?.code).toBe('string');
      expect(String(parsed.error?.code)).toMatch(/^CRM_ERR_[A-Z_]+$/);
      expect(typeof parsed.error?.message).toBe('string');
      expect(response.body).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    return response;
  };

  it('answers thousands of generated requests with success or a typed 4xx; nothing polluted; a good event still fires', async () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const rule = fc.oneof({ arbitrary: validRule, weight: 1 }, { arbitrary: ruleDocument, weight: 3 });
    const ruleIds: string[] = [];

    await fc.assert(
      fc.asyncProperty(rule, async (doc) => {
        const created = await send('POST', '/rules', doc);
        if (created.statusCode === 201) ruleIds.push((created.json() as { id: string }).id);
        await send('POST', '/rules/validate', { rule: doc, sample: { payload: { job: { status: 'Done', items: [1, 2, 3] } } } });
      }),
      fuzzParameters(1_000),
    );

    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        const { accountId: _ignored, ...body } = e as Record<string, unknown>;
        await send('POST', '/events', body);
      }),
      fuzzParameters(1_000),
    );

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(hostileString, fc.constantFrom(...(ruleIds.length > 0 ? ruleIds : ['none']))),
        fc.oneof(ruleDocument, validRule),
        fc.oneof(hostileString, fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null')),
        async (id, doc, raw) => {
          const path = encodeURIComponent(id);
          await send('GET', `/rules/${path}`);
          await send('PUT', `/rules/${path}`, doc);
          await send('POST', `/rules/${path}/test`, { payload: { job: {} } });
          await send('GET', `/rules?limit=${encodeURIComponent(id)}&cursor=${path}&enabled=${encodeURIComponent(id)}`);
          await send('GET', `/triggers?status=${encodeURIComponent(id)}&from=${encodeURIComponent(id)}&ruleId=${path}`);
          await send('GET', `/triggers/${path}`);
          await send('POST', '/rules', undefined, raw);
          await send('POST', '/events', undefined, raw);
        },
      ),
      fuzzParameters(400),
    );

    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // Both sides were reached, or the test proves nothing.
    expect(seen.get(201) ?? 0).toBeGreaterThan(20);
    expect(seen.get(400) ?? 0).toBeGreaterThan(500);

    // The loop still fires a good event after all of it.
    await engine.runDue();
    sms.sent.length = 0;
    const good = await send('POST', '/rules', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    expect(good.statusCode).toBe(201);
    const accepted = await send('POST', '/events', { name: 'job.status.changed', payload: doneJobPayload });
    expect(accepted.statusCode).toBe(202);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
  }, 180_000 * FUZZ_RUNS_FACTOR);
});
