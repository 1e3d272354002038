/**
 * The store commands of the real `crm-automation` binary (triggers list/inspect/retry/cancel, rules
 * export/import, purge), against a real server: run by cli-mongo.services.test.ts and
 * cli-postgres.services.test.ts, each with its own `ensure-indexes` checks.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createRecordingChannel, GatewayError, type AutomationEngine, type AutomationStore } from '@crm-automation/core';
import type { BulkResult, ImportResult, PurgeResult, RulesFile } from '../src/index.js';
import { spawnCli, spawnCliJson } from './spawn-cli.js';

export interface CliStoreFixture {
  /** The store the CLI will open (seeded through it), ready for use. */
  store: AutomationStore;
  /** The environment that points the CLI at that store, and nothing else. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export function describeCliStore(
  name: string,
  prepare: () => Promise<CliStoreFixture>,
  extra: (test: (title: string, body: () => Promise<void>) => void, fixture: () => CliStoreFixture) => void,
): void {
  let fixture: CliStoreFixture;
  let engine: AutomationEngine;
  let ids: { failed: string; completed: string; laterRule: string; notifyRule: string };
  const env = () => fixture.env;
  const statusOf = async (id: string) => (await engine.triggers.get('acc_1', id))?.status;

  const seed = async () => {
    fixture = await prepare();
    const sms = createRecordingChannel({ name: 'twilio' });
    // Months ago, so what it finishes is old enough to purge.
    engine = createAutomationEngine({ store: fixture.store, clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms }, maxAttempts: 1 });
    const notify = await engine.rules.create('acc_1', {
      name: 'Notify technician',
      trigger: { eventName: 'job.status.changed' },
      delay: { value: 0, unit: 'minutes' },
      conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} done' } }],
    });
    const later = await engine.rules.create('acc_1', {
      name: 'Follow up tomorrow',
      trigger: { eventName: 'job.status.changed' },
      delay: { value: 1, unit: 'days' },
      conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
      actions: [{ type: 'email', params: { recipient: 'manager@example.com', subject: 'Job {{job.number}}', body: 'follow up' } }],
    });
    sms.failNext(new GatewayError('twilio answered 400: invalid number', { retryable: false, provider: 'twilio', status: 400 }));
    await engine.ingest({ id: 'evt-1', name: 'job.status.changed', accountId: 'acc_1', payload: { job: { number: 'J-1', status: 'Done' } } });
    expect((await engine.runDue()).failed).toBe(1);
    await engine.ingest({ id: 'evt-2', name: 'job.status.changed', accountId: 'acc_1', payload: { job: { number: 'J-2', status: 'Done' } } });
    expect((await engine.runDue()).completed).toBe(1);
    const byStatus = async (status: 'failed' | 'completed') => (await engine.triggers.list('acc_1', { status, ruleId: notify.id })).items[0]?.id ?? '';
    ids = { failed: await byStatus('failed'), completed: await byStatus('completed'), laterRule: later.id, notifyRule: notify.id };
  };
  let ready: Promise<void>;
  // A failed start fails every test with its reason (a failed beforeAll would only mark them skipped).
  beforeAll(() => {
    ready = seed();
    return ready.catch(() => undefined);
  });
  const test = (title: string, body: () => Promise<void>) =>
    it(title, async () => {
      await ready;
      await body();
    });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  describe(`crm-automation against ${name} (the real binary)`, () => {
    extra(test, () => fixture);

    test('triggers list and inspect print the triggers with their history', async () => {
      const listed = await spawnCliJson<Array<{ id: string; status: string }>>(['triggers', 'list', '--account', 'acc_1', '--status', 'failed,completed'], env());
      expect(listed.map((t) => [t.id, t.status]).sort()).toEqual([[ids.completed, 'completed'], [ids.failed, 'failed']].sort());
      const run = await spawnCli(['triggers', 'inspect', ids.failed, '--account', 'acc_1'], env());
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`trigger   ${ids.failed}`);
      expect(run.stdout).toContain('status    failed');
      expect(run.stdout).toContain('[0] sms failed');
      expect(run.stdout).toContain('twilio answered 400: invalid number');
      const missing = await spawnCli(['triggers', 'inspect', ids.failed, '--account', 'acc_2'], env());
      expect([missing.code, missing.stderr]).toEqual([1, `error CRM_ERR_CLI_NOT_FOUND: trigger ${ids.failed} does not exist in account acc_2\n`]);
    });

    test('triggers retry and cancel in bulk: dry run first, then through the engine state rules', async () => {
      const dry = await spawnCliJson<BulkResult>(['triggers', 'retry', '--account', 'acc_1', '--dry-run'], env());
      expect(dry).toMatchObject({ dryRun: true, matched: 1, ids: [ids.failed] });
      expect(await statusOf(ids.failed)).toBe('failed');
      const retried = await spawnCli(['triggers', 'retry', '--account', 'acc_1'], env());
      expect(retried.stdout).toBe('retried 1 of 1 matching trigger\n');
      expect(await statusOf(ids.failed)).toBe('pending');

      const cancelled = await spawnCliJson<BulkResult>(['triggers', 'cancel', '--account', 'acc_1', '--rule', ids.laterRule], env());
      expect(cancelled).toMatchObject({ matched: 2, changed: 2, skipped: [] });
      expect((await engine.triggers.list('acc_1', { ruleId: ids.laterRule })).items.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    });

    test('rules export and import: into another account by name, then again with no change', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'crm-cli-'));
      const file = join(dir, 'rules.json');
      expect((await spawnCli(['rules', 'export', '--account', 'acc_1', '--out', file], env())).stdout).toBe(`exported 2 rules of acc_1 to ${file}\n`);
      const exported = JSON.parse(await readFile(file, 'utf8')) as RulesFile;
      expect(exported.rules.map((r) => [r.name, r.id])).toEqual([
        ['Follow up tomorrow', ids.laterRule],
        ['Notify technician', ids.notifyRule],
      ]);

      const dry = await spawnCliJson<ImportResult>(['rules', 'import', '--account', 'acc_2', '--in', file, '--dry-run'], env());
      expect(dry).toMatchObject({ dryRun: true, created: 2 });
      expect((await engine.rules.list('acc_2')).items).toEqual([]);
      expect(await spawnCliJson<ImportResult>(['rules', 'import', '--account', 'acc_2', '--in', file], env())).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
      const again = await spawnCliJson<ImportResult>(['rules', 'import', '--account', 'acc_2', '--in', file], env());
      expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
      expect(again.entries.map((e) => e.matchedBy)).toEqual(['name', 'name']);
      expect((await engine.rules.list('acc_2')).items.map((r) => r.version)).toEqual([1, 1]);
      const home = await spawnCliJson<ImportResult>(['rules', 'import', '--account', 'acc_1', '--in', file], env());
      expect(home.entries.map((e) => [e.action, e.matchedBy])).toEqual([
        ['unchanged', 'id'],
        ['unchanged', 'id'],
      ]);
    });

    test('purge removes finished triggers older than the period, dry run first', async () => {
      const dry = await spawnCliJson<PurgeResult>(['purge', '--older-than', '30d', '--dry-run'], env());
      expect(dry).toMatchObject({ dryRun: true, statuses: ['completed', 'skipped'], triggers: 1 });
      expect(await statusOf(ids.completed)).toBe('completed');
      const run = await spawnCli(['purge', '--older-than', '30d'], env());
      expect(run.stdout).toMatch(/^purged 1 completed\/skipped trigger last updated before /);
      expect(await engine.triggers.get('acc_1', ids.completed)).toBeNull();
      // The retried and the cancelled ones were changed just now: kept.
      expect((await engine.triggers.list('acc_1', { limit: 100 })).items).toHaveLength(3);
      const refused = await spawnCli(['purge', '--older-than', '1d', '--status', 'pending'], env());
      expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CLI_USAGE: only finished triggers can be purged/)]);
    });
  });
}
