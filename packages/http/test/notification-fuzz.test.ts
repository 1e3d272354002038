import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordingChannel } from '@crm-automation/core';
import { buildNotificationApp } from '@crm-automation/http';
import { FUZZ_RUNS_FACTOR, fuzzParameters, hostileString } from '../../core/test/hardening/fuzz-arbitraries.js';

/*
 * The Notification Service under generated requests: every answer is a success or a typed error body
 * (never a 500, a stack or Fastify's own body), and the idempotency promises hold for any generated
 * command: a replay of a request is one send, the actions of one trigger on different channels are
 * different sends, and two accounts never answer each other's request.
 */

const TOKEN = 'svc-token-0123456789abcdef';
const ALLOWED = new Set([200, 400, 404, 413, 415, 422]);
const TYPES = ['sms', 'email', 'webhook'] as const;

const metadata = fc.record(
  {
    triggerId: fc.oneof(fc.constant('trg_1'), hostileString),
    ruleId: fc.oneof(fc.constant('rule_1'), hostileString),
    accountId: fc.oneof(fc.constantFrom('acc_a', 'acc_b', 'a:sms', 'a%3Asms'), hostileString),
    actionIndex: fc.oneof(fc.nat({ max: 3 }), fc.integer(), fc.double(), hostileString),
    idempotencyKey: fc.oneof(hostileString, fc.constant('k1')),
    deliveryId: hostileString,
    excludeProviders: fc.array(hostileString, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const body = fc.record(
  {
    recipient: fc.oneof(fc.constantFrom('+15557654321', 'a@example.com'), hostileString),
    message: hostileString,
    subject: hostileString,
    body: hostileString,
    url: fc.oneof(fc.constantFrom('https://example.com/h', 'http://127.0.0.1/x'), hostileString),
    method: fc.oneof(fc.constant('POST'), hostileString),
    headers: fc.dictionary(hostileString, hostileString, { maxKeys: 2 }),
    payload: fc.jsonValue({ maxDepth: 3 }),
    metadata: fc.oneof(metadata, fc.anything({ maxDepth: 1 })),
  },
  { requiredKeys: [] },
);

describe('fuzzing the Notification Service', () => {
  let app: FastifyInstance;
  const channels = { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel() };
  const sends = () => channels.sms.sent.length + channels.email.sent.length + channels.webhook.sent.length;
  const seen = new Map<number, number>();

  beforeAll(async () => {
    app = await buildNotificationApp({ channels, auth: { tokens: [TOKEN] }, bodyLimit: 64 * 1024 });
    await app.ready();
  });
  afterAll(() => app.close());

  const send = async (type: string, payload: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> => {
    const response = await app.inject({ method: 'POST', url: `/api/v1/${type}`, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, payload });
    seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
    expect(ALLOWED.has(response.statusCode), `${type} answered ${response.statusCode}: ${response.body.slice(0, 300)}`).toBe(true);
    if (response.statusCode >= 400) {
      const parsed = response.json() as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(['error']);
      const error = parsed['error'] as { code?: unknown; message?: unknown };
      expect(String(error.code)).toMatch(/^CRM_ERR_[A-Z_]+$/);
      expect(typeof error.message).toBe('string');
      expect(response.body).not.toMatch(/\n\s+at .+:\d+:\d+|FST_ERR|"statusCode"/);
    }
    return response;
  };

  const validCommand = (type: (typeof TYPES)[number], triggerId: string, accountId: string, text: string): Record<string, unknown> => {
    const meta = { triggerId, ruleId: 'rule_1', accountId };
    if (type === 'sms') return { recipient: '+15557654321', message: text || 'x', metadata: meta };
    if (type === 'email') return { recipient: 'a@example.com', subject: 's', body: text || 'x', metadata: meta };
    return { url: 'https://example.com/h', payload: { text }, metadata: meta };
  };
  const trigger = fc.stringMatching(/^[A-Za-z0-9_]{1,24}$/);
  // Text a command may carry: one line, not blank (a blank message is a refused command, not a send).
  const text = fc.string({ maxLength: 40 }).filter((s) => !/[\r\n\u0000\u2028\u2029]/.test(s)).map((s) => (s.trim() === '' ? `x${s}` : s));

  it('answers generated commands, headers and raw bodies with success or a typed error', async () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: fc.tuple(fc.constantFrom(...TYPES), trigger, text, fc.constantFrom('acc_a', 'acc_b')).map(([type, id, message, account]) => [type, JSON.stringify(validCommand(type, id, account, message))] as const), weight: 1 },
          {
            arbitrary: fc.tuple(
              fc.oneof(fc.constantFrom(...TYPES), hostileString.map((s) => encodeURIComponent(s))),
              fc.oneof(body.map((b) => JSON.stringify(b)), hostileString, fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null')),
            ),
            weight: 3,
          },
        ),
        fc.record({ 'idempotency-key': hostileString, 'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain') }, { requiredKeys: [] }),
        async ([type, payload], headers) => {
          await send(type, payload, headers as Record<string, string>);
        },
      ),
      fuzzParameters(1_500),
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // Both sides were reached, or the test proves nothing.
    expect(seen.get(200) ?? 0).toBeGreaterThan(20);
    expect(seen.get(400) ?? 0).toBeGreaterThan(200);
  }, 120_000 * FUZZ_RUNS_FACTOR);

  it('sends a replayed request once, each channel of one trigger once, and each account once', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(trigger, text, fc.subarray([...TYPES], { minLength: 1 }), fc.nat({ max: 2 }), async (triggerId, message, types, replays) => {
        round += 1;
        const id = `${triggerId}_${round}`;
        for (const account of ['acc_a', 'acc_b']) {
          for (const type of types) {
            const before = sends();
            const payload = JSON.stringify(validCommand(type, id, account, message));
            const first = await send(type, payload);
            expect(first.statusCode, first.body).toBe(200);
            expect(first.json()).toMatchObject({ replayed: false });
            for (let i = 0; i < replays; i++) {
              const again = await send(type, payload);
              expect(again.json()).toMatchObject({ replayed: true });
            }
            expect(sends() - before).toBe(1);
          }
        }
      }),
      fuzzParameters(150),
    );
  }, 120_000 * FUZZ_RUNS_FACTOR);
});
