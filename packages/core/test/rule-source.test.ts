import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, type RuleSource } from '@crm-automation/core';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

describe('rules read from a rule source (a Rules Service client)', () => {
  it('intake and evaluation read the rule source; triggers stay in the store', async () => {
    const clock = createManualClock(0);
    const rulesDb = createAutomationEngine({ store: createMemoryStore(), clock });
    const rule = await rulesDb.rules.create('acc_1', technicianSmsRule);
    const calls: string[] = [];
    const source: RuleSource = {
      findRulesForEvent: async (accountId, eventName) => (calls.push(`find ${eventName}`), rulesDb.store.findRulesForEvent(accountId, eventName)),
      getRule: async (accountId, id) => (calls.push(`get ${id}`), rulesDb.store.getRule(accountId, id)),
    };
    const sms = createRecordingChannel();
    const triggers = createMemoryStore();
    const engine = createAutomationEngine({ store: triggers, ruleSource: source, clock, channels: { sms } });
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    expect(trigger?.ruleId).toBe(rule.id);
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(calls).toEqual(['find job.status.changed', `get ${rule.id}`]);
    expect(sms.sent).toHaveLength(1);
  });

  it('reads each rule once per claimed batch, however many of its triggers the batch holds', async () => {
    const clock = createManualClock(0);
    const rulesDb = createAutomationEngine({ store: createMemoryStore(), clock });
    const first = await rulesDb.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    const second = await rulesDb.rules.create('acc_1', { ...technicianSmsRule, name: 'second', delay: { value: 0, unit: 'minutes' } });
    const gets: string[] = [];
    const source: RuleSource = {
      findRulesForEvent: (a, e) => rulesDb.store.findRulesForEvent(a, e),
      getRule: async (a, id) => (gets.push(id), rulesDb.store.getRule(a, id)),
    };
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), ruleSource: source, clock, channels: { sms }, batchSize: 100 });
    for (let i = 0; i < 10; i++) await engine.ingest({ id: `e${i}`, name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    // The first claim takes 2 x concurrency (32) at most: all 20 triggers in one batch.
    expect(await engine.runDue()).toMatchObject({ claimed: 20, completed: 20 });
    expect(gets.sort()).toEqual([first.id, second.id].sort());
    expect(sms.sent).toHaveLength(20);
  });

  it('a rule source that is down fails intake (the bus redelivers) and defers due triggers, which catch up', async () => {
    const clock = createManualClock(0);
    const rulesDb = createAutomationEngine({ store: createMemoryStore(), clock });
    await rulesDb.rules.create('acc_1', { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } });
    let down = false;
    const source: RuleSource = {
      findRulesForEvent: async (a, e) => { if (down) throw new Error('rules service unavailable'); return rulesDb.store.findRulesForEvent(a, e); },
      getRule: async (a, id) => { if (down) throw new Error('rules service unavailable'); return rulesDb.store.getRule(a, id); },
    };
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({ store: createMemoryStore(), ruleSource: source, clock, channels: { sms }, backoff: { baseMs: 1_000, jitter: 0 }, maxAttempts: 5 });
    await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload });
    down = true;
    await expect(engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload })).rejects.toThrow('unavailable');
    // An outage longer than the attempt budget (maxAttempts 5) delays the trigger but does not fail it.
    for (let i = 0; i < 8; i++) {
      expect(await engine.runDue()).toMatchObject({ retrying: 1 });
      await clock.advance(60 * 60_000);
    }
    down = false;
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
  });

  it('ingest with rules already matched (the pub/sub lookup) keeps only rules of this account and event', async () => {
    const clock = createManualClock(0);
    const rulesDb = createAutomationEngine({ store: createMemoryStore(), clock });
    const good = await rulesDb.rules.create('acc_1', technicianSmsRule);
    const otherAccount = await rulesDb.rules.create('acc_2', technicianSmsRule);
    const otherEvent = await rulesDb.rules.create('acc_1', { ...technicianSmsRule, trigger: { eventName: 'job.created' } });
    const engine = createAutomationEngine({ store: createMemoryStore(), ruleSource: rulesDb.store, clock });
    const triggers = await engine.ingest({ name: 'job.status.changed', accountId: 'acc_1', payload: doneJobPayload }, { rules: [good, otherAccount, otherEvent] });
    expect(triggers.map((t) => t.ruleId)).toEqual([good.id]);
  });
});

describe('rule change notifications', () => {
  it('emits rule:changed on create, update and delete', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    const seen: Array<[string, number | null]> = [];
    engine.on('rule:changed', ({ ruleId, rule }) => seen.push([ruleId, rule?.version ?? null]));
    const rule = await engine.rules.create('acc_1', technicianSmsRule);
    await engine.rules.update('acc_1', rule.id, technicianSmsRule);
    await engine.rules.delete('acc_1', rule.id);
    await engine.rules.delete('acc_1', rule.id);
    expect(seen).toEqual([[rule.id, 1], [rule.id, 2], [rule.id, null]]);
  });
});
