import { describe, expect, it } from 'vitest';
import type { HistoryEntry, RuleInput, Trigger } from '@crm-automation/core';
import { createRecordingOutput, exportRules, formatTrigger, importRules, printTriggers } from '../src/index.js';
import { guardedConnect, runCaptured } from './cli-run.js';
import { memoryWorld, smsRule } from './memory-world.js';

/** A finished trigger of a keyed rule, as a store returns it, ended by `entry`. */
const keyedTrigger = (status: Trigger['status'], entry: HistoryEntry, more: Partial<Trigger> = {}): Trigger => ({
  id: 'trg_1',
  accountId: 'acc_1',
  ruleId: 'rule_1',
  ruleVersion: 1,
  status,
  evaluateAt: new Date('2026-10-01T00:05:00Z'),
  attempt: 0,
  triggeringEvent: { id: 'evt-1', name: 'job.status.changed', timestamp: new Date('2026-10-01T00:00:00Z'), payload: { job: { id: 'J1' } } },
  executionHistory: [entry],
  sentActions: [],
  createdAt: new Date('2026-10-01T00:00:00Z'),
  updatedAt: new Date('2026-10-01T00:02:00Z'),
  entityKey: 'J1',
  ...more,
});
const at = new Date('2026-10-01T00:02:00Z');

describe('a keyed trigger as the CLI shows it', () => {
  it('names its entity and why it ended: the cancelling event, the trigger that superseded it, the one it was stale or skipped for', () => {
    const cancelled = formatTrigger(keyedTrigger('cancelled', { at, attempt: 0, outcome: 'cancelled', reason: 'cancelled-by-event', event: { id: 'evt-cancel', name: 'appointment.cancelled' }, by: 'engine-1' }));
    expect(cancelled).toContain('entity    J1');
    expect(cancelled).toContain('why       cancelled by event appointment.cancelled evt-cancel');
    expect(cancelled).toMatch(/1\. 2026-10-01T00:02:00\.000Z {2}attempt 0 {2}cancelled \(cancelled-by-event\) {2}by engine-1\n {5}cancelled by event appointment\.cancelled evt-cancel/);

    const superseded = formatTrigger(keyedTrigger('cancelled', { at, attempt: 0, outcome: 'superseded', reason: 'superseded', triggerId: 'trg_2', event: { id: 'evt-2', name: 'job.status.changed' } }));
    expect(superseded).toContain('why       superseded by trigger trg_2 (event job.status.changed evt-2)');
    const stale = formatTrigger(keyedTrigger('cancelled', { at, attempt: 0, outcome: 'superseded', reason: 'stale', triggerId: 'trg_0' }));
    expect(stale).toContain('why       stale: pending trigger trg_0 holds a newer event');
    const skipped = formatTrigger(keyedTrigger('skipped', { at, attempt: 0, outcome: 'skipped', reason: 'pending-exists', triggerId: 'trg_0', event: { id: 'evt-1', name: 'job.status.changed' } }));
    expect(skipped).toContain('why       skipped: trigger trg_0 was already pending');
  });

  it('says when a cancel waits for a run being processed, and where a debounced chain started', () => {
    const text = formatTrigger(
      keyedTrigger('processing', { at, attempt: 1, outcome: 'retrying', reason: 'transient-error' }, {
        cancelRequested: { event: { id: 'evt-cancel', name: 'job.reopened' }, at },
        firstEventAt: new Date('2026-09-30T23:58:00Z'),
      }),
    );
    expect(text).toContain('cancel    requested by event job.reopened evt-cancel at 2026-10-01T00:02:00.000Z; stops before its next unsent action');
    expect(text).toContain('first     event at 2026-09-30T23:58:00.000Z');
    expect(text).not.toContain('why ');
    // A run that replaced nothing has its own event as its first: nothing to say.
    const alone = formatTrigger(keyedTrigger('pending', { at, attempt: 0, outcome: 'retrying' }, { firstEventAt: new Date('2026-10-01T00:00:00Z') }));
    expect(alone).not.toContain('first     ');
  });

  it('lists an ENTITY column only when a listed trigger has one', () => {
    const keyed = createRecordingOutput();
    printTriggers(keyed, [keyedTrigger('cancelled', { at, attempt: 0, outcome: 'superseded', reason: 'superseded', triggerId: 'trg_2' })]);
    const [head, row] = (keyed.stdout[0] ?? '').split('\n');
    expect(head).toMatch(/^ID +STATUS +RULE +ENTITY +DUE/);
    expect(row).toMatch(/^trg_1 +cancelled +rule_1 +J1 +2026-10-01T00:05:00\.000Z +0 +superseded \(superseded\)/);
    const { entityKey: _none, ...unkeyed } = keyedTrigger('pending', { at, attempt: 0, outcome: 'retrying' });
    const plain = createRecordingOutput();
    printTriggers(plain, [unkeyed]);
    expect(plain.stdout[0]).not.toContain('ENTITY');
  });
});

describe('triggers list --entity', () => {
  const keyedRule: RuleInput = { ...smsRule('Keyed', 5), trigger: { eventName: 'job.status.changed', key: '$.job.id' }, concurrency: { mode: 'supersede' } };
  const jobEvent = (id: string, job: string, minute: number) => ({
    id,
    name: 'job.status.changed',
    accountId: 'acc_1',
    timestamp: new Date(Date.parse('2026-10-01T00:00:00Z') + minute * 60_000),
    payload: { job: { id: job, number: `N-${id}`, status: 'Done' } },
  });

  it("lists one entity's runs, and inspect says which run superseded which", async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', keyedRule);
    await world.engine.ingest(jobEvent('e1', 'J1', 0));
    await world.engine.ingest(jobEvent('e2', 'J2', 0));
    const [newer] = await world.engine.ingest(jobEvent('e3', 'J1', 1));
    const connect = guardedConnect(world.connections()).connect;

    const listed = await runCaptured(['triggers', 'list', '--account', 'acc_1', '--entity', 'J1', '--json'], connect);
    expect(listed.code, listed.stderr).toBe(0);
    const triggers = JSON.parse(listed.stdout) as Array<{ id: string; entityKey: string; status: string }>;
    expect(triggers.map((t) => [t.entityKey, t.status]).sort()).toEqual([
      ['J1', 'cancelled'],
      ['J1', 'pending'],
    ]);
    const old = triggers.find((t) => t.status === 'cancelled');
    const shown = await runCaptured(['triggers', 'inspect', old?.id ?? '', '--account', 'acc_1'], connect);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('entity    J1');
    expect(shown.stdout).toContain(`why       superseded by trigger ${newer?.id} (event job.status.changed e3)`);

    const table = await runCaptured(['triggers', 'list', '--account', 'acc_1', '--entity', 'J2'], connect);
    expect(table.stdout).toMatch(/ENTITY/);
    expect(table.stdout).toContain('1 trigger');
  });

  it('cancels one entity’s pending runs in bulk, dry run first', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', { ...keyedRule, concurrency: { mode: 'all' } });
    for (const [id, job] of [['e1', 'J1'], ['e2', 'J1'], ['e3', 'J2']] as const) await world.engine.ingest(jobEvent(id, job, 0));
    const connect = guardedConnect(world.connections()).connect;
    const dry = await runCaptured(['triggers', 'cancel', '--account', 'acc_1', '--entity', 'J1', '--dry-run'], connect);
    expect(dry.stdout).toContain('dry run: 2 triggers would be cancelled');
    const done = await runCaptured(['triggers', 'cancel', '--account', 'acc_1', '--entity', 'J1'], connect);
    expect(done.stdout).toContain('cancelled 2 of 2 matching triggers');
    expect((await world.engine.triggers.list('acc_1', { status: 'pending' })).items.map((t) => t.entityKey)).toEqual(['J2']);
  });

  it('refuses an empty or oversized entity key before connecting', async () => {
    for (const key of ['', 'k'.repeat(257)]) {
      const guard = guardedConnect();
      const run = await runCaptured(['triggers', 'list', '--account', 'acc_1', '--entity', key], guard.connect);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('expected an entity key of 1 to 256 characters');
      expect(guard.called).toBe(false);
    }
  });
});

describe('rules export and import of entity-aware rules', () => {
  it('keep the entity fields, and an import that changes only them updates the rule', async () => {
    const world = memoryWorld();
    const keyed: RuleInput = {
      ...smsRule('Keyed', 5),
      trigger: { eventName: 'job.status.changed', key: '$.job.id' },
      cancelOn: [{ eventName: 'job.reopened', key: '$.job.id' }],
      concurrency: { mode: 'supersede', maxWait: { value: 15, unit: 'minutes' } },
      evaluate: 'event',
    };
    const rule = await world.engine.rules.create('acc_1', keyed);
    const file = await exportRules(world.engine, 'acc_1');
    expect(file.rules[0]).toMatchObject({ trigger: keyed.trigger, cancelOn: keyed.cancelOn, concurrency: keyed.concurrency, evaluate: 'event' });

    expect(await importRules(world.engine, 'acc_2', JSON.parse(JSON.stringify(file)))).toMatchObject({ created: 1 });
    const [copy] = (await world.engine.rules.list('acc_2')).items;
    expect(copy).toMatchObject({ trigger: keyed.trigger, cancelOn: keyed.cancelOn, concurrency: keyed.concurrency, evaluate: 'event' });
    expect(await importRules(world.engine, 'acc_1', JSON.parse(JSON.stringify(file)))).toMatchObject({ unchanged: 1 });

    const debounceOff = { ...file, rules: file.rules.map(({ concurrency: _dropped, ...r }) => ({ ...r, cancelOn: [{ eventName: 'job.cancelled' }] })) };
    expect(await importRules(world.engine, 'acc_1', debounceOff)).toMatchObject({ updated: 1 });
    const updated = await world.engine.rules.get('acc_1', rule.id);
    expect(updated).toMatchObject({ version: 2, cancelOn: [{ eventName: 'job.cancelled' }] });
    expect(updated?.concurrency).toBeUndefined();
  });
});
