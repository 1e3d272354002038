import { isAutomationError, type ValidationIssue } from '@crm-automation/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Codes the HTTP layer adds to core's (docs/errors.md lists both). */
export const HTTP_ERROR_CODES = {
  CRM_ERR_HTTP_BAD_REQUEST: 'The request is malformed: bad JSON, a bad query or path parameter, a bad header.',
  CRM_ERR_HTTP_UNAUTHENTICATED: 'Missing or invalid credentials.',
  CRM_ERR_HTTP_FORBIDDEN: 'The credentials lack the scope this route needs.',
  CRM_ERR_HTTP_NOT_FOUND: 'No such route.',
  CRM_ERR_HTTP_BODY_TOO_LARGE: 'The request body is larger than the limit.',
  CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: 'The request body is not application/json.',
  CRM_ERR_HTTP_RATE_LIMITED: 'Too many requests for this account; retry after the Retry-After delay.',
  CRM_ERR_HTTP_PRECONDITION: 'The If-Match header is not a rule version.',
  CRM_ERR_HTTP_INTERNAL: 'The server failed; the request may be retried.',
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** An error with the HTTP status and body it maps to. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: readonly ValidationIssue[] | undefined,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const CORE_STATUS: Record<string, number> = {
  CRM_ERR_RULE_INVALID: 400,
  CRM_ERR_EVENT_INVALID: 400,
  CRM_ERR_CONFIG: 400,
  CRM_ERR_RULE_NOT_FOUND: 404,
  CRM_ERR_TRIGGER_NOT_FOUND: 404,
  CRM_ERR_VERSION_CONFLICT: 409,
  CRM_ERR_TRIGGER_STATE: 409,
};

const FASTIFY_ERRORS: Record<string, [number, HttpErrorCode]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'CRM_ERR_HTTP_BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'CRM_ERR_HTTP_BAD_REQUEST'],
};

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
  if (known) return { status: known[0], body: { error: { code: known[1], message: fastifyError?.message ?? HTTP_ERROR_CODES[known[1]] } }, headers: {} };
  if (error instanceof SyntaxError || (fastifyError?.statusCode === 400 && typeof fastifyError.message === 'string')) {
    return { status: 400, body: { error: { code: 'CRM_ERR_HTTP_BAD_REQUEST', message: 'request body is not valid JSON' } }, headers: {} };
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
