import { request, type Dispatcher } from 'undici';
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
}

export interface HttpExchangeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text, cut at {@link MAX_RESPONSE_BYTES}. */
  body: string;
}

/**
 * One HTTP request with a hard deadline and a bounded body read. Redirects are never followed.
 * Anything that prevents an answer (timeout, refused, reset) becomes a transient GatewayError;
 * classifying the answer is the caller's job (see `httpFailure`).
 */
export async function httpExchange(provider: string, req: HttpExchangeRequest): Promise<HttpExchangeResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
  try {
    const response = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body ?? null,
      signal: controller.signal,
      ...(req.dispatcher ? { dispatcher: req.dispatcher } : {}),
    });
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
    if (controller.signal.aborted) throw transportFailure(provider, controller.signal.reason, 'request timed out');
    throw transportFailure(provider, error);
  } finally {
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
