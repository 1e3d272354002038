import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '@crm-automation/core';
import {
  bulkTransition,
  CliError,
  createRecordingOutput,
  exportRules,
  formatTrigger,
  importRules,
  inspectTrigger,
  listDeadLetters,
  parseDuration,
  purgeTriggers,
  replayDeadLetters,
  type DeadLetterSource,
} from '../src/index.js';
import { DAY, memoryWorld, smsRule } from './memory-world.js';

describe('dead letters', () => {
  const deadWorld = async () => {
    const world = memoryWorld();
    let refuse = true;
    const handled: string[] = [];
    await world.bus.subscribe(async (message) => {
      if (refuse) throw Object.assign(new Error('malformed'), { retryable: false });
      handled.push((message as { accountId: string }).accountId);
    }, { group: 'audit' });
    for (const accountId of ['acc_a', 'acc_b', 'acc_a']) await world.bus.publish({ id: `evt-${Math.random()}`, name: 'job.status.changed', accountId, payload: {} });
    return { world, handled, accept: () => (refuse = false) };
  };

  it('lists dead letters with their account, event and reason, filtered by account', async () => {
    const { world } = await deadWorld();
    const rows = await listDeadLetters(world.bus.deadLetters, { accountId: 'acc_a' });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ accountId: 'acc_a', eventName: 'job.status.changed', reason: 'malformed', attempts: 1 });
  });

  it('a dry run replays nothing and shows what would move; a real run moves them back', async () => {
    const { world, handled, accept } = await deadWorld();
    const dry = await replayDeadLetters(world.bus.deadLetters, { accountId: 'acc_a', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, moved: 0 });
    expect(dry.wouldMove.map((r) => r.accountId)).toEqual(['acc_a', 'acc_a']);
    expect(await world.bus.deadLetters.list()).toHaveLength(3);

    accept();
    const output = createRecordingOutput();
    expect(await replayDeadLetters(world.bus.deadLetters, { accountId: 'acc_a' }, output)).toMatchObject({ dryRun: false, moved: 2 });
    await world.bus.idle();
    expect(handled).toEqual(['acc_a', 'acc_a']);
    expect((await world.bus.deadLetters.list()).map((d) => d.accountId)).toEqual(['acc_b']);
  });

  it('goes group by group and keeps the limit across groups', async () => {
    const calls: unknown[] = [];
    const letter = (group: string): DeadLetter & { group: string } => ({ id: group, message: { name: 'x', id: 'e' }, reason: 'r', attempts: 1, deadAt: new Date(0), group });
    const source: DeadLetterSource = {
      async list(filter = {}) {
        calls.push(['list', filter]);
        return [letter(filter.group ?? '*'), letter(filter.group ?? '*')].slice(0, filter.limit);
      },
      async replay(filter = {}) {
        calls.push(['replay', filter]);
        return Math.min(2, filter.limit ?? 2);
      },
    };
    expect((await listDeadLetters(source, { groups: ['a', 'b', 'c'], limit: 3 })).map((r) => r.group)).toEqual(['a', 'a', 'b']);
    const output = createRecordingOutput();
    expect((await replayDeadLetters(source, { groups: ['a', 'b', 'c'], limit: 3 }, output)).moved).toBe(3);
    expect(calls).toEqual([
      ['list', { accountId: undefined, limit: 3, group: 'a' }],
      ['list', { accountId: undefined, limit: 1, group: 'b' }],
      ['replay', { accountId: undefined, limit: 3, group: 'a' }],
      ['replay', { accountId: undefined, limit: 1, group: 'b' }],
    ]);
    expect(output.progressLog).toEqual([{ label: 'replaying', total: 3, ticks: 2, done: true }]);
  });
});

describe('triggers', () => {
  it('inspects a trigger with its history, and refuses one of another account', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('Notify'));
    await world.fire('acc_1', 1, { fail: true });
    const [failed] = (await world.engine.triggers.list('acc_1')).items;
    const trigger = await inspectTrigger(world.engine, 'acc_1', failed?.id ?? '');
    const text = formatTrigger(trigger);
    expect(text).toContain(`trigger   ${trigger.id}`);
    expect(text).toContain('status    failed');
    expect(text).toMatch(/1\. 2026-10-01T00:00:00\.000Z {2}attempt 1 {2}failed/);
    expect(text).toContain('✓ job $.status equal "Done" (got "Done")');
    expect(text).toContain('[0] sms failed');
    expect(text).toContain('CRM_ERR_GATEWAY twilio answered 400: invalid number');
    const error = await inspectTrigger(world.engine, 'acc_2', trigger.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('CRM_ERR_CLI_NOT_FOUND');
  });

  it('retries failed triggers in bulk by rule, dry run first, through the engine', async () => {
    const world = memoryWorld();
    const one = await world.engine.rules.create('acc_1', smsRule('One'));
    await world.engine.rules.create('acc_1', smsRule('Two'));
    await world.fire('acc_1', 3, { fail: true });
    const dry = await bulkTransition(world.engine, 'retry', { accountId: 'acc_1', ruleId: one.id, dryRun: true });
    expect(dry).toMatchObject({ operation: 'retry', dryRun: true, matched: 3, changed: 0 });
    expect((await world.engine.triggers.list('acc_1', { status: 'failed' })).items).toHaveLength(6);

    const output = createRecordingOutput();
    const done = await bulkTransition(world.engine, 'retry', { accountId: 'acc_1', ruleId: one.id }, output);
    expect(done).toMatchObject({ matched: 3, changed: 3, skipped: [] });
    expect(output.progressLog).toEqual([{ label: 'retrying', total: 3, ticks: 3, done: true }]);
    const pending = (await world.engine.triggers.list('acc_1', { status: 'pending' })).items;
    expect(pending.map((t) => t.ruleId)).toEqual([one.id, one.id, one.id]);
    expect(pending[0]?.executionHistory.at(-1)).toMatchObject({ outcome: 'retry-requested', by: 'user' });
    await world.engine.runDue();
    expect(world.sms.sent).toHaveLength(3);
  });

  it('cancels pending triggers due in a window, and leaves the engine to refuse other states', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('Later', 60));
    await world.fire('acc_1', 2);
    await world.clock.advance(30 * 60_000);
    await world.fire('acc_1', 2);
    // Due at 01:00 (first two) and 01:30 (last two).
    const result = await bulkTransition(world.engine, 'cancel', { accountId: 'acc_1', from: new Date('2026-10-01T01:15:00Z'), to: new Date('2026-10-01T02:00:00Z') });
    expect(result).toMatchObject({ matched: 2, changed: 2 });
    expect((await world.engine.triggers.list('acc_1', { status: 'cancelled' })).items).toHaveLength(2);

    const refused = await bulkTransition(world.engine, 'retry', { accountId: 'acc_1', statuses: ['cancelled'] });
    expect(refused).toMatchObject({ matched: 2, changed: 0 });
    expect(refused.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/Cannot retry .* it is cancelled/), expect.stringMatching(/it is cancelled/)]);
  });
});

describe('rules export / import', () => {
  it('exports sorted rules with ids, and imports them into another account idempotently (matched by name)', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('B rule'));
    await world.engine.rules.create('acc_1', { ...smsRule('A rule'), enabled: false, description: 'first' });
    const file = await exportRules(world.engine, 'acc_1', new Date('2026-11-01T00:00:00Z'));
    expect(file).toMatchObject({ format: 'crm-automation/rules', version: 1, accountId: 'acc_1', exportedAt: '2026-11-01T00:00:00.000Z' });
    expect(file.rules.map((r) => [r.name, r.enabled, typeof r.id])).toEqual([
      ['A rule', false, 'string'],
      ['B rule', true, 'string'],
    ]);
    expect(Object.keys(file.rules[0] ?? {})).not.toContain('version');

    const first = await importRules(world.engine, 'acc_2', JSON.parse(JSON.stringify(file)));
    expect(first).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
    const again = await importRules(world.engine, 'acc_2', JSON.parse(JSON.stringify(file)));
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    expect(again.entries.map((e) => e.matchedBy)).toEqual(['name', 'name']);
    expect((await world.engine.rules.list('acc_2')).items.map((r) => r.version)).toEqual([1, 1]);

    // Back into the exporting account: matched by id, nothing changes.
    const home = await importRules(world.engine, 'acc_1', file);
    expect(home).toMatchObject({ unchanged: 2 });
    expect(home.entries.map((e) => e.matchedBy)).toEqual(['id', 'id']);
  });

  it('updates a changed rule (a rename matched by id), dry run first', async () => {
    const world = memoryWorld();
    const rule = await world.engine.rules.create('acc_1', smsRule('Old name'));
    const file = await exportRules(world.engine, 'acc_1');
    const edited = { ...file, rules: file.rules.map((r) => ({ ...r, name: 'New name', delay: { value: 5, unit: 'minutes' } })) };
    const dry = await importRules(world.engine, 'acc_1', edited, { dryRun: true });
    expect(dry.entries).toEqual([{ index: 0, name: 'New name', action: 'update', ruleId: rule.id, matchedBy: 'id' }]);
    expect((await world.engine.rules.get('acc_1', rule.id))?.name).toBe('Old name');
    const output = createRecordingOutput();
    expect(await importRules(world.engine, 'acc_1', edited, {}, output)).toMatchObject({ updated: 1 });
    expect(await world.engine.rules.get('acc_1', rule.id)).toMatchObject({ name: 'New name', version: 2, delay: { value: 5, unit: 'minutes' } });
    expect(output.progressLog).toEqual([{ label: 'importing', total: 1, ticks: 1, done: true }]);
  });

  it('validates every rule first and imports nothing when one is invalid, naming each problem by path', async () => {
    const world = memoryWorld();
    const bad = [smsRule('Good'), { ...smsRule('Bad'), actions: [{ type: 'sms', params: { recipient: 'not a phone', message: 'x' } }] }, smsRule('Good'), 'nope'];
    const error = (await importRules(world.engine, 'acc_1', bad).catch((e: unknown) => e)) as CliError;
    expect(error.code).toBe('CRM_ERR_CLI_IMPORT_INVALID');
    const paths = (error.details as Array<{ path: string; code: string }>).map((i) => `${i.path} ${i.code}`);
    expect(paths).toContainEqual(expect.stringMatching(/^rules\[1\]\.actions\[0\]\.params\.recipient /));
    expect(paths).toContain('rules[2].name duplicate_name');
    expect(paths).toContain('rules[3] invalid_type');
    expect((await world.engine.rules.list('acc_1')).items).toEqual([]);
  });

  it('refuses to guess between two existing rules of the same name, and files of another format', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('Twin'));
    await world.engine.rules.create('acc_1', smsRule('Twin'));
    const error = (await importRules(world.engine, 'acc_1', [smsRule('Twin')]).catch((e: unknown) => e)) as CliError;
    expect((error.details as Array<{ code: string }>).map((i) => i.code)).toEqual(['ambiguous_name']);
    const other = (await importRules(world.engine, 'acc_1', { format: 'something-else', rules: [] }).catch((e: unknown) => e)) as CliError;
    expect((other.details as Array<{ code: string }>).map((i) => i.code)).toEqual(['unknown_format']);
  });
});

describe('purge', () => {
  it('deletes finished triggers older than the retention period, dry run first, never unfinished ones', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('Now'));
    await world.engine.rules.create('acc_1', smsRule('Next week', 7 * 24 * 60));
    await world.fire('acc_1', 3); // 3 completed now, 3 pending for a week
    await world.clock.advance(40 * DAY);
    await world.engine.rules.create('acc_1', smsRule('Recent'));
    await world.fire('acc_1', 1); // 1+1 completed now (the week-old ones fired too), ...
    const target = world.connections().retention();
    const now = world.clock.now();
    const dry = await purgeTriggers(target, { olderThanMs: 30 * DAY, dryRun: true, now });
    expect(dry).toMatchObject({ dryRun: true, statuses: ['completed', 'skipped'], triggers: 3, olderThan: '2026-10-11T00:00:00.000Z' });
    expect((await world.engine.triggers.list('acc_1', { limit: 500 })).items).toHaveLength(3 + 3 + 1 + 2);
    expect(await purgeTriggers(target, { olderThanMs: 30 * DAY, now })).toMatchObject({ triggers: 3 });
    expect((await world.engine.triggers.list('acc_1', { limit: 500 })).items).toHaveLength(6);
    await expect(purgeTriggers(target, { olderThanMs: DAY, statuses: ['completed', 'pending'] })).rejects.toThrow(/refused: pending/);
  });

  it('parses retention periods', () => {
    expect([parseDuration('30d'), parseDuration('12h'), parseDuration('2w'), parseDuration('90m'), parseDuration('45s')]).toEqual([30 * DAY, 12 * 3_600_000, 14 * DAY, 90 * 60_000, 45_000]);
    for (const bad of ['30', 'd', '-1d', '1.5d', '0d', '30y']) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });
});
