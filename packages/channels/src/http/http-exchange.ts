import { Agent, Dispatcher, getGlobalDispatcher, request } from 'undici';
import { transportFailure } from '../outcome/gateway-failure.js';

/** Default bound on how long a provider may take to answer, connect to last byte. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** How much of a response body is read; the rest is discarded (only an excerpt is ever kept). */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpExchangeRequest {
  url: string | URL;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  timeoutMs: number;
  /** A custom undici dispatcher (the webhook gateway's pinned connection); the global one otherwise. */
  dispatcher?: Dispatcher | undefined;
  /** The engine's signal (`SendContext.signal`): aborting it stops the request like the timeout does. */
  signal?: AbortSignal | undefined;
}

export interface HttpExchangeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text, cut at {@link MAX_RESPONSE_BYTES}. */
  body: string;
}

let ownAgent: Agent | undefined;

/**
 * The dispatcher of a request without one of its own: the global dispatcher when it is one of this
 * undici's (an application's `setGlobalDispatcher(new ProxyAgent(...))` is honoured), else an agent of
 * our own. The global slot is shared with Node's built-in fetch, and when anything calls `fetch` before
 * the first send (the pg driver does on import) it holds Node's bundled undici agent, whose handler
 * interface differs from this version's: composing on it fails every request ("invalid onError method").
 */
function defaultDispatcher(): Dispatcher {
  const global = getGlobalDispatcher();
  if (global instanceof Dispatcher) return global;
  ownAgent ??= new Agent();
  return ownAgent;
}

/**
 * The dispatcher, with a hook that notes the moment undici starts writing the request to a connected
 * socket (`onRequestStart`): from then on the provider may have received it, so a failure is
 * ambiguous. Before it (name resolution, connecting, the TLS handshake) nothing has left this process.
 */
function noteWhenWritten(dispatcher: Dispatcher, onWrite: () => void): Dispatcher {
  return dispatcher.compose((dispatch) => (options, handler) =>
    dispatch(options, {
      onRequestStart(controller, context) {
        onWrite();
        handler.onRequestStart?.(controller, context);
      },
      onRequestUpgrade: (controller, statusCode, headers, socket) => handler.onRequestUpgrade?.(controller, statusCode, headers, socket),
      onResponseStart: (controller, statusCode, headers, statusMessage) => handler.onResponseStart?.(controller, statusCode, headers, statusMessage),
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
    }),
  );
}

/**
 * One HTTP request with a hard deadline and a bounded body read. Redirects are never followed.
 * Anything that prevents an answer (timeout, abort, refused, reset) becomes a transient GatewayError,
 * `ambiguous` when the request had started to be written (the provider may have acted on it: a
 * timeout waiting for the answer, a connection reset or closed mid-response) and not ambiguous when
 * nothing was sent (DNS failure, connection refused, TLS handshake failure, connect timeout).
 * Classifying the answer is the caller's job (see `httpFailure`).
 */
export async function httpExchange(provider: string, req: HttpExchangeRequest): Promise<HttpExchangeResponse> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout.signal, req.signal]) : timeout.signal;
  let written = false;
  let stopWaiting = () => {};
  try {
    if (req.signal?.aborted) throw req.signal.reason;
    const sending = request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body ?? null,
      signal,
      dispatcher: noteWhenWritten(req.dispatcher ?? defaultDispatcher(), () => (written = true)),
    });
    // undici acts on an abort only once the socket is connected (it then writes nothing): a connect or
    // TLS handshake that hangs would keep the send waiting for its connect timeout, long after the
    // engine or the deadline gave up. Until the request is being written, the abort ends the wait here.
    const notWrittenYet = new Promise<never>((_resolve, reject) => {
      const onAbort = () => {
        if (!written) reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      stopWaiting = () => signal.removeEventListener('abort', onAbort);
    });
    sending.then(
      (late) => {
        // Answered after this wait ended: nothing reads the body, so it is released.
        if (signal.aborted && !written) late.body.destroy();
      },
      () => undefined,
    );
    const response = await Promise.race([sending, notWrittenYet]);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= MAX_RESPONSE_BYTES) {
        response.body.destroy();
        break;
      }
    }
    return {
      status: response.statusCode,
      headers: response.headers,
      body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
    };
  } catch (error) {
    if (timeout.signal.aborted) throw transportFailure(provider, timeout.signal.reason, 'request timed out', { ambiguous: written });
    if (req.signal?.aborted) throw transportFailure(provider, req.signal.reason, 'request aborted', { ambiguous: written });
    throw transportFailure(provider, error, 'request', { ambiguous: written });
  } finally {
    stopWaiting();
    clearTimeout(timer);
  }
}

/** Parses a JSON response body, or returns undefined when it is not JSON. */
export function parseJsonBody(body: string): unknown {
  if (body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
