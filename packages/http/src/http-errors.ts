import type { Socket } from 'node:net';
import { isAutomationError, type ValidationIssue } from '@crm-automation/core';
import { CodedError, defineErrorCodes } from '@crm-automation/core/spi';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const HTTP_ERRORS = defineErrorCodes({
  CRM_ERR_HTTP_BAD_REQUEST: 'The request is malformed: bad JSON, a bad query or path parameter, a bad header.',
  CRM_ERR_HTTP_UNAUTHENTICATED: 'Missing or invalid credentials.',
  CRM_ERR_HTTP_FORBIDDEN: 'The credentials lack the scope this route needs, or a provider webhook (inbound SMS) is unsigned or its signature does not match.',
  CRM_ERR_HTTP_NOT_FOUND: 'No such route.',
  CRM_ERR_HTTP_BODY_TOO_LARGE: 'The request body is larger than the limit.',
  CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: 'The request body is not application/json.',
  CRM_ERR_HTTP_RATE_LIMITED: 'Too many requests for this account; retry after the Retry-After delay.',
  CRM_ERR_HTTP_PRECONDITION: 'The If-Match header is not a rule version.',
  CRM_ERR_HTTP_INTERNAL: 'The server failed; the request may be retried.',
  CRM_ERR_HTTP_DELIVERY_NOT_FOUND: 'No delivery with that id exists in this account.',
  CRM_ERR_HTTP_DELIVERY_STATE: 'Only an unknown delivery can be resolved; this one has an outcome already.',
  CRM_ERR_HTTP_TRIGGER_SERVICE_UNAVAILABLE: 'The trigger service that keeps the triggers did not answer (down, slow or misconfigured); retry after the Retry-After delay.',
});

/** Codes the HTTP layer adds to core's (docs/errors.md lists both). */
export const HTTP_ERROR_CODES = HTTP_ERRORS.codes;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/**
 * An error with the HTTP status and body it maps to. `code` is one of the HTTP layer's codes or one
 * of core's (a refusal a route answers itself, or one relayed from a trigger service); `retryable`
 * is true for 429 and 5xx, the answers a client may retry.
 */
export class HttpError extends CodedError<string> {
  constructor(
    readonly statusCode: number,
    code: string,
    message: string,
    readonly issues?: readonly ValidationIssue[] | undefined,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message, { retryable: statusCode === 429 || statusCode >= 500 });
    this.name = 'HttpError';
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), statusCode: this.statusCode, ...(this.issues ? { issues: this.issues } : {}) };
  }
}

const CORE_STATUS: Record<string, number> = {
  CRM_ERR_RULE_INVALID: 400,
  CRM_ERR_EVENT_INVALID: 400,
  CRM_ERR_POLICY_INVALID: 400,
  CRM_ERR_CONFIG: 400,
  CRM_ERR_RULE_NOT_FOUND: 404,
  CRM_ERR_TRIGGER_NOT_FOUND: 404,
  CRM_ERR_VERSION_CONFLICT: 409,
  CRM_ERR_TRIGGER_STATE: 409,
};

const FASTIFY_ERRORS: Record<string, [number, HttpErrorCode, string?]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'CRM_ERR_HTTP_BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'CRM_ERR_HTTP_BAD_REQUEST', 'request body is not valid JSON'],
  FST_ERR_BAD_URL: [400, 'CRM_ERR_HTTP_BAD_REQUEST', 'the URL is not valid (a bad percent-escape?)'],
  FST_ERR_MAX_PARAM_LENGTH: [400, 'CRM_ERR_HTTP_BAD_REQUEST', 'a path parameter of the URL is too long'],
  FST_ERR_NOT_FOUND: [404, 'CRM_ERR_HTTP_NOT_FOUND', 'no such route'],
  FST_ERR_VALIDATION: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
};

const CLIENT_STATUS: Record<number, [number, HttpErrorCode]> = {
  404: [404, 'CRM_ERR_HTTP_NOT_FOUND'],
  413: [413, 'CRM_ERR_HTTP_BODY_TOO_LARGE'],
  415: [415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE'],
};

// Fastify's messages for these name the path, which may be long or hold the offending bytes.
const MAX_MESSAGE_LENGTH = 300;

export interface ErrorBody {
  error: { code: string; message: string; issues?: readonly ValidationIssue[] | undefined };
}

/** Maps any thrown value to a status and a body that never carries a stack trace or internal detail. */
export function toErrorReply(error: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof HttpError) {
    return {
      status: error.statusCode,
      body: { error: { code: error.code, message: error.message, ...(error.issues ? { issues: error.issues } : {}) } },
      headers: { ...error.headers },
    };
  }
  if (isAutomationError(error)) {
    const issues = (error as { issues?: readonly ValidationIssue[] }).issues;
    const status = CORE_STATUS[error.code] ?? 500;
    if (status === 500) return internal();
    return { status, body: { error: { code: error.code, message: error.message, ...(issues ? { issues } : {}) } }, headers: {} };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  const known = fastifyError?.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (known) {
    const message = known[2] ?? (typeof fastifyError?.message === 'string' ? fastifyError.message.slice(0, MAX_MESSAGE_LENGTH) : HTTP_ERROR_CODES[known[1]]);
    return { status: known[0], body: { error: { code: known[1], message } }, headers: {} };
  }
  if (error instanceof SyntaxError) {
    return { status: 400, body: { error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: 'request body is not valid JSON' } }, headers: {} };
  }
  // Any other client error (a 4xx Fastify or a plugin raises): our code for its status, our message.
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const [answer, code] = CLIENT_STATUS[status] ?? [400, 'CRM_ERR_HTTP_BAD_REQUEST'];
    return { status: answer, body: { error: { code, message: HTTP_ERROR_CODES[code] } }, headers: {} };
  }
  return internal();
}

function internal() {
  return { status: 500, body: { error: { code: 'CRM_ERR_HTTP_INTERNAL', message: HTTP_ERROR_CODES.CRM_ERR_HTTP_INTERNAL } }, headers: {} };
}

/** A Fastify error handler that answers `{ error: { code, message, issues? } }` and logs 5xx. */
export function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers } = toErrorReply(error);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(status).headers(headers).type('application/json').send(body);
}

/** Answers a request for a route that does not exist: 404 `CRM_ERR_HTTP_NOT_FOUND`. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  return replyWithError(new HttpError(404, 'CRM_ERR_HTTP_NOT_FOUND', `no route ${request.method} ${path.slice(0, 200)}`), request, reply);
}

/**
 * For Fastify's `frameworkErrors` server option: errors raised before routing (a URL with a bad
 * percent-escape such as `/api/v1/%E0%A4%A`, an over-long path parameter) answer the same
 * `{ error: { code, message } }` body as every other error, not Fastify's default one.
 *
 * @example
 * const app = Fastify({ frameworkErrors: frameworkErrorHandler, clientErrorHandler });
 * useJsonErrors(app);
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  replyWithError(error, request, reply);
}

const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * For Fastify's `clientErrorHandler` server option: a request Node's HTTP parser refuses (a bad
 * method, a malformed header line) answers `{ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message } }`
 * and closes the connection, instead of Fastify's default body.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  // Nothing can be written to a reset or destroyed connection.
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    socket.destroy();
    return;
  }
  const [status, reason] = CLIENT_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request'];
  const body = JSON.stringify({ error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: status === 400 ? 'malformed HTTP request' : reason.toLowerCase() } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Makes an app answer every error, unknown route included, with `{ error: { code, message } }`: its
 * error handler and 404 handler. Call it before registering plugins (a 404 handler can be set once per
 * prefix), and create the app with `frameworkErrors: frameworkErrorHandler` and `clientErrorHandler`
 * for the errors raised before routing.
 */
export function useJsonErrors(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  app.setNotFoundHandler(notFoundHandler);
}

/**
 * Sets a JSON 404 handler for a plugin's prefix unless the host already set one there (Fastify
 * allows one per prefix; the host's own wins).
 */
export function setNotFoundHandlerUnlessSet(app: FastifyInstance): void {
  try {
    app.setNotFoundHandler(notFoundHandler);
  } catch (error) {
    if (!(error instanceof Error) || !/already set/i.test(error.message)) throw error;
  }
}
