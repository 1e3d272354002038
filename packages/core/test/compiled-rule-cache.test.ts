import { describe, expect, it } from 'vitest';
import type { Rule } from '@crm-automation/core';
import { CompiledRuleCache } from '../src/rules/compiled-rule-cache.js';
import { technicianSmsRule } from '@crm-automation/testing';

const rule = (version: number, id = '64a5b8e8f1b2c3d4e5f6a7b1'): Rule =>
  ({ ...technicianSmsRule, id, accountId: 'acc', version, enabled: true, createdAt: new Date(0), updatedAt: new Date(0) }) as Rule;

describe('compiled rules', () => {
  it('compiles once per rule version, not per send', () => {
    const cache = new CompiledRuleCache(10, new Map());
    const first = cache.get(rule(1));
    expect(cache.get(rule(1))).toBe(first);
    expect(cache.get(rule(2))).not.toBe(first);
  });

  it('evicts the least recently used version beyond its capacity', () => {
    const cache = new CompiledRuleCache(2, new Map());
    const a = cache.get(rule(1, 'a'.repeat(24)));
    cache.get(rule(1, 'b'.repeat(24)));
    cache.get(rule(1, 'a'.repeat(24)));
    cache.get(rule(1, 'c'.repeat(24)));
    expect(cache.get(rule(1, 'a'.repeat(24)))).toBe(a);
  });
});
