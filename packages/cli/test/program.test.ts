import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliConnections } from '../src/index.js';
import { guardedConnect, runCaptured } from './cli-run.js';
import { memoryWorld, smsRule } from './memory-world.js';

const cli = (args: string[], connections?: CliConnections) => runCaptured(args, guardedConnect(connections).connect);

const COMMANDS = [
  [],
  ['dead-letters'],
  ['dead-letters', 'list'],
  ['dead-letters', 'replay'],
  ['triggers'],
  ['triggers', 'list'],
  ['triggers', 'inspect'],
  ['triggers', 'retry'],
  ['triggers', 'cancel'],
  ['deliveries'],
  ['deliveries', 'list'],
  ['deliveries', 'show'],
  ['deliveries', 'resolve'],
  ['rules'],
  ['rules', 'export'],
  ['rules', 'import'],
  ['ensure-indexes'],
  ['purge'],
];

describe('crm-automation commands', () => {
  it.each(COMMANDS.map((c) => [c.join(' ') || '(root)', c]))('%s --help prints usage and exits 0 without connecting', async (_name, command) => {
    const { code, stdout } = await cli([...(command as string[]), '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: crm-automation${(command as string[]).length > 0 ? ` ${(command as string[]).join(' ')}` : ''}`);
  });

  it('--version and -V print the package version and exit 0 without connecting', async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('refuses a missing required flag or a bad value with a usage error', async () => {
    const missing = await cli(['triggers', 'retry']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/required option '--account <id>' not specified/);
    const status = await cli(['purge', '--older-than', '30d', '--status', 'done']);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/unknown status done/);
    const bus = await cli(['dead-letters', 'list', '--bus', 'sqs']);
    expect(bus.stderr).toMatch(/Allowed choices are rabbitmq, kafka/);
  });

  it('retries in bulk with --json, and closes its connections', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('R'));
    await world.fire('acc_1', 2, { fail: true });
    const connections = world.connections();
    const dry = await cli(['triggers', 'retry', '--account', 'acc_1', '--dry-run', '--json'], connections);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ operation: 'retry', dryRun: true, matched: 2 });
    const done = await cli(['--json', 'triggers', 'retry', '--account', 'acc_1'], connections);
    expect(JSON.parse(done.stdout)).toMatchObject({ matched: 2, changed: 2 });
    expect(connections.closed).toBe(2);
  });

  it('lists triggers as a table, filtered by status, up to the limit', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('R'));
    await world.fire('acc_1', 3, { fail: true });
    await world.fire('acc_1', 1);
    const failed = await cli(['triggers', 'list', '--account', 'acc_1', '--status', 'failed', '--limit', '2'], world.connections());
    expect(failed.stdout).toMatch(/^ID +STATUS +RULE +DUE +ATTEMPTS +LAST\n(\S+ +failed +\S+ +2026-10-01T00:00:00\.000Z +1 +failed \(action-failed\): CRM_ERR_GATEWAY twilio answered 400: invalid number\n){2}2 triggers\n$/);
    const all = JSON.parse((await cli(['triggers', 'list', '--account', 'acc_1', '--json'], world.connections())).stdout) as Array<{ status: string }>;
    expect(all.map((t) => t.status).sort()).toEqual(['completed', 'failed', 'failed', 'failed']);
  });

  it('reports a failure as "error CODE: message" and exit code 1, or as JSON', async () => {
    const world = memoryWorld();
    const text = await cli(['triggers', 'inspect', 'nope', '--account', 'acc_1'], world.connections());
    expect(text.code).toBe(1);
    expect(text.stderr).toBe('error CRM_ERR_CLI_NOT_FOUND: trigger nope does not exist in account acc_1\n');
    const json = await cli(['triggers', 'inspect', 'nope', '--account', 'acc_1', '--json'], world.connections());
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'CRM_ERR_CLI_NOT_FOUND', message: 'trigger nope does not exist in account acc_1' } });
  });

  it('exports to a file and imports it, printing validation issues by path when invalid', async () => {
    const world = memoryWorld();
    await world.engine.rules.create('acc_1', smsRule('R'));
    const dir = await mkdtemp(join(tmpdir(), 'crm-cli-'));
    const file = join(dir, 'rules.json');
    const exported = await cli(['rules', 'export', '--account', 'acc_1', '--out', file], world.connections());
    expect(exported.stdout).toBe(`exported 1 rule of acc_1 to ${file}\n`);
    const imported = await cli(['rules', 'import', '--account', 'acc_2', '--in', file], world.connections());
    expect(imported.stdout).toMatch(/^created {6}"R" \(.+\)\n1 created, 0 updated, 0 unchanged\n$/);

    const parsed = JSON.parse(await readFile(file, 'utf8')) as { rules: Array<Record<string, unknown>> };
    (parsed.rules[0] as { delay: unknown }).delay = { value: -1, unit: 'minutes' };
    await writeFile(file, JSON.stringify(parsed));
    const invalid = await cli(['rules', 'import', '--account', 'acc_2', '--in', file], world.connections());
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error CRM_ERR_CLI_IMPORT_INVALID: the rules file has 1 problem; nothing was imported\n {2}rules\[0\]\.delay\.value: /);
  });

  it('ensure-indexes covers the idempotency keys unless told not to', async () => {
    const world = memoryWorld();
    expect((await cli(['ensure-indexes'], world.connections())).stdout).toBe('store: indexes ensured (dialect=memory)\nkeys idempotency_keys: indexes ensured (expiry=ttl)\n');
    expect((await cli(['ensure-indexes', '--no-idempotency'], world.connections())).stdout).toBe('store: indexes ensured (dialect=memory)\n');
  });
});
