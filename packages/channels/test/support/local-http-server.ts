import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type RequestHandler = (request: ReceivedRequest, response: ServerResponse) => void | Promise<void>;

export interface LocalHttpServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** An HTTP server on a free loopback port that records every request. */
export async function startLocalHttpServer(handler: RequestHandler): Promise<LocalHttpServer> {
  const sockets = new Set<Socket>();
  const state: LocalHttpServer = {
    url: '',
    port: 0,
    requests: [],
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      state.requests.push(request);
      Promise.resolve(handler(request, res)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  server.on('connection', (socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The provider takes the message (records it as accepted) but its answer never arrives as sent:
 * `hang` never answers, `reset` closes the connection, `slow` answers after `ms`.
 */
export type AnswerLost = { kind: 'hang' } | { kind: 'reset' } | { kind: 'slow'; ms: number };

/** A fake provider that can say when it has taken messages. */
export interface TakesMessages {
  /** Resolves once at least `count` messages were taken. */
  waitForMessages(count: number): Promise<void>;
}

/** Plays an {@link AnswerLost} failure; returns false when `failure` is another kind (answer normally). */
export async function loseAnswer(failure: { kind: string; ms?: number }, res: ServerResponse): Promise<boolean> {
  if (failure.kind === 'hang') return true;
  if (failure.kind === 'reset') {
    res.socket?.destroy();
    return true;
  }
  if (failure.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, failure.ms ?? 0));
  return false;
}

/** Counts taken messages and resolves waiters as the count grows. */
export function messageTaking(count: () => number): { took(): void; waitFor(n: number): Promise<void> } {
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    took() {
      for (const w of [...waiters]) {
        if (count() >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
    waitFor(n) {
      if (count() >= n) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
  };
}
