import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAutomationMetrics } from '@crm-automation/metrics';

// A wrong kind of value for a known option is a CRM_ERR_CONFIG naming it, not prom-client's TypeError.
describe('createAutomationMetrics refuses wrong kinds of values', () => {
  it.each([
    ['registry', ['x', 42, {}, [], () => new Registry()]],
    ['defaultLabels', ['x', 42, [], { service: 1 }, { service: null }]],
    ['processMetrics', ['yes', 1, {}]],
  ] as const)('%s', (key, values) => {
    for (const value of values) {
      let error: unknown;
      try {
        createAutomationMetrics({ [key]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
  });

  it.each([null, 'x', 42, []])('refuses %j as options', (options) => {
    expect(() => createAutomationMetrics(options as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });

  it('accepts the right kinds', () => {
    expect(() => createAutomationMetrics({ registry: new Registry(), defaultLabels: { service: 'rules' }, processMetrics: false })).not.toThrow();
  });
});
