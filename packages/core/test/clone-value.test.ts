import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneValue } from '../src/memory/clone-value.js';

/** What structuredClone gives, or the name of the error it throws. */
function outcome(clone: (v: unknown) => unknown, value: unknown): { value: unknown } | { error: string } {
  try {
    return { value: clone(value) };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

describe('cloneValue', () => {
  it('gives what structuredClone gives for JSON-like values, Dates and undefined', () => {
    const leaf = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.date({ noInvalidDate: false }));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(
      fc.property(tree, (value) => {
        const copy = cloneValue(value);
        expect(copy).toStrictEqual(structuredClone(value));
        if (typeof value === 'object' && value !== null) expect(copy).not.toBe(value);
      }),
      { numRuns: 2_000 },
    );
  });

  it('copies nested objects, so the copy shares nothing with the original', () => {
    const event = { id: 'e', timestamp: new Date(5), payload: { job: { tags: ['a'], n: -0 } } };
    const copy = cloneValue(event);
    expect(copy).toStrictEqual(structuredClone(event));
    expect(copy.payload.job).not.toBe(event.payload.job);
    expect(copy.payload.job.tags).not.toBe(event.payload.job.tags);
    expect(copy.timestamp).not.toBe(event.timestamp);
    expect(Object.is(copy.payload.job.n, -0)).toBe(true);
  });

  it('hands everything else to structuredClone: shared objects, holes, class instances, maps, own __proto__, functions, proxies', () => {
    const shared = { a: 1 };
    const holes: unknown[] = [1];
    holes[3] = 2;
    const named = Object.assign([1, 2], { extra: true });
    class Point {
      constructor(readonly x: number) {}
    }
    const dated = Object.assign(new Date(1), { note: 'x' });
    const cases: unknown[] = [
      { left: shared, right: shared },
      holes,
      named,
      new Point(1),
      new Map([[1, 2]]),
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { nested: { fn: () => 1 } },
      { id: Symbol('s') },
      { big: 10n },
      new Proxy({ a: 1 }, {}),
      { inner: new Proxy({ a: 1 }, {}) },
      dated,
      Object.create(null),
      /re/g,
      new Uint8Array([1, 2]),
    ];
    for (const value of cases) {
      const ours = outcome(cloneValue, value);
      const reference = outcome(structuredClone, value);
      expect(ours).toStrictEqual(reference);
    }
    const copy = cloneValue({ left: shared, right: shared });
    expect(copy.left).toBe(copy.right);
  });
});
