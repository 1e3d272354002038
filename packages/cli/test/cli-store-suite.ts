/**
 * The store commands of the real `crm-automation` binary (triggers list/inspect/retry/cancel, by entity too,
 * deliveries list/show/resolve, rules export/import, purge, suppressions, contact-policy), against a real server: run by cli-mongo.services.test.ts and
 * cli-postgres.services.test.ts, each with its own `ensure-indexes` checks.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createRecordingChannel, GatewayError, type AutomationEngine, type AutomationStore } from '@crm-automation/core';
import type { Delivery } from '@crm-automation/core';
import { keepsDeliveryLedger, type BulkResult, type ImportResult, type PurgeResult, type ResolveDeliveryResult, type RulesFile } from '../src/index.js';
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

    test("triggers list --entity lists one entity's runs of a keyed rule, inspect says which run superseded which, cancel --entity stops one entity's", async () => {
      await engine.rules.create('acc_ent', {
        name: 'Debounced',
        trigger: { eventName: 'job.status.changed', key: '$.job.id' },
        delay: { value: 1, unit: 'days' },
        concurrency: { mode: 'supersede' },
        conditions: { all: [] },
        actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.id}} done' } }],
      });
      const at = (seconds: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + seconds * 1000);
      const change = (id: string, job: string, seconds: number) => engine.ingest({ id, name: 'job.status.changed', accountId: 'acc_ent', timestamp: at(seconds), payload: { job: { id: job } } });
      const [first] = await change('ent-1', 'J1', 0);
      const [second] = await change('ent-2', 'J1', 1);
      await change('ent-3', 'J2', 0);

      const listed = await spawnCliJson<Array<{ id: string; status: string; entityKey: string }>>(['triggers', 'list', '--account', 'acc_ent', '--entity', 'J1'], env());
      expect(listed.map((t) => [t.id, t.status, t.entityKey]).sort()).toEqual([[first?.id, 'cancelled', 'J1'], [second?.id, 'pending', 'J1']].sort());
      const shown = await spawnCli(['triggers', 'inspect', first?.id ?? '', '--account', 'acc_ent'], env());
      expect(shown.stdout).toContain('entity    J1');
      expect(shown.stdout).toContain(`why       superseded by trigger ${second?.id} (event job.status.changed ent-2)`);

      expect(await spawnCliJson<BulkResult>(['triggers', 'cancel', '--account', 'acc_ent', '--entity', 'J2'], env())).toMatchObject({ matched: 1, changed: 1 });
      expect((await engine.triggers.list('acc_ent', { status: 'pending' })).items.map((t) => t.entityKey)).toEqual(['J1']);
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

    // After purge: the run skipped at intake here is finished and old, and purge counts every account's.
    test('triggers inspect and list show a scheduled run in UTC and the recipient’s zone, moved by a later event, and one skipped at intake', async () => {
      await engine.rules.create('acc_sched', {
        name: 'Appointment reminder',
        trigger: { eventName: 'appointment.booked', key: '$.appointment.id' },
        schedule: { anchor: '$.appointment.startsAt', offset: { value: -1, unit: 'days' }, at: '09:00', timeZone: '$.client.timeZone' },
        conditions: { all: [] },
        actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'See you tomorrow' } }],
      });
      const book = (id: string, startsAt: string | undefined, seconds: number) =>
        engine.ingest({
          id,
          name: 'appointment.booked',
          accountId: 'acc_sched',
          timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + seconds * 1000),
          payload: { appointment: { id: 'A1', ...(startsAt === undefined ? {} : { startsAt }) }, client: { timeZone: 'America/New_York' } },
        });
      const [first] = await book('sch-1', '2026-01-20T15:00:00-05:00', 0);
      const [moved] = await book('sch-2', '2026-01-22T15:00:00-05:00', 1);

      const shown = await spawnCli(['triggers', 'inspect', moved?.id ?? '', '--account', 'acc_sched'], env());
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('due       2026-01-21T14:00:00.000Z (UTC)\n          2026-01-21T09:00:00.000-05:00 (America/New_York)');
      expect(shown.stdout).toContain("zone      America/New_York: the recipient's zone, from the event");
      expect(shown.stdout).toContain(`rescheduled 2026-01-19T14:00Z → 2026-01-21T14:00Z by event sch-2 (replaces trigger ${first?.id})`);
      const replaced = await spawnCli(['triggers', 'inspect', first?.id ?? '', '--account', 'acc_sched'], env());
      expect(replaced.stdout).toContain(`why       rescheduled 2026-01-19T14:00Z → 2026-01-21T14:00Z by event sch-2: replaced by trigger ${moved?.id}`);
      const table = await spawnCli(['triggers', 'list', '--account', 'acc_sched', '--entity', 'A1'], env());
      expect(table.stdout).toMatch(/DUE +LOCAL/);
      expect(table.stdout).toContain('2026-01-21T09:00:00.000-05:00 America/New_York');

      const [skipped] = await book('sch-3', undefined, 2);
      const skippedText = await spawnCli(['triggers', 'inspect', skipped?.id ?? '', '--account', 'acc_sched'], env());
      expect(skippedText.stdout).toMatch(/why {7}skipped at intake \(anchor-missing\): \S/);
      expect(skippedText.stdout).toContain('error CRM_ERR_SCHEDULE_ANCHOR: ');
      const cancelled = await spawnCli(['triggers', 'inspect', moved?.id ?? '', '--account', 'acc_sched'], env());
      expect(cancelled.stdout).toContain('why       cancelled: a newer event (appointment.booked sch-3) gives no due time (anchor-missing)');
    });

    test('suppressions add → lookup → list → export (csv) → remove → lookup, contact-policy set → get, and a bad recipient refused', async () => {
      const args = ['--account', 'acc_sup', '--channel', 'sms'];
      const added = await spawnCli(['suppressions', 'add', ...args, '--recipient', '+15550002222', '--note', 'asked by phone', '--by', 'oncall'], env());
      expect([added.code, added.stdout, added.stderr]).toEqual([0, 'suppressed +15550002222 on sms in acc_sup (manual, cli)\n', '']);
      const found = await spawnCliJson<{ suppressed: boolean; suppression: { reason: string; source: string; by: string; detail: string } }>(['suppressions', 'lookup', ...args, '--recipient', '+15550002222'], env());
      expect(found).toMatchObject({ suppressed: true, suppression: { reason: 'manual', source: 'cli', by: 'oncall', detail: 'asked by phone' } });
      const listed = await spawnCliJson<Array<{ recipient: string }>>(['suppressions', 'list', '--account', 'acc_sup'], env());
      expect(listed.map((s) => s.recipient)).toEqual(['+15550002222']);

      const removed = await spawnCli(['suppressions', 'remove', ...args, '--recipient', '+15550002222', '--note', 'customer called back'], env());
      expect([removed.code, removed.stdout]).toEqual([0, 'lifted the suppression of +15550002222 on sms in acc_sup\n']);
      const csv = await spawnCli(['suppressions', 'export', '--account', 'acc_sup', '--format', 'csv'], env());
      const lines = csv.stdout.replace(/\n$/, '').split('\r\n');
      expect(lines[0]).toBe('at,account,channel,recipient,action,reason,source,by,detail');
      expect(lines.slice(1).map((line) => line.split(',').slice(1))).toEqual([
        ['acc_sup', 'sms', '+15550002222', 'added', 'manual', 'cli', 'oncall', 'asked by phone'],
        ['acc_sup', 'sms', '+15550002222', 'removed', 'manual', 'cli', expect.stringMatching(/^cli/), 'customer called back'],
      ]);
      const after = await spawnCli(['suppressions', 'lookup', ...args, '--recipient', '+15550002222'], env());
      expect(after.stdout).toBe('+15550002222 is not suppressed on sms in acc_sup\n');

      const bad = await spawnCli(['suppressions', 'add', ...args, '--recipient', '555-CALL-NOW'], env());
      expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_POLICY_INVALID: Invalid suppression: [^\n]*\n {2}recipient: SMS recipient must be an E\.164 number/)]);

      const dir = await mkdtemp(join(tmpdir(), 'crm-cli-'));
      const file = join(dir, 'policy.json');
      await writeFile(file, JSON.stringify({ channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: '$.client.timeZone' }, caps: [{ max: 3, per: 'day' }] } } }));
      const set = await spawnCli(['contact-policy', 'set', '--account', 'acc_sup', '--file', file, '--expected-version', '0'], env());
      expect([set.code, set.stdout, set.stderr]).toEqual([0, 'contact policy of acc_sup: none → version 1\n', '']);
      const policy = await spawnCliJson<{ accountId: string; version: number; channels: Record<string, unknown> }>(['contact-policy', 'get', '--account', 'acc_sup'], env());
      expect(policy).toMatchObject({ accountId: 'acc_sup', version: 1, channels: { sms: { quietHours: { from: '21:00', to: '08:00' }, caps: [{ max: 3, per: 'day' }] } } });
      expect((await engine.contactPolicy.get('acc_sup'))?.version).toBe(1);
    });

    test('deliveries list, show and resolve on the store\'s ledger (or CRM_ERR_CLI_NO_LEDGER where it keeps none)', async () => {
      if (!keepsDeliveryLedger(fixture.store)) {
        // A capability the store declares by its methods: without them, every deliveries command says so.
        const refused = await spawnCli(['deliveries', 'list', '--account', 'acc_d', '--state', 'unknown'], env());
        expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CLI_NO_LEDGER: the (MongoDB|PostgreSQL) store keeps no delivery ledger/)]);
        return;
      }
      // Last, in an account of its own: the engine here also runs what the retry test left due in acc_1,
      // so only acc_d's first two sends time out and only acc_d's sends are counted.
      let timeouts = 2;
      const sms = createRecordingChannel({
        name: 'twilio',
        respond(command, call) {
          if (command.metadata.accountId === 'acc_d' && timeouts > 0) {
            timeouts -= 1;
            throw new GatewayError('twilio did not answer within 10 s', { retryable: true, ambiguous: true, provider: 'twilio' });
          }
          return { id: `SM${call}` };
        },
      });
      const live = createAutomationEngine({ store: fixture.store, channels: { sms }, maxAttempts: 1 });
      const sentToAccD = () => sms.sent.filter((c) => c.metadata.accountId === 'acc_d').map((c) => c.metadata.triggerId);
      await live.rules.create('acc_d', {
        name: 'Notify customer',
        trigger: { eventName: 'job.status.changed' },
        delay: { value: 0, unit: 'minutes' },
        conditions: { all: [] },
        actions: [{ type: 'sms', params: { recipient: '+15550001111', message: 'Job {{job.number}} done' } }],
      });
      for (const n of [1, 2]) await live.ingest({ id: `evt-d${n}`, name: 'job.status.changed', accountId: 'acc_d', payload: { job: { number: `J-${n}`, status: 'Done' } } });
      await live.runDue();
      expect((await live.triggers.list('acc_d', {})).items.map((t) => t.status)).toEqual(['completed', 'completed']);
      expect(sentToAccD()).toEqual([]);

      const unknown = await spawnCliJson<Delivery[]>(['deliveries', 'list', '--account', 'acc_d', '--state', 'unknown'], env());
      expect(unknown.map((d) => [d.state, d.type, d.provider, d.recipient])).toEqual([
        ['unknown', 'sms', 'twilio', '+15550001111'],
        ['unknown', 'sms', 'twilio', '+15550001111'],
      ]);
      const [asSent, toResend] = unknown;
      const table = await spawnCli(['deliveries', 'list', '--account', 'acc_d'], env());
      expect(table.stdout).toMatch(/^ID +STATE +TYPE +PROVIDER +PROVIDER ID +RECIPIENT +TRIGGER +UPDATED +DETAIL\n/);
      expect(table.stdout).toContain('2 deliveries\n');
      expect((await spawnCliJson<Delivery[]>(['deliveries', 'list', '--account', 'acc_1', '--state', 'unknown'], env()))).toEqual([]);
      const shown = await spawnCli(['deliveries', 'show', asSent?.id ?? '', '--account', 'acc_d'], env());
      expect(shown.stdout).toContain(`delivery     ${asSent?.id}\n`);
      expect(shown.stdout).toContain('error        CRM_ERR_GATEWAY: twilio did not answer within 10 s\n');

      const sent = await spawnCli(['deliveries', 'resolve', asSent?.id ?? '', '--account', 'acc_d', '--as', 'sent', '--note', 'in the console', '--by', 'oncall'], env());
      expect([sent.code, sent.stdout]).toEqual([0, `delivery ${asSent?.id} (sms to +15550001111 through twilio) marked accepted\n`]);
      expect(await live.deliveries.get('acc_d', asSent?.id ?? '')).toMatchObject({ state: 'accepted', events: expect.arrayContaining([expect.objectContaining({ state: 'accepted', source: 'operator' })]) });

      const dry = await spawnCliJson<ResolveDeliveryResult>(['deliveries', 'resolve', toResend?.id ?? '', '--account', 'acc_d', '--as', 'resend', '--dry-run'], env());
      expect(dry).toMatchObject({ dryRun: true, state: 'abandoned', trigger: { id: toResend?.triggerId, status: 'completed' } });
      expect((await live.deliveries.get('acc_d', toResend?.id ?? ''))?.state).toBe('unknown');
      const resend = await spawnCliJson<ResolveDeliveryResult>(['deliveries', 'resolve', toResend?.id ?? '', '--account', 'acc_d', '--as', 'resend'], env());
      expect(resend).toMatchObject({ dryRun: false, state: 'abandoned', delivery: { state: 'abandoned' }, trigger: { status: 'pending' } });
      const again = await spawnCli(['deliveries', 'resolve', toResend?.id ?? '', '--account', 'acc_d', '--as', 'resend'], env());
      expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CLI_NOT_RESOLVABLE: delivery \S+ is abandoned, not unknown/)]);

      // The trigger service's next pass sends that action once more, and only that one.
      await live.runDue();
      expect(sentToAccD()).toEqual([toResend?.triggerId]);
      const sends = await spawnCliJson<Delivery[]>(['deliveries', 'list', '--account', 'acc_d', '--trigger', toResend?.triggerId ?? ''], env());
      expect(sends.map((d) => d.state)).toEqual(['accepted', 'abandoned']);
    });
  });
}
