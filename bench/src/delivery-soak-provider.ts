/**
 * The provider stand-in of the delivery soak (bench/src/delivery-soak.bench.ts): one HTTP server on
 * 127.0.0.1 with two faces, each answering at set rates with one of
 *
 * - `accept`: takes the message, answers 2xx at once;
 * - `refuse`: does not take it, answers 400 (permanent);
 * - `busy`: does not take it, answers 503 (transient: the engine retries);
 * - `timeout`: takes the message, answers 2xx only after `slowMs` (past the engine's send timeout);
 * - `drop`: takes the message, then destroys the socket without answering.
 *
 * Webhook face (`POST /hooks/soak`): a Standard Webhooks receiver that deduplicates by `webhook-id`: a
 * request whose id it already took is answered but not delivered again (counted as absorbed). SMS face
 * (`POST /2010-04-01/Accounts/:sid/Messages.json`, Twilio-shaped): no deduplication, every request it
 * takes is one more text on someone's phone. Every request is recorded with what the stand-in did.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProviderOutcome = 'accept' | 'refuse' | 'busy' | 'timeout' | 'drop';

/** Fractions of requests per outcome; `accept` takes what the others leave. */
export type ProviderRates = Record<Exclude<ProviderOutcome, 'accept'>, number>;

export interface ReceivedRequest {
  channel: 'webhook' | 'sms';
  /** The soak's sequence number of the event the message is for (from the payload or the SMS body). */
  seq: number;
  /** Webhook: the `webhook-id` (the engine's idempotency key). SMS: the ledger's delivery id (`d` of StatusCallback). */
  key: string;
  outcome: ProviderOutcome;
  /** The message reached the recipient because of this request (a deduplicated repeat did not). */
  delivered: boolean;
  /** A webhook request whose id was already taken: answered, not delivered again. */
  absorbed: boolean;
  /** SMS: the message sid answered (or that would have been answered, for `drop`). */
  sid?: string | undefined;
  at: number;
}

export interface ProviderStandIn {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly received: readonly ReceivedRequest[];
  /** Requests answered or dropped so far, by outcome. */
  counts(): Record<ProviderOutcome, number>;
  close(): Promise<void>;
}

export interface ProviderStandInOptions {
  rates: ProviderRates;
  /** How long a `timeout` answer takes. */
  slowMs: number;
  /** Seed of the outcome draws, so a run's provider behaviour can be repeated. */
  seed: number;
}

/** mulberry32: small, seedable, good enough to draw outcomes. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function checkRates(rates: ProviderRates): void {
  const total = rates.refuse + rates.busy + rates.timeout + rates.drop;
  for (const [name, rate] of Object.entries(rates)) if (!(rate >= 0 && rate <= 1)) throw new Error(`rate ${name} must be between 0 and 1, got ${rate}`);
  if (total > 1) throw new Error(`the fault rates add up to ${total}; they must leave room for accept (at most 1)`);
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const SMS_PATH = /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/;

export async function startProviderStandIn(options: ProviderStandInOptions): Promise<ProviderStandIn> {
  checkRates(options.rates);
  const random = seededRandom(options.seed);
  const received: ReceivedRequest[] = [];
  const counts: Record<ProviderOutcome, number> = { accept: 0, refuse: 0, busy: 0, timeout: 0, drop: 0 };
  /** Webhook ids taken so far: the receiver's dedupe table. */
  const takenWebhookIds = new Set<string>();
  const sockets = new Set<Socket>();
  const slowTimers = new Set<NodeJS.Timeout>();
  let sids = 0;

  const draw = (): ProviderOutcome => {
    const r = random();
    const { refuse, busy, timeout, drop } = options.rates;
    if (r < refuse) return 'refuse';
    if (r < refuse + busy) return 'busy';
    if (r < refuse + busy + timeout) return 'timeout';
    if (r < refuse + busy + timeout + drop) return 'drop';
    return 'accept';
  };

  const answer = (res: ServerResponse, outcome: ProviderOutcome, status: number, body: unknown) => {
    counts[outcome] += 1;
    if (outcome === 'drop') {
      res.socket?.destroy();
      return;
    }
    const send = () => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (outcome !== 'timeout') return send();
    const timer = setTimeout(() => {
      slowTimers.delete(timer);
      send();
    }, options.slowMs);
    slowTimers.add(timer);
  };

  const onWebhook = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const id = req.headers['webhook-id'];
    const payload = JSON.parse(body) as { seq?: unknown };
    if (typeof id !== 'string' || typeof payload.seq !== 'string') {
      res.writeHead(422).end();
      return;
    }
    const seen = takenWebhookIds.has(id);
    // A receiver that already took this id knows the message: it has nothing to refuse about it.
    let outcome = draw();
    if (seen && outcome === 'refuse') outcome = 'accept';
    const takes = outcome === 'accept' || outcome === 'timeout' || outcome === 'drop';
    if (takes) takenWebhookIds.add(id);
    received.push({ channel: 'webhook', seq: Number(payload.seq), key: id, outcome, delivered: takes && !seen, absorbed: takes && seen, at: Date.now() });
    if (outcome === 'refuse') return answer(res, outcome, 400, { error: 'refused by the soak stand-in' });
    if (outcome === 'busy') return answer(res, outcome, 503, { error: 'busy' });
    answer(res, outcome, 200, { ok: true, duplicate: seen });
  };

  const onSms = (res: ServerResponse, body: string) => {
    const form = new URLSearchParams(body);
    const text = form.get('Body') ?? '';
    const seq = /#(\d+)/.exec(text)?.[1];
    const callback = form.get('StatusCallback');
    const key = callback ? (new URL(callback).searchParams.get('d') ?? '') : '';
    if (seq === undefined || key === '') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 21602, message: 'Body and StatusCallback with d are required here' }));
      return;
    }
    const outcome = draw();
    const takes = outcome === 'accept' || outcome === 'timeout' || outcome === 'drop';
    const sid = takes ? `SM${String(++sids).padStart(32, '0')}` : undefined;
    received.push({ channel: 'sms', seq: Number(seq), key, outcome, delivered: takes, absorbed: false, sid, at: Date.now() });
    if (outcome === 'refuse') return answer(res, outcome, 400, { code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 });
    if (outcome === 'busy') return answer(res, outcome, 503, { code: 20503, message: 'Service unavailable', status: 503 });
    answer(res, outcome, 201, { sid, status: 'queued' });
  };

  const server: Server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        if (req.method === 'POST' && path === '/hooks/soak') return onWebhook(req, res, body);
        if (req.method === 'POST' && SMS_PATH.test(path)) return onSms(res, body);
        res.writeHead(404).end();
      },
      () => res.destroy(),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Engines are killed with requests open; their sockets die with them, which is not the server's error.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    counts: () => ({ ...counts }),
    async close() {
      for (const timer of slowTimers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
