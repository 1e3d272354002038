import type { Rule, RuleSource } from '@crm-automation/core';
import { describe, expect, it } from 'vitest';
import { cachedRuleSource } from '../src/trigger-service/rule-lookup/cached-rule-source.js';

const rule = (version: number): Rule => ({
  id: 'r1',
  accountId: 'acc',
  name: 'n',
  enabled: true,
  trigger: { eventName: 'job.created' },
  delay: { value: 0, unit: 'minutes' },
  conditions: { all: [] },
  actions: [],
  version,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

function remote() {
  const state = { calls: 0, down: false, version: 1 };
  const source: RuleSource = {
    async findRulesForEvent() {
      state.calls += 1;
      if (state.down) throw new Error('rules service down');
      return [rule(state.version)];
    },
    async getRule() {
      state.calls += 1;
      if (state.down) throw new Error('rules service down');
      return rule(state.version);
    },
  };
  return { state, source };
}

describe('cachedRuleSource', () => {
  it('answers from the cache within the TTL and asks again after it', async () => {
    let now = 0;
    const { state, source } = remote();
    const cached = cachedRuleSource(source, { ttlMs: 1_000, staleMs: 0, now: () => now });
    await cached.findRulesForEvent('acc', 'job.created');
    state.version = 2;
    expect((await cached.findRulesForEvent('acc', 'job.created'))[0]?.version).toBe(1);
    expect(state.calls).toBe(1);
    now = 1_000;
    expect((await cached.findRulesForEvent('acc', 'job.created'))[0]?.version).toBe(2);
    expect(state.calls).toBe(2);
  });

  it('shares one call between concurrent misses', async () => {
    const { state, source } = remote();
    const cached = cachedRuleSource(source, { ttlMs: 1_000, staleMs: 0 });
    await Promise.all([cached.getRule('acc', 'r1'), cached.getRule('acc', 'r1'), cached.getRule('acc', 'r1')]);
    expect(state.calls).toBe(1);
  });

  it('serves a stale answer while the source fails, within the stale window only', async () => {
    let now = 0;
    const stale: number[] = [];
    const { state, source } = remote();
    const cached = cachedRuleSource(source, { ttlMs: 100, staleMs: 1_000, now: () => now, onStale: (_k, age) => stale.push(age) });
    await cached.getRule('acc', 'r1');
    state.down = true;
    now = 500;
    expect(await cached.getRule('acc', 'r1')).toMatchObject({ version: 1 });
    expect(stale).toEqual([500]);
    now = 1_100;
    await expect(cached.getRule('acc', 'r1')).rejects.toThrow('rules service down');
  });

  it('without a stale window, fails as soon as the TTL is over', async () => {
    let now = 0;
    const { state, source } = remote();
    const cached = cachedRuleSource(source, { ttlMs: 100, staleMs: 0, now: () => now });
    await cached.getRule('acc', 'r1');
    state.down = true;
    now = 100;
    await expect(cached.getRule('acc', 'r1')).rejects.toThrow('rules service down');
  });
});
