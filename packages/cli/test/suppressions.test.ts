import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type StoredContactPolicy, type Suppression, type SuppressionChange } from '@crm-automation/core';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { CHANGE_CSV_COLUMNS, requireContactPorts, type CliConnections, type SetContactPolicyResult, type SuppressionChangeResult } from '../src/index.js';
import { runCaptured } from './cli-run.js';
import { memoryWorld } from './memory-world.js';

const cli = (args: string[], connections: CliConnections) => runCaptured(args, () => connections);

const json = <T>(run: { code: number; stdout: string; stderr: string }): T => {
  expect([run.code, run.stderr]).toEqual([0, '']);
  return JSON.parse(run.stdout) as T;
};

const policyFile = async (document: unknown): Promise<string> => {
  const file = join(await mkdtemp(join(tmpdir(), 'crm-cli-policy-')), 'policy.json');
  await writeFile(file, JSON.stringify(document));
  return file;
};

const POLICY = { channels: { sms: { quietHours: { from: '21:00', to: '08:00', timeZone: 'America/New_York' }, caps: [{ max: 3, per: 'day' }] } } };

describe('suppressions add, lookup, list, remove', () => {
  it('adds a manual suppression through the engine (normalised, source cli, by the operator), idempotently', async () => {
    const world = memoryWorld();
    const added = await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'email', '--recipient', ' Client@Example.COM ', '--note', 'asked by phone', '--by', 'oncall'], world.connections());
    expect([added.code, added.stdout]).toEqual([0, 'suppressed client@example.com on email in acc_1 (manual, cli)\n']);
    expect(await world.engine.suppressions.lookup('acc_1', 'email', 'client@example.com')).toMatchObject({ reason: 'manual', source: 'cli', by: 'oncall', detail: 'asked by phone' });
    const again = json<SuppressionChangeResult>(await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'email', '--recipient', 'client@example.com', '--json'], world.connections()));
    expect(again).toMatchObject({ dryRun: false, action: 'add', changed: false, suppression: { by: 'oncall' } });
    const changes = (await world.engine.suppressions.changes('acc_1')).items;
    expect(changes.map((c) => c.action)).toEqual(['added']);
  });

  it('defaults --by to cli:<user> (or cli)', async () => {
    const world = memoryWorld();
    await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321'], world.connections());
    expect((await world.engine.suppressions.lookup('acc_1', 'sms', '+15557654321'))?.by).toMatch(/^cli(:.+)?$/);
  });

  it('--dry-run on add and remove says what would change and changes nothing', async () => {
    const world = memoryWorld();
    const dryAdd = await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321', '--dry-run'], world.connections());
    expect(dryAdd.stdout).toBe('dry run: would suppress +15557654321 on sms in acc_1 (manual, cli)\n');
    expect(await world.engine.suppressions.lookup('acc_1', 'sms', '+15557654321')).toBeNull();
    const dryRemoveNone = json<SuppressionChangeResult>(await cli(['suppressions', 'remove', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321', '--dry-run', '--json'], world.connections()));
    expect(dryRemoveNone).toEqual({ dryRun: true, action: 'remove', changed: false, suppression: null });

    await world.engine.suppressions.add('acc_1', { channel: 'sms', recipient: '+15557654321', reason: 'stop', source: 'inbound-sms' });
    const dryRemove = await cli(['suppressions', 'remove', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321', '--dry-run'], world.connections());
    expect(dryRemove.stdout).toBe('dry run: would lift the suppression of +15557654321 on sms in acc_1 (stop)\n');
    expect(await world.engine.suppressions.lookup('acc_1', 'sms', '+15557654321')).toMatchObject({ reason: 'stop' });
    const dryAddExisting = json<SuppressionChangeResult>(await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321', '--dry-run', '--json'], world.connections()));
    expect(dryAddExisting).toMatchObject({ dryRun: true, changed: false, suppression: { reason: 'stop' } });
    expect((await world.engine.suppressions.changes('acc_1')).items).toHaveLength(1);
  });

  it('lookup, list by channel and --limit, remove (source cli), then lookup says not suppressed', async () => {
    const world = memoryWorld();
    await world.engine.suppressions.add('acc_1', { channel: 'sms', recipient: '+15550000001', reason: 'stop', source: 'inbound-sms' });
    world.clock.advance(1_000);
    await world.engine.suppressions.add('acc_1', { channel: 'sms', recipient: '+15550000002', reason: 'provider-opt-out', source: 'provider-error' });
    await world.engine.suppressions.add('acc_1', { channel: 'email', recipient: 'a@example.com', reason: 'bounce', source: 'email-event' });
    await world.engine.suppressions.add('acc_2', { channel: 'sms', recipient: '+15550000009', reason: 'stop', source: 'inbound-sms' });

    const found = await cli(['suppressions', 'lookup', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15550000001'], world.connections());
    expect(found.stdout).toBe('+15550000001 is suppressed on sms in acc_1 since 2026-10-01T00:00:00.000Z: stop (inbound-sms)\n');
    const sms = json<Suppression[]>(await cli(['suppressions', 'list', '--account', 'acc_1', '--channel', 'sms', '--json'], world.connections()));
    expect(sms.map((s) => s.recipient).sort()).toEqual(['+15550000001', '+15550000002']);
    expect(json<Suppression[]>(await cli(['suppressions', 'list', '--account', 'acc_1', '--limit', '1', '--json'], world.connections()))).toHaveLength(1);
    const table = await cli(['suppressions', 'list', '--account', 'acc_1'], world.connections());
    expect(table.stdout).toMatch(/^CHANNEL +RECIPIENT +REASON +SOURCE +BY +SINCE +DETAIL\n/);
    expect(table.stdout).toContain('3 suppressions\n');
    expect((await cli(['suppressions', 'list', '--account', 'acc_9'], world.connections())).stdout).toBe('no suppressions\n');

    const removed = await cli(['suppressions', 'remove', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15550000001', '--note', 'customer called'], world.connections());
    expect(removed.stdout).toBe('lifted the suppression of +15550000001 on sms in acc_1\n');
    const after = json<{ suppressed: boolean }>(await cli(['suppressions', 'lookup', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15550000001', '--json'], world.connections()));
    expect(after).toEqual({ suppressed: false, suppression: null });
    const last = (await world.engine.suppressions.changes('acc_1', { channel: 'sms' })).items.at(-1);
    expect(last).toMatchObject({ action: 'removed', reason: 'manual', source: 'cli', detail: 'customer called', recipient: '+15550000001' });
    const nothing = await cli(['suppressions', 'remove', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15550000001'], world.connections());
    expect([nothing.code, nothing.stdout]).toEqual([0, '+15550000001 on sms in acc_1 is not suppressed: nothing changed\n']);
  });

  it('a recipient the channel cannot have is the engine\'s typed error, with its issues', async () => {
    const world = memoryWorld();
    const bad = await cli(['suppressions', 'add', '--account', 'acc_1', '--channel', 'sms', '--recipient', 'not-a-number'], world.connections());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error CRM_ERR_POLICY_INVALID: Invalid suppression: /);
    expect(bad.stderr).toContain('  recipient: SMS recipient must be an E.164 number such as +15557654321 [invalid_recipient]');
    const asJson = await cli(['suppressions', 'lookup', '--account', 'acc_1', '--channel', 'webhook', '--recipient', 'x', '--json'], world.connections());
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: 'CRM_ERR_POLICY_INVALID', details: [{ path: 'channel', code: 'not_a_person' }] } });
    expect((await world.engine.suppressions.list('acc_1')).items).toEqual([]);
  });
});

describe('suppressions export', () => {
  it('writes every change of the account, every page, oldest first, as CSV (quoted where needed) or JSON', async () => {
    const world = memoryWorld();
    // More than one page of the export (500).
    for (let i = 0; i < 520; i++) await world.engine.suppressions.add('acc_1', { channel: 'sms', recipient: `+1555${String(i).padStart(7, '0')}`, reason: 'stop', source: 'inbound-sms' });
    world.clock.advance(1_000);
    await world.engine.suppressions.add('acc_1', { channel: 'email', recipient: 'a@example.com', reason: 'manual', source: 'api', detail: 'said "no", twice' });
    await world.engine.suppressions.remove('acc_1', 'sms', '+15550000000', { source: 'inbound-sms', reason: 'stop' });
    await world.engine.suppressions.add('acc_2', { channel: 'sms', recipient: '+15550000000', reason: 'stop', source: 'inbound-sms' });

    const csv = await cli(['suppressions', 'export', '--account', 'acc_1'], world.connections());
    expect(csv.code).toBe(0);
    const lines = csv.stdout.replace(/\n$/, '').split('\r\n');
    expect(lines[0]).toBe(CHANGE_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 522);
    expect(lines[1]).toBe('2026-10-01T00:00:00.000Z,acc_1,sms,+15550000000,added,stop,inbound-sms,,');
    expect(lines).toContain('2026-10-01T00:00:01.000Z,acc_1,email,a@example.com,added,manual,api,,"said ""no"", twice"');
    expect(lines.at(-1)).toBe('2026-10-01T00:00:01.000Z,acc_1,sms,+15550000000,removed,stop,inbound-sms,,');

    const asJson = json<SuppressionChange[]>(await cli(['suppressions', 'export', '--account', 'acc_1', '--channel', 'email', '--json'], world.connections()));
    expect(asJson).toEqual([expect.objectContaining({ channel: 'email', recipient: 'a@example.com', action: 'added', at: '2026-10-01T00:00:01.000Z' })]);
    const format = await cli(['suppressions', 'export', '--account', 'acc_2', '--format', 'json'], world.connections());
    expect((JSON.parse(format.stdout) as SuppressionChange[]).map((c) => c.accountId)).toEqual(['acc_2']);
  });
});

describe('contact-policy get and set', () => {
  it('sets from a file (validated by the engine), gets it back with its version, honours --expected-version and --dry-run', async () => {
    const world = memoryWorld();
    expect((await cli(['contact-policy', 'get', '--account', 'acc_1'], world.connections())).stdout).toBe('acc_1 has no contact policy\n');
    const file = await policyFile(POLICY);
    const dry = json<SetContactPolicyResult>(await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', file, '--dry-run', '--json'], world.connections()));
    expect(dry).toMatchObject({ dryRun: true, previousVersion: 0, policy: { version: 1, channels: { sms: { caps: [{ max: 3, per: 'day' }] } } } });
    expect(await world.engine.contactPolicy.get('acc_1')).toBeNull();

    const set = await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', file, '--expected-version', '0'], world.connections());
    expect([set.code, set.stdout]).toEqual([0, 'contact policy of acc_1: none → version 1\n']);
    const got = json<StoredContactPolicy>(await cli(['contact-policy', 'get', '--account', 'acc_1', '--json'], world.connections()));
    expect(got).toMatchObject({ accountId: 'acc_1', version: 1, channels: POLICY.channels });

    // What get --json printed can be set again: the store's fields are left out.
    const roundTrip = await policyFile(got);
    const stale = await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', roundTrip, '--expected-version', '0'], world.connections());
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_VERSION_CONFLICT: /)]);
    const staleDry = await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', roundTrip, '--expected-version', '0', '--dry-run'], world.connections());
    expect([staleDry.code, staleDry.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_VERSION_CONFLICT: /)]);
    expect(json<SetContactPolicyResult>(await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', roundTrip, '--expected-version', '1', '--json'], world.connections()))).toMatchObject({ previousVersion: 1, policy: { version: 2 } });
    const text = await cli(['contact-policy', 'get', '--account', 'acc_1'], world.connections());
    expect(text.stdout).toMatch(/^contact policy of acc_1, version 2, updated 2026-10-01T00:00:00\.000Z\n\{\n/);
  });

  it('refuses an invalid policy with every issue and a file that is not JSON, storing nothing', async () => {
    const world = memoryWorld();
    const bad = await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', await policyFile({ channels: { sms: { caps: [{ max: 0, per: 'year' }] } } })], world.connections());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error CRM_ERR_POLICY_INVALID: /);
    expect(bad.stderr).toContain('channels.sms.caps');
    const dryBad = await cli(['contact-policy', 'set', '--account', 'acc_1', '--dry-run', '--file', await policyFile({ channels: 3 })], world.connections());
    expect([dryBad.code, dryBad.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_POLICY_INVALID: /)]);
    const notJson = join(await mkdtemp(join(tmpdir(), 'crm-cli-policy-')), 'p.json');
    await writeFile(notJson, '{ nope');
    expect((await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', notJson], world.connections())).stderr).toMatch(/^error CRM_ERR_CLI_FILE: cannot read /);
    const negative = await cli(['contact-policy', 'set', '--account', 'acc_1', '--file', notJson, '--expected-version', '-1'], world.connections());
    expect(negative.code).not.toBe(0);
    expect(await world.engine.contactPolicy.get('acc_1')).toBeNull();
  });
});

describe('a store without a suppression list or contact policy', () => {
  const bareStore = () => {
    const rules = createMemoryRuleStore();
    const triggers = createMemoryTriggerStore();
    return { ...rules, ...triggers } as unknown as Parameters<typeof requireContactPorts>[0];
  };

  it('is CRM_ERR_CONFIG from requireContactPorts, and from the commands when the connections check it', async () => {
    expect(() => requireContactPorts(bareStore(), 'suppressions')).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('keeps no suppression list') }));
    expect(() => requireContactPorts(bareStore(), 'contact-policy')).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('keeps no contact policy') }));
    expect(() => requireContactPorts(createMemoryStore(), 'suppressions')).not.toThrow();

    const world = memoryWorld();
    const store = bareStore();
    const engine = createAutomationEngine({ store });
    const connections: CliConnections = {
      ...world.connections(),
      engine: () => engine,
      contactEngine: (port) => {
        requireContactPorts(store, port);
        return engine;
      },
    };
    const listed = await cli(['suppressions', 'list', '--account', 'acc_1'], connections);
    expect([listed.code, listed.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CONFIG: this store keeps no suppression list/)]);
    const got = await cli(['contact-policy', 'get', '--account', 'acc_1'], connections);
    expect([got.code, got.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CONFIG: this store keeps no contact policy/)]);
    // Connections without the check still get the engine's own CRM_ERR_CONFIG.
    const unchecked = await cli(['suppressions', 'lookup', '--account', 'acc_1', '--channel', 'sms', '--recipient', '+15557654321'], { ...world.connections(), engine: () => engine });
    expect([unchecked.code, unchecked.stderr]).toEqual([1, expect.stringMatching(/^error CRM_ERR_CONFIG: /)]);
  });
});
