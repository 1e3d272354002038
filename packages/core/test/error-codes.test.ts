import { describe, expect, it } from 'vitest';
import { AutomationError, GatewayError, isAutomationError, RuleValidationError } from '@crm-automation/core';

// That every code is documented in docs/errors.md is checked for every package at once, in
// packages/testing/test/error-registries.test.ts.
describe('error codes', () => {
  it('errors are recognised across package copies by brand, not by class identity', () => {
    const foreign = Object.assign(Object.create(null) as object, { [Symbol.for('crm-automation.error')]: true });
    expect(isAutomationError(foreign)).toBe(true);
    expect(isAutomationError(new Error('x'))).toBe(false);
    expect(isAutomationError(new RuleValidationError([{ path: 'name', code: 'too_small', message: 'x' }]))).toBe(true);
  });

  it('serialises without stack traces', () => {
    const json = JSON.parse(JSON.stringify(new GatewayError('nope', { provider: 'twilio', status: 400, retryable: false }))) as Record<string, unknown>;
    expect(json).toEqual({ name: 'GatewayError', code: 'CRM_ERR_GATEWAY', message: 'nope', retryable: false, provider: 'twilio', status: 400 });
    expect(new AutomationError('CRM_ERR_CONFIG', 'x').retryable).toBe(false);
  });
});
