import { describe, expect, it } from 'vitest';
import { tickBatch } from '../src/tick-batch.js';

describe('tickBatch', () => {
  it('answers the calls of one turn with one load of their distinct keys, issued after the last call', async () => {
    const loads: string[][] = [];
    const load = tickBatch<string, number>(async (keys) => {
      loads.push([...keys]);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
    });
    const first = [load('a'), load('bb'), load('a'), load('missing')];
    expect(loads).toEqual([]);
    expect(await Promise.all(first)).toEqual([1, 2, 1, undefined]);
    expect(loads).toEqual([['a', 'bb', 'missing']]);
    expect(await load('ccc')).toBe(3);
    expect(loads).toEqual([['a', 'bb', 'missing'], ['ccc']]);
  });

  it('rejects every call of a failed load, and the next turn loads again', async () => {
    let fail = true;
    const load = tickBatch<string, string>(async (keys) => {
      if (fail) throw new Error('down');
      return new Map(keys.map((k) => [k, k]));
    });
    const settled = await Promise.allSettled([load('x'), load('y')]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await load('x')).toBe('x');
  });
});
