import { describe, expect, it } from 'vitest';
import { HTTP_ERROR_CODES, HttpError, toErrorReply } from '@crm-automation/http';
import { AutomationError, RuleValidationError } from '@crm-automation/core';

// That every HTTP code is documented in docs/errors.md with its status is checked for every package
// at once, in packages/testing/test/error-registries.test.ts.
describe('HTTP error codes', () => {
  it('maps errors to statuses without internal details', () => {
    expect(toErrorReply(new RuleValidationError([{ path: 'name', code: 'too_small', message: 'x' }])).status).toBe(400);
    expect(toErrorReply(new HttpError(429, 'CRM_ERR_HTTP_RATE_LIMITED', 'slow down', undefined, { 'retry-after': '3' })).headers).toEqual({ 'retry-after': '3' });
    const internal = toErrorReply(new Error('connection string mongodb://user:secret@db failed'));
    expect(internal.status).toBe(500);
    expect(JSON.stringify(internal.body)).not.toContain('secret');
    expect(toErrorReply(new AutomationError('CRM_ERR_GATEWAY', 'provider said no')).status).toBe(500);
  });

  it.each([
    ['a Fastify bad URL', Object.assign(new Error("'/%' is not a valid url component"), { code: 'FST_ERR_BAD_URL', statusCode: 400 }), 400, 'CRM_ERR_HTTP_BAD_REQUEST'],
    ['an over-long path parameter', Object.assign(new Error('x'), { code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 }), 400, 'CRM_ERR_HTTP_BAD_REQUEST'],
    ['bad JSON', Object.assign(new SyntaxError('Unexpected end of JSON input'), { statusCode: 400 }), 400, 'CRM_ERR_HTTP_BAD_REQUEST'],
    ['a plugin 400', Object.assign(new Error('detail that stays inside'), { statusCode: 400 }), 400, 'CRM_ERR_HTTP_BAD_REQUEST'],
    ['a plugin 404', Object.assign(new Error('detail that stays inside'), { statusCode: 404 }), 404, 'CRM_ERR_HTTP_NOT_FOUND'],
    ['a plugin 413', Object.assign(new Error('detail that stays inside'), { statusCode: 413 }), 413, 'CRM_ERR_HTTP_BODY_TOO_LARGE'],
    ['a plugin 415', Object.assign(new Error('detail that stays inside'), { statusCode: 415 }), 415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE'],
    ['a plugin 422', Object.assign(new Error('detail that stays inside'), { statusCode: 422 }), 400, 'CRM_ERR_HTTP_BAD_REQUEST'],
    ['a plugin 500', Object.assign(new Error('detail that stays inside'), { statusCode: 500 }), 500, 'CRM_ERR_HTTP_INTERNAL'],
    ['a thrown string', 'boom', 500, 'CRM_ERR_HTTP_INTERNAL'],
    ['null', null, 500, 'CRM_ERR_HTTP_INTERNAL'],
  ])('maps %s to %d %s without its detail', (_name, error, status, code) => {
    const reply = toErrorReply(error);
    expect(reply.status).toBe(status);
    expect(reply.body.error.code).toBe(code);
    expect(JSON.stringify(reply.body)).not.toContain('detail that stays inside');
    expect(Object.keys(HTTP_ERROR_CODES)).toContain(code);
  });
});
