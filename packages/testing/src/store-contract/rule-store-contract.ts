import { describe, expect, it } from 'vitest';
import type { Rule, RuleDraft, RuleStore } from '@crm-automation/core';
import { ACCOUNT, at, EVENT, ids, OTHER_ACCOUNT, ruleDraft, storePerTest, T0, WEIRD_IDS, type ContractFactory } from './fixtures.js';

export interface RuleStoreContractOptions {
  /** Ids of the right general form that this store could never have issued (e.g. a bad ObjectId). */
  malformedIds?: readonly string[] | undefined;
}

/**
 * The behaviour every {@link RuleStore} must have, as a vitest suite. Call it from a test file of the
 * adapter with a factory that returns a fresh, empty store (or `{ store, cleanup }`).
 *
 * @example
 * describeRuleStoreContract('memory', () => createMemoryRuleStore());
 */
export function describeRuleStoreContract<S extends RuleStore>(name: string, factory: ContractFactory<S>, options: RuleStoreContractOptions = {}): void {
  const notFoundIds = [...WEIRD_IDS, ...(options.malformedIds ?? [])];

  describe(`rule store contract: ${name}`, () => {
    let store: S;
    storePerTest(factory, (opened) => (store = opened));

    const insertRule = (overrides: Partial<RuleDraft> = {}, accountId = ACCOUNT, now = T0) => store.insertRule(accountId, ruleDraft(overrides), now);

    it('declares a name and optional capabilities with the right types', () => {
      expect(typeof store.capabilities.name).toBe('string');
      expect(store.capabilities.name.length).toBeGreaterThan(0);
      expect(['boolean', 'undefined']).toContain(typeof store.capabilities.ttlRetention);
    });

    describe('rules: CRUD and account scoping', () => {
      it('stores a rule with an id of its own, version 1 and timestamps, and reads it back unchanged', async () => {
        const rule = await insertRule();
        expect(typeof rule.id).toBe('string');
        expect(rule.id.length).toBeGreaterThan(0);
        expect(rule).toMatchObject({ accountId: ACCOUNT, version: 1, createdAt: T0, updatedAt: T0, ...ruleDraft() });
        expect(await store.getRule(ACCOUNT, rule.id)).toEqual(rule);
      });

      it('keeps every JSON value of a rule exactly: nested conditions, null, numbers, unicode, empty objects', async () => {
        const draft = ruleDraft({
          conditions: { any: [{ not: { all: [{ fact: 'job', operator: 'in', value: [1, 2.5, -0.25, 1e21, null, true, 'ü€😀', { deep: { x: [] } }] }] } }, { fact: 'client', operator: 'equal', value: {}, params: { a: null } }] },
          actions: [{ type: 'webhook', params: { url: 'https://example.com/{{job.id}}', method: 'PUT', headers: { 'x-a': 'b' }, payload: { list: [1, { two: 2 }], s: 'line\nbreak', empty: '' } } }],
        });
        const rule = await store.insertRule(ACCOUNT, draft, T0);
        expect((await store.getRule(ACCOUNT, rule.id))?.conditions).toEqual(draft.conditions);
        expect((await store.getRule(ACCOUNT, rule.id))?.actions).toEqual(draft.actions);
      });

      it('gives every rule its own id', async () => {
        const rules = await Promise.all(Array.from({ length: 10 }, () => insertRule()));
        expect(new Set(ids(rules)).size).toBe(10);
      });

      it("treats another account's rule as not found for every operation", async () => {
        const rule = await insertRule();
        expect(await store.getRule(OTHER_ACCOUNT, rule.id)).toBeNull();
        expect(await store.replaceRule(OTHER_ACCOUNT, rule.id, ruleDraft({ name: 'stolen' }), { now: at(1) })).toEqual({ ok: false, reason: 'not-found' });
        expect(await store.deleteRule(OTHER_ACCOUNT, rule.id)).toBe(false);
        expect((await store.listRules(OTHER_ACCOUNT, {})).items).toEqual([]);
        expect(await store.findRulesForEvent(OTHER_ACCOUNT, EVENT)).toEqual([]);
        expect(await store.getRule(ACCOUNT, rule.id)).toEqual(rule);
      });

      it('treats malformed, weird and unknown ids as not found, never as an error', async () => {
        await insertRule();
        const gone = await insertRule();
        await store.deleteRule(ACCOUNT, gone.id);
        for (const id of [...notFoundIds, gone.id]) {
          expect(await store.getRule(ACCOUNT, id)).toBeNull();
          expect(await store.replaceRule(ACCOUNT, id, ruleDraft(), { now: at(1) })).toEqual({ ok: false, reason: 'not-found' });
          expect(await store.deleteRule(ACCOUNT, id)).toBe(false);
        }
        expect((await store.listRules(ACCOUNT, {})).items).toHaveLength(1);
      });

      it('replaces the whole rule, bumps the version and keeps createdAt', async () => {
        const rule = await insertRule();
        const { description: _dropped, ...withoutDescription } = ruleDraft({ name: 'Renamed', enabled: false, delay: { value: 1, unit: 'hours' } });
        const result = await store.replaceRule(ACCOUNT, rule.id, withoutDescription, { now: at(60_000) });
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.rule).toMatchObject({ id: rule.id, accountId: ACCOUNT, name: 'Renamed', enabled: false, version: 2, createdAt: T0, updatedAt: at(60_000), delay: { value: 1, unit: 'hours' } });
        expect(result.rule.description).toBeUndefined();
        expect(await store.getRule(ACCOUNT, rule.id)).toEqual(result.rule);
        const third = await store.replaceRule(ACCOUNT, rule.id, ruleDraft(), { now: at(120_000) });
        expect(third.ok && third.rule.version).toBe(3);
      });

      it('refuses a replace with a stale expectedVersion and reports the current version', async () => {
        const rule = await insertRule();
        const first = await store.replaceRule(ACCOUNT, rule.id, ruleDraft({ name: 'v2' }), { now: at(1), expectedVersion: 1 });
        expect(first.ok).toBe(true);
        const stale = await store.replaceRule(ACCOUNT, rule.id, ruleDraft({ name: 'lost update' }), { now: at(2), expectedVersion: 1 });
        expect(stale).toEqual({ ok: false, reason: 'conflict', currentVersion: 2 });
        expect((await store.getRule(ACCOUNT, rule.id))?.name).toBe('v2');
      });

      it('lets exactly one of several concurrent replaces at the same expectedVersion win', async () => {
        const rule = await insertRule();
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.replaceRule(ACCOUNT, rule.id, ruleDraft({ name: `writer ${i}` }), { now: at(i + 1), expectedVersion: 1 })));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'conflict')).toBe(true);
        expect((await store.getRule(ACCOUNT, rule.id))?.version).toBe(2);
      });

      it('deletes a rule once', async () => {
        const rule = await insertRule();
        expect(await store.deleteRule(ACCOUNT, rule.id)).toBe(true);
        expect(await store.getRule(ACCOUNT, rule.id)).toBeNull();
        expect(await store.deleteRule(ACCOUNT, rule.id)).toBe(false);
      });

      it('lists rules oldest first, filtered, in pages that cover every rule exactly once', async () => {
        const created: Rule[] = [];
        for (let i = 0; i < 7; i++) created.push(await insertRule({ name: `r${i}`, enabled: i % 2 === 0, trigger: { eventName: i < 5 ? EVENT : 'job.created' } }, ACCOUNT, at(i)));
        await insertRule({}, OTHER_ACCOUNT);
        const seen: Rule[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listRules(ACCOUNT, { limit: 3, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...page.items);
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor && pages < 10);
        expect(pages).toBe(3);
        expect(ids(seen)).toEqual(ids(created));
        expect(seen.every((r) => r.accountId === ACCOUNT)).toBe(true);

        const enabled = await store.listRules(ACCOUNT, { enabled: true });
        expect(ids(enabled.items)).toEqual(ids(created.filter((_, i) => i % 2 === 0)));
        expect(enabled.nextCursor).toBeUndefined();
        const byEvent = await store.listRules(ACCOUNT, { eventName: 'job.created' });
        expect(ids(byEvent.items)).toEqual(ids(created.slice(5)));
        const both = await store.listRules(ACCOUNT, { eventName: EVENT, enabled: false });
        expect(ids(both.items)).toEqual(ids([created[1], created[3]].filter((r): r is Rule => r !== undefined)));
        // A cursor this store did not issue is answered with a page, never an error.
        for (const cursor of WEIRD_IDS.slice(1)) {
          const page = await store.listRules(ACCOUNT, { cursor });
          expect(Array.isArray(page.items)).toBe(true);
        }
      });
    });

    describe('rules: matching', () => {
      it('finds only enabled rules of the right account and event, and follows updates and deletes', async () => {
        const match = await insertRule();
        const disabled = await insertRule({ enabled: false });
        const otherEvent = await insertRule({ trigger: { eventName: 'job.created' } });
        await insertRule({}, OTHER_ACCOUNT);
        const second = await insertRule({ name: 'second' });
        expect(ids(await store.findRulesForEvent(ACCOUNT, EVENT)).sort()).toEqual([match.id, second.id].sort());
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.created'))).toEqual([otherEvent.id]);
        expect(await store.findRulesForEvent(ACCOUNT, 'job.deleted')).toEqual([]);

        await store.replaceRule(ACCOUNT, disabled.id, ruleDraft({ enabled: true }), { now: at(1) });
        await store.replaceRule(ACCOUNT, match.id, ruleDraft({ trigger: { eventName: 'job.created' } }), { now: at(1) });
        await store.deleteRule(ACCOUNT, second.id);
        const found = await store.findRulesForEvent(ACCOUNT, EVENT);
        expect(ids(found)).toEqual([disabled.id]);
        expect(found[0]?.version).toBe(2);
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.created')).sort()).toEqual([match.id, otherEvent.id].sort());
      });

      it('finds rules by a cancelOn event name too (once each), only enabled ones of the account, and follows updates and deletes', async () => {
        const keyed = { trigger: { eventName: EVENT, key: '$.job.id' }, concurrency: { mode: 'supersede' as const, maxWait: { value: 30, unit: 'minutes' as const } }, evaluate: { job: 'current' as const } };
        const cancelling = await insertRule({ ...keyed, cancelOn: [{ eventName: 'job.cancelled' }, { eventName: 'job.deleted', key: '$.id', conditions: { all: [{ fact: 'reason', operator: 'equal', value: 'duplicate' }] } }] });
        const startsAndCancels = await insertRule({ ...keyed, cancelOn: [{ eventName: EVENT }, { eventName: 'job.cancelled' }] });
        await insertRule({ ...keyed, enabled: false, cancelOn: [{ eventName: 'job.cancelled' }] });
        await insertRule({ ...keyed, cancelOn: [{ eventName: 'job.cancelled' }] }, OTHER_ACCOUNT);
        const plain = await insertRule();

        // What a keyed rule adds is stored exactly.
        const stored = await store.getRule(ACCOUNT, cancelling.id);
        expect(stored).toEqual(cancelling);
        expect(stored).toMatchObject({ trigger: keyed.trigger, concurrency: keyed.concurrency, evaluate: keyed.evaluate, cancelOn: cancelling.cancelOn });

        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.cancelled')).sort()).toEqual([cancelling.id, startsAndCancels.id].sort());
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.deleted'))).toEqual([cancelling.id]);
        expect(ids(await store.findRulesForEvent(ACCOUNT, EVENT)).sort()).toEqual([cancelling.id, startsAndCancels.id, plain.id].sort());
        expect(ids(await store.findRulesForEvent(OTHER_ACCOUNT, 'job.deleted'))).toEqual([]);
        expect(await store.findRulesForEvent(OTHER_ACCOUNT, 'job.cancelled')).toHaveLength(1);

        const { cancelOn: _dropped, ...withoutCancel } = ruleDraft({ ...keyed });
        await store.replaceRule(ACCOUNT, cancelling.id, withoutCancel, { now: at(1) });
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.deleted'))).toEqual([]);
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.cancelled'))).toEqual([startsAndCancels.id]);
        await store.replaceRule(ACCOUNT, plain.id, ruleDraft({ ...keyed, cancelOn: [{ eventName: 'job.deleted' }] }), { now: at(1) });
        expect(ids(await store.findRulesForEvent(ACCOUNT, 'job.deleted'))).toEqual([plain.id]);
        await store.replaceRule(ACCOUNT, startsAndCancels.id, ruleDraft({ ...keyed, enabled: false, cancelOn: [{ eventName: 'job.cancelled' }] }), { now: at(1) });
        expect(await store.findRulesForEvent(ACCOUNT, 'job.cancelled')).toEqual([]);
        await store.deleteRule(ACCOUNT, plain.id);
        expect(await store.findRulesForEvent(ACCOUNT, 'job.deleted')).toEqual([]);
      });

      it('keeps a schedule exactly (get, find, list), replaces it, and removes it with a replace without one', async () => {
        const schedule = {
          anchor: '$.appointment.startsAt',
          offset: { value: -1, unit: 'days' as const },
          at: '09:00',
          timeZone: '$.client.timeZone',
          fallbackTimeZone: 'America/Chicago',
          window: { days: ['mon' as const, 'fri' as const], from: '22:00', to: '06:00' },
          ifPast: 'now' as const,
        };
        const scheduled = await insertRule({ trigger: { eventName: EVENT, key: '$.appointment.id' }, schedule });
        expect((await store.getRule(ACCOUNT, scheduled.id))?.schedule).toEqual(schedule);
        expect((await store.findRulesForEvent(ACCOUNT, EVENT)).find((r) => r.id === scheduled.id)?.schedule).toEqual(schedule);
        expect((await store.listRules(ACCOUNT, {})).items.find((r) => r.id === scheduled.id)?.schedule).toEqual(schedule);
        const moved = { anchor: 'event.timestamp', offset: { value: 3, unit: 'weeks' as const } };
        await store.replaceRule(ACCOUNT, scheduled.id, ruleDraft({ schedule: moved }), { now: at(1) });
        expect((await store.getRule(ACCOUNT, scheduled.id))?.schedule).toEqual(moved);
        await store.replaceRule(ACCOUNT, scheduled.id, ruleDraft({}), { now: at(2) });
        expect((await store.getRule(ACCOUNT, scheduled.id))?.schedule).toBeUndefined();
      });
    });
  });
}
