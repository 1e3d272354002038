import { describe, expect, it } from 'vitest';
import type { Rule } from '@crm-automation/core';
import { CompiledRuleCache } from '../src/rules/compiled-rule-cache.js';
import { technicianSmsRule } from '@crm-automation/testing';

const rule = (version: number, id = '64a5b8e8f1b2c3d4e5f6a7b1'): Rule =>
  ({ ...technicianSmsRule, id, accountId: 'acc', version, enabled: true, createdAt: new Date(0), updatedAt: new Date(0) }) as Rule;

describe('compiled rules found by the rule object (a store that hands out the same object)', () => {
  it('answers the same object and an equal copy with one compiled rule', () => {
    const compiledRules: Rule[] = [];
    const cache = new CompiledRuleCache(10, new Map(), (r) => compiledRules.push(r));
    const stored = rule(1);
    const first = cache.get(stored);
    expect(cache.get(stored)).toBe(first);
    const copy = rule(1);
    expect(cache.get(copy)).toBe(first);
    // The copy took the object path over; the first object is still answered (by its key).
    expect(cache.get(stored)).toBe(first);
    expect(compiledRules).toHaveLength(1);
  });

  it('does not answer an object whose version was changed with the old version', () => {
    const cache = new CompiledRuleCache(10, new Map());
    const mutable = rule(1) as Rule & { version: number };
    const v1 = cache.get(mutable);
    mutable.version = 2;
    const v2 = cache.get(mutable);
    expect(v2).not.toBe(v1);
    expect(v2.version).toBe(2);
    mutable.version = 1;
    expect(cache.get(mutable)).toBe(v1);
  });

  it('evicts beyond its capacity for objects it was found by, as for keys', () => {
    const compiled: string[] = [];
    const cache = new CompiledRuleCache(2, new Map(), (r) => compiled.push(r.id));
    const a = rule(1, 'a'.repeat(24));
    const b = rule(1, 'b'.repeat(24));
    const c = rule(1, 'c'.repeat(24));
    const first = cache.get(a);
    cache.get(b);
    cache.get(c);
    cache.get(b);
    cache.get(c);
    // `a` was the oldest: evicted, so the same object compiles again.
    const again = cache.get(a);
    expect(again).not.toBe(first);
    expect(compiled).toEqual(['a'.repeat(24), 'b'.repeat(24), 'c'.repeat(24), 'a'.repeat(24)]);
  });
});
