import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_ERROR_CODES, HttpError, toErrorReply } from '@crm-automation/http';
import { AutomationError, RuleValidationError } from '@crm-automation/core';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('HTTP error codes', () => {
  it('every HTTP code is documented with its status, and only those', () => {
    const section = doc.slice(doc.indexOf('## HTTP codes'));
    const documented = [...section.matchAll(/\|\s*`(CRM_ERR_HTTP_[A-Z_]+)`\s*\|\s*(\d{3})/g)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(HTTP_ERROR_CODES).sort());
  });

  it('maps errors to statuses without internal details', () => {
    expect(toErrorReply(new RuleValidationError([{ path: 'name', code: 'too_small', message: 'x' }])).status).toBe(400);
    expect(toErrorReply(new HttpError(429, 'CRM_ERR_HTTP_RATE_LIMITED', 'slow down', undefined, { 'retry-after': '3' })).headers).toEqual({ 'retry-after': '3' });
    const internal = toErrorReply(new Error('connection string mongodb://user:secret@db failed'));
    expect(internal.status).toBe(500);
    expect(JSON.stringify(internal.body)).not.toContain('secret');
    expect(toErrorReply(new AutomationError('CRM_ERR_GATEWAY', 'provider said no')).status).toBe(500);
  });
});
