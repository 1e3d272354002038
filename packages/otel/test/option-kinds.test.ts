import { propagation, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createOtelTracer } from '@crm-automation/otel';

// A tracer or propagator that is not one is a CRM_ERR_CONFIG naming it, not a TypeError on the first span.
describe('createOtelTracer refuses wrong kinds of values', () => {
  it.each([
    ['tracer', ['x', 42, {}, [], null, () => trace.getTracer('t')]],
    ['propagator', ['w3c', 42, {}, { inject: () => undefined }, null]],
  ] as const)('%s', (key, values) => {
    for (const value of values) {
      let error: unknown;
      try {
        createOtelTracer({ [key]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as string });
    }
  });

  it.each([null, 'x', 42, []])('refuses %j as options', (options) => {
    expect(() => createOtelTracer(options as never)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });

  it('accepts the right kinds', () => {
    expect(() => createOtelTracer({ tracer: trace.getTracer('t'), propagator: propagation })).not.toThrow();
  });
});
