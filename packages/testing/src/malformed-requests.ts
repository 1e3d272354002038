import { request as httpRequest } from 'node:http';
import { expect } from 'vitest';

/*
 * Requests every HTTP service of this SDK must refuse the same way, and the check of its error body:
 * the Rules API, the Notification Service and the examples' services run them, so a framework error
 * (a bad percent-escape, broken JSON, another media type, a body over the limit) never leaks
 * Fastify's own answer.
 */

/** One malformed request and the answer every server must give it. */
export interface MalformedRequest {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
  status: number;
  code: string;
}

const BAD_PERCENT_ESCAPES = ['%E0%A4%A', '%', '%zz', '%C0%AF', '%E0%A4', '%FF', '%ED%A0%80', 'a%2', '%%'];
const BAD_JSON = ['{', '{"a":', 'nul', '[1,]', '{"a":1}}', "{'a':1}", '{"a":1,}', '{"a" 1}', '\u0000', '"unterminated', '{"a":01}', '{"a":NaN}'];
const OTHER_MEDIA_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/json', 'application/octet-stream'];

/**
 * Malformed requests of every class a framework error comes from: the URL, the route, the body's
 * encoding, its media type and its size. `bodyRoute` is a JSON route of the server under test (a
 * server without one gets the URL and route classes only); `headers` lets the request through its
 * authentication (so the body is what is wrong).
 */
export function malformedRequests(options: { bodyRoute?: string; headers?: Record<string, string>; bodyLimit?: number; knownPaths: string[]; idRoute?: string }): MalformedRequest[] {
  const auth = options.headers ?? {};
  const json = { ...auth, 'content-type': 'application/json' };
  const requests: MalformedRequest[] = [];
  for (const path of options.knownPaths) {
    for (const escape of BAD_PERCENT_ESCAPES) {
      requests.push({ name: `bad percent-escape ${escape} in ${path}`, method: 'GET', url: `${path}/${escape}`, headers: auth, status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    }
  }
  if (options.idRoute) {
    // Over Fastify's parameter limit (a framework error) and over the id schema's (the route's).
    for (const length of [65, 100, 101, 200, 5000]) {
      requests.push({ name: `an id of ${length} characters`, method: 'GET', url: `${options.idRoute}/${'x'.repeat(length)}`, headers: auth, status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    }
    for (const id of ['%00', '%20', 'a%0Ab', '%7F']) {
      requests.push({ name: `an id ${id}`, method: 'GET', url: `${options.idRoute}/${id}`, headers: auth, status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    }
  }
  for (const [method, url] of [['GET', '/nope'], ['POST', '/nope'], ['GET', '/api'], ['GET', '/%2e%2e/etc/passwd'], ['GET', `/${'x'.repeat(3000)}`]] as const) {
    requests.push({ name: `unknown route ${method} ${url.slice(0, 40)}`, method, url, headers: auth, status: 404, code: 'CRM_ERR_HTTP_NOT_FOUND' });
  }
  const bodyRoute = options.bodyRoute;
  if (bodyRoute === undefined) return requests;
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  for (const method of ['PATCH', 'DELETE'] as const) {
    requests.push({ name: `unknown route ${method} ${bodyRoute}`, method, url: bodyRoute, headers: auth, status: 404, code: 'CRM_ERR_HTTP_NOT_FOUND' });
  }
  requests.push({ name: 'bad percent-escape on a POST', method: 'POST', url: `${bodyRoute}%E0%A4%A`, headers: json, payload: '{}', status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
  for (const body of BAD_JSON) {
    requests.push({ name: `bad JSON ${JSON.stringify(body)}`, method: 'POST', url: bodyRoute, headers: json, payload: body, status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
  }
  requests.push({ name: 'an empty JSON body', method: 'POST', url: bodyRoute, headers: json, payload: '', status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
  for (const body of ['{"__proto__":{"admin":true}}', '{"a":{"__proto__":{}}}', '{"constructor":{"prototype":{"admin":true}}}']) {
    requests.push({ name: `prototype poisoning ${body}`, method: 'POST', url: bodyRoute, headers: json, payload: body, status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
  }
  for (const type of OTHER_MEDIA_TYPES) {
    requests.push({ name: `content type ${type}`, method: 'POST', url: bodyRoute, headers: { ...auth, 'content-type': type }, payload: 'a=1', status: 415, code: 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' });
  }
  requests.push({ name: 'a body over the limit', method: 'POST', url: bodyRoute, headers: json, payload: JSON.stringify({ x: 'x'.repeat(bodyLimit) }), status: 413, code: 'CRM_ERR_HTTP_BODY_TOO_LARGE' });
  requests.push({ name: 'a body just over the limit', method: 'POST', url: bodyRoute, headers: json, payload: `"${'x'.repeat(bodyLimit - 1)}"`, status: 413, code: 'CRM_ERR_HTTP_BODY_TOO_LARGE' });
  return requests;
}

/** The answer is `{ error: { code, message } }` (plus `issues`), JSON, without a stack or Fastify's fields. */
export function expectErrorBody(response: RawResponse, expected: { status: number; code: string }): void {
  expect(response.statusCode, response.body).toBe(expected.status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['error']);
  const error = body['error'] as Record<string, unknown>;
  expect(error['code']).toBe(expected.code);
  expect(typeof error['message']).toBe('string');
  expect(Object.keys(error).filter((k) => !['code', 'message', 'issues'].includes(k))).toEqual([]);
  expect(response.body).not.toMatch(/FST_ERR|statusCode|\n\s+at /);
}

/** A server's answer as {@link expectErrorBody} reads it. */
export interface RawResponse {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Sends one request to `base` over real HTTP with `path` exactly as written (no client normalisation
 * of percent-escapes or dot segments), so a malformed request reaches the server as it is.
 */
export function sendRawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, payload?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: payload === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(payload)) } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
