import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAutomationEngine } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { importRules, type CliConnections, type RulesFileCheck } from '../src/index.js';
import { guardedConnect, runCaptured } from './cli-run.js';
import { memoryWorld, smsRule } from './memory-world.js';

/** The CLI with a `connect` that fails the test when called, unless `connections` are given. */
async function cli(args: string[], connections?: CliConnections) {
  const guard = guardedConnect(connections);
  const run = await runCaptured(args, guard.connect);
  return { ...run, connected: guard.called };
}

/** `GET /rules` as the Rules API answers it, saved to a file. */
const apiPage = (rules: readonly object[], nextCursor?: string) => ({
  items: rules.map((rule, i) => ({ id: `r_${i}`, accountId: 'acc_9', ...rule, version: 3, createdAt: '2026-10-01T00:00:00.000Z', updatedAt: '2026-10-02T00:00:00.000Z' })),
  ...(nextCursor === undefined ? {} : { nextCursor }),
});

const STORE_VARIABLES = ['STORE', 'MONGODB_URI', 'POSTGRES_URL', 'MONGODB_DB', 'POSTGRES_SCHEMA'] as const;

describe('rules import --dry-run with no store given', () => {
  let dir = '';
  const saved = new Map<string, string | undefined>();
  const fileWith = async (name: string, content: unknown) => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(content));
    return path;
  };

  // The environment a services run exports would name a store; this is the newcomer's shell.
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-cli-offline-'));
    for (const name of STORE_VARIABLES) {
      saved.set(name, process.env[name]);
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const [name, value] of saved) if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  });

  it("validates the Rules API's { items: [...] } offline, connecting nowhere", async () => {
    const file = await fileWith('page.json', apiPage([smsRule('Notify technician'), smsRule('Follow up', 60)]));
    const text = await cli(['rules', 'import', '--account', 'acc_1', '--in', file, '--dry-run']);
    expect([text.code, text.stderr, text.connected]).toEqual([0, '', false]);
    expect(text.stdout).toBe(
      'valid        "Notify technician"\nvalid        "Follow up"\n' +
        'dry run, offline: 2 rules valid; not compared with the rules of acc_1 (no store given: set MONGODB_URI or POSTGRES_URL to see what would be created or updated)\n',
    );
    const json = await cli(['rules', 'import', '--account', 'acc_1', '--in', file, '--dry-run', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ dryRun: true, offline: true, valid: 2, entries: [{ index: 0, name: 'Notify technician' }, { index: 1, name: 'Follow up' }] } satisfies RulesFileCheck);
  });

  it('reports every problem by path, as an import would, and exits 1', async () => {
    const bad = apiPage([smsRule('A'), { ...smsRule('A'), delay: { value: -1, unit: 'minutes' } }, { ...smsRule('B'), actions: [{ type: 'sms', params: { recipient: '+1', message: 'x' } }] }]);
    const run = await cli(['rules', 'import', '--account', 'acc_1', '--in', await fileWith('bad.json', bad), '--dry-run']);
    expect([run.code, run.connected]).toEqual([1, false]);
    expect(run.stderr).toMatch(/^error CRM_ERR_CLI_IMPORT_INVALID: the rules file has 2 problems; nothing was imported\n {2}rules\[1\]\.delay\.value: .+\n {2}rules\[2\]\.actions\[0\]\.params\.recipient: /);
  });

  it('applies the action types and webhook policy given, as the services would', async () => {
    const custom = { ...smsRule('Slack'), actions: [{ type: 'slack', params: { channel: '#ops' } }] };
    const internal = { ...smsRule('Internal hook'), actions: [{ type: 'webhook', params: { url: 'http://10.0.0.5/hook', payload: {} } }] };
    const file = await fileWith('custom.json', [custom, internal]);
    const refused = await cli(['rules', 'import', '--account', 'acc_1', '--in', file, '--dry-run']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/rules\[0\]\.actions\[0\]\.type: /);
    expect(refused.stderr).toMatch(/rules\[1\]\.actions\[0\]\.params\.url: /);
    const accepted = await cli(['--action-types', 'slack', '--allow-private-webhooks', 'rules', 'import', '--account', 'acc_1', '--in', file, '--dry-run']);
    expect([accepted.code, accepted.connected]).toEqual([0, false]);
    expect(accepted.stdout).toContain('2 rules valid');
  });

  it('warns that a saved page with a nextCursor is not every rule', async () => {
    const run = await cli(['rules', 'import', '--account', 'acc_1', '--in', await fileWith('one-page.json', apiPage([smsRule('A')], 'cursor_2')), '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('warning: the file is one page of GET /rules (it has a nextCursor): rules on later pages are not in it; `crm-automation rules export` writes every rule\n');
  });

  it('with a store given, plans against its rules instead (what would be created or updated)', async () => {
    const world = memoryWorld();
    const existing = await world.engine.rules.create('acc_1', smsRule('Notify technician'));
    const file = await fileWith('page.json', apiPage([{ ...smsRule('Notify technician'), enabled: false }, smsRule('New one')]));
    const run = await cli(['--mongodb-uri', 'mongodb://127.0.0.1:27017', 'rules', 'import', '--account', 'acc_1', '--in', file, '--dry-run'], world.connections());
    expect(run.connected).toBe(true);
    expect(run.stdout).toBe(
      `would update "Notify technician" (${existing.id}, matched by name)\nwould create "New one"\ndry run: 1 to create, 1 to update, 0 unchanged; run again without --dry-run to apply\n`,
    );
  });
});

describe("importing the Rules API's { items: [...] }", () => {
  it('imports the rules without their ids, versions and timestamps, and matches them by id in the same account', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    const first = await importRules(engine, 'acc_1', apiPage([smsRule('A'), smsRule('B')]));
    expect(first).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
    const stored = (await engine.rules.list('acc_1')).items;
    expect(stored.map((r) => [r.name, r.version])).toEqual([
      ['A', 1],
      ['B', 1],
    ]);
    // GET /rules of that account, saved and imported back: nothing changes.
    const page = { items: JSON.parse(JSON.stringify(stored)) as unknown[] };
    const again = await importRules(engine, 'acc_1', page);
    expect(again.entries.map((e) => [e.action, e.matchedBy])).toEqual([
      ['unchanged', 'id'],
      ['unchanged', 'id'],
    ]);
  });

  it('still refuses a file of another format, or an object with neither rules nor items', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    await expect(importRules(engine, 'acc_1', { format: 'other', items: [] })).rejects.toMatchObject({ code: 'CRM_ERR_CLI_IMPORT_INVALID', details: [{ path: 'format', code: 'unknown_format' }] });
    await expect(importRules(engine, 'acc_1', { data: [] })).rejects.toMatchObject({ code: 'CRM_ERR_CLI_IMPORT_INVALID', details: [{ path: 'rules', code: 'invalid_type' }] });
  });
});
