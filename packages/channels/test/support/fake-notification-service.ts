import type { ChannelDelivery, ChannelReceiver } from '@crm-automation/testing';
import { loseAnswer, sendJson, startLocalHttpServer, type AnswerLost, type LocalHttpServer } from './local-http-server.js';

export const SERVICE_TOKEN = 'service-token-0123456789';

type Failure = { status: number; headers?: Record<string, string>; error: Record<string, unknown> };

export interface FakeNotificationService extends ChannelReceiver, LocalHttpServer {
  commands: Array<{ type: string; body: Record<string, unknown> }>;
  failNext(failure: Failure): void;
  /** Takes the next command (records it) but loses the answer. */
  loseNextAnswer(lost: AnswerLost): void;
}

/** A stand-in for the Notification Service API (`POST /api/v1/<type>`, bearer auth, JSON errors). */
export async function startFakeNotificationService(): Promise<FakeNotificationService> {
  const failures: Failure[] = [];
  const lost: AnswerLost[] = [];
  const commands: FakeNotificationService['commands'] = [];
  const server = await startLocalHttpServer(async (req, res) => {
    const match = /^\/api\/v1\/([a-z]+)$/.exec(req.path);
    if (req.method !== 'POST' || !match) return sendJson(res, 404, { error: { code: 'CRM_ERR_NOT_FOUND', message: 'no such route' } });
    if (req.headers.authorization !== `Bearer ${SERVICE_TOKEN}`) return sendJson(res, 401, { error: { code: 'CRM_ERR_UNAUTHORIZED', message: 'bad token' } });
    const failure = failures.shift();
    if (failure) return sendJson(res, failure.status, { error: failure.error }, failure.headers);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    commands.push({ type: match[1] ?? '', body });
    const losing = lost.shift();
    if (losing && (await loseAnswer(losing, res))) return;
    return sendJson(res, 200, { result: { provider: 'remote', id: `remote_${commands.length}` } });
  });
  return Object.assign(server, {
    commands,
    failNext: (failure: Failure) => failures.push(failure),
    loseNextAnswer: (answer: AnswerLost) => lost.push(answer),
    deliveries: (): ChannelDelivery[] =>
      commands.map((c) => ({
        recipient: (c.body['recipient'] ?? c.body['url']) as string | undefined,
        idempotencyKey: (c.body['metadata'] as { idempotencyKey?: string } | undefined)?.idempotencyKey,
      })),
    failNextTransient: (retryAfterSeconds?: number) =>
      failures.push({
        status: 503,
        headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
        error: { code: 'CRM_ERR_GATEWAY', message: 'twilio answered 503', provider: 'twilio', retryable: true },
      }),
    failNextPermanent: () =>
      failures.push({ status: 422, error: { code: 'CRM_ERR_GATEWAY', message: "twilio answered 400: Invalid 'To' Phone Number", provider: 'twilio', providerCode: 21211, retryable: false } }),
  });
}
