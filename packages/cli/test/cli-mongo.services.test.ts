import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoStore, TRIGGER_INDEXES, type MongoStore } from '@crm-automation/adapter-mongo';
import { createAutomationEngine, createManualClock, createRecordingChannel, GatewayError, type AutomationEngine } from '@crm-automation/core';
import type { BulkResult, ImportResult, PurgeResult, RulesFile } from '../src/index.js';
import { spawnCli, spawnCliJson } from './spawn-cli.js';

const uri = process.env.MONGODB_URI ?? '';
const db = `cli_test_${randomUUID().slice(0, 8)}`;
let store: MongoStore;
let engine: AutomationEngine;
let ids: { failed: string; completed: string; laterRule: string; notifyRule: string };
const env = () => ({ MONGODB_URI: uri, MONGODB_DB: db });

beforeAll(async () => {
  if (!uri) throw new Error('MONGODB_URI is not set: run `scripts/services.sh up mongo` and export what it prints');
  // No indexes: ensure-indexes must create them.
  store = createMongoStore({ uri, dbName: db, autoIndex: false });
  const sms = createRecordingChannel({ name: 'twilio' });
  // Months ago, so what it finishes is old enough to purge.
  engine = createAutomationEngine({ store, clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms }, maxAttempts: 1 });
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
});

afterAll(async () => {
  await store?.db.dropDatabase().catch(() => {});
  await store?.close();
});

const statusOf = async (id: string) => (await engine.triggers.get('acc_1', id))?.status;

describe('crm-automation against MongoDB (the real binary)', () => {
  it('ensure-indexes creates the store and idempotency indexes, and is safe to repeat', async () => {
    expect((await store.collections.triggers.indexes()).map((i) => i.name)).toEqual(['_id_']);
    const first = await spawnCliJson<Array<{ name: string; report: Record<string, unknown> }>>(['ensure-indexes'], env());
    expect(first.map((r) => r.name)).toEqual(['automation store (rules, pending_triggers)', 'idempotency keys (idempotency_keys)']);
    expect(first[0]?.report).toMatchObject({ retention: expect.stringMatching(/^(ttl|periodic)$/) });
    const again = await spawnCliJson<unknown[]>(['ensure-indexes'], env());
    expect(again).toEqual(first);
    const client = await MongoClient.connect(uri);
    try {
      const names = (await client.db(db).collection('pending_triggers').indexes()).map((i) => i.name);
      for (const index of TRIGGER_INDEXES) expect(names).toContain(index.name);
      expect((await client.db(db).collection('idempotency_keys').indexes()).length).toBeGreaterThan(1);
    } finally {
      await client.close();
    }
  });

  it('triggers inspect prints the trigger with its history', async () => {
    const run = await spawnCli(['triggers', 'inspect', ids.failed, '--account', 'acc_1'], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`trigger   ${ids.failed}`);
    expect(run.stdout).toContain('status    failed');
    expect(run.stdout).toContain('[0] sms failed');
    expect(run.stdout).toContain('twilio answered 400: invalid number');
    const missing = await spawnCli(['triggers', 'inspect', ids.failed, '--account', 'acc_2'], env());
    expect([missing.code, missing.stderr]).toEqual([1, `error CRM_ERR_CLI_NOT_FOUND: trigger ${ids.failed} does not exist in account acc_2\n`]);
  });

  it('triggers retry and cancel in bulk: dry run first, then through the engine state rules', async () => {
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

  it('rules export and import: into another account by name, then again with no change', async () => {
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

  it('purge removes finished triggers older than the period, dry run first', async () => {
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

  it('says which setting is missing', async () => {
    const run = await spawnCli(['purge', '--older-than', '30d'], { MONGODB_URI: '' });
    expect([run.code, run.stderr]).toEqual([1, 'error CRM_ERR_CLI_CONFIG: set MONGODB_URI or pass --mongodb-uri\n']);
  });
});
