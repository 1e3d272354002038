import { describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { createOtelTracer } from '../src/index.js';

describe('createOtelTracer options', () => {
  it.each([
    ['tracers', 'tracer'],
    ['tracr', 'tracer'],
    ['propagators', 'propagator'],
    ['propagtor', 'propagator'],
    ['Propagator', 'propagator'],
  ])('"%s" is refused, suggesting "%s"', (typo, key) => {
    expect(() => createOtelTracer({ [typo]: trace.getTracer('x') } as never)).toThrow(
      expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(`createOtelTracer: unknown option "${typo}" (did you mean "${key}"?)`) }),
    );
  });

  it('accepts its options', () => {
    expect(createOtelTracer({ tracer: trace.getTracer('x') })).toBeDefined();
    expect(createOtelTracer()).toBeDefined();
  });
});
