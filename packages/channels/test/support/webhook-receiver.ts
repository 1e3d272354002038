import type { ChannelDelivery, ChannelReceiver } from '@crm-automation/testing';
import { loseAnswer, messageTaking, sendJson, startLocalHttpServer, type AnswerLost, type LocalHttpServer, type ReceivedRequest, type TakesMessages } from './local-http-server.js';
import { verifyStandardWebhook } from './standard-webhooks-verifier.js';

type Reply = { status: number; headers?: Record<string, string> | undefined; body?: unknown };

export interface WebhookReceiver extends ChannelReceiver, LocalHttpServer, TakesMessages {
  /** Requests whose signature verified, with the verification result. */
  accepted: ReceivedRequest[];
  /** Requests refused for a bad or missing signature. */
  refused: Array<{ request: ReceivedRequest; reason: string }>;
  replyNext(reply: Reply): void;
  /** Takes the next delivery (it counts as accepted) but loses the answer. */
  loseNextAnswer(lost: AnswerLost): void;
  /** Distinct `webhook-id`s accepted: what a receiver that de-duplicates by it acted on. */
  distinctIds(): string[];
}

/**
 * A webhook receiver on loopback that verifies each delivery with the independent Standard Webhooks
 * verifier (401 when it fails, like a real receiver) and records what it accepted.
 */
export async function startWebhookReceiver(secret: string | undefined): Promise<WebhookReceiver> {
  const replies: Reply[] = [];
  const accepted: ReceivedRequest[] = [];
  const refused: WebhookReceiver['refused'] = [];
  const lost: AnswerLost[] = [];
  const taking = messageTaking(() => accepted.length);
  const server = await startLocalHttpServer(async (req, res) => {
    const reply = replies.shift();
    if (reply) return sendJson(res, reply.status, reply.body, reply.headers);
    if (secret !== undefined) {
      const verdict = await verifyStandardWebhook(secret, req.headers, req.body, Math.floor(Date.now() / 1000));
      if (!verdict.ok) {
        refused.push({ request: req, reason: verdict.reason });
        return sendJson(res, 401, { error: verdict.reason });
      }
    }
    accepted.push(req);
    taking.took();
    const losing = lost.shift();
    if (losing && (await loseAnswer(losing, res))) return;
    return sendJson(res, 200, { received: true });
  });
  return Object.assign(server, {
    accepted,
    refused,
    replyNext: (reply: Reply) => replies.push(reply),
    loseNextAnswer: (answer: AnswerLost) => lost.push(answer),
    waitForMessages: taking.waitFor,
    distinctIds: () => [...new Set(accepted.map((r) => String(r.headers['webhook-id'])))],
    deliveries: (): ChannelDelivery[] =>
      accepted.map((r) => ({ recipient: `http://${String(r.headers.host)}${r.path}`, idempotencyKey: r.headers['webhook-id'] as string | undefined, body: r.body })),
    failNextTransient: (retryAfterSeconds?: number) =>
      replies.push({ status: 503, headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }, body: { error: 'busy' } }),
    failNextPermanent: () => replies.push({ status: 410, body: { error: 'gone' } }),
  });
}
