import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createRecordingChannel, GatewayError, type Delivery } from '@crm-automation/core';
import { createMemoryRuleStore, createMemoryStore, createMemoryTriggerStore } from '@crm-automation/core/memory';
import { CliError, keepsDeliveryLedger, requireDeliveryLedger, type CliConnections, type ResolveDeliveryResult } from '../src/index.js';
import { runCaptured } from './cli-run.js';
import { memoryWorld, smsRule, type MemoryWorld } from './memory-world.js';

const cli = (args: string[], connections: CliConnections) => runCaptured(args, () => connections);

const json = <T>(run: { code: number; stdout: string; stderr: string }): T => {
  expect([run.code, run.stderr]).toEqual([0, '']);
  return JSON.parse(run.stdout) as T;
};

/** acc_1: one accepted send, then two that timed out (unknown); acc_2: one that timed out. */
async function ledgerWorld(): Promise<MemoryWorld & { ruleId: string }> {
  const world = memoryWorld();
  const rule = await world.engine.rules.create('acc_1', smsRule('Notify'));
  await world.engine.rules.create('acc_2', smsRule('Notify'));
  await world.fire('acc_1', 1);
  world.clock.advance(60_000);
  await world.fire('acc_1', 2, { timeout: true });
  await world.fire('acc_2', 1, { timeout: true });
  return Object.assign(world, { ruleId: rule.id });
}

const unknownOf = async (world: MemoryWorld, accountId = 'acc_1') => (await world.engine.deliveries.list(accountId, { state: 'unknown' })).items;

describe('deliveries list', () => {
  it('lists the unknown sends of an account as a table (the CrmDeliveriesUnknown runbook)', async () => {
    const world = await ledgerWorld();
    const run = await cli(['deliveries', 'list', '--account', 'acc_1', '--state', 'unknown'], world.connections());
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATE +TYPE +PROVIDER +PROVIDER ID +RECIPIENT +TRIGGER +UPDATED +DETAIL$/);
    expect(lines.slice(1, -1)).toHaveLength(2);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^\S+ +unknown +sms +twilio +\+15557654321 +\S+ \[0\] +2026-10-01T00:01:00\.000Z +CRM_ERR_GATEWAY twilio did not answer within 10 s$/);
    expect(lines.at(-1)).toBe('2 deliveries');
  });

  it('filters by state, trigger, recipient (as the ledger normalises it), provider and provider id, up to --limit', async () => {
    const world = await ledgerWorld();
    const all = json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--json'], world.connections()));
    expect(all.map((d) => d.state).sort()).toEqual(['accepted', 'unknown', 'unknown']);
    expect(all.every((d) => d.accountId === 'acc_1')).toBe(true);
    const accepted = all.find((d) => d.state === 'accepted');
    expect(accepted?.providerId).toEqual(expect.any(String));

    const byProviderId = json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--provider-id', accepted?.providerId ?? '', '--json'], world.connections()));
    expect(byProviderId.map((d) => d.id)).toEqual([accepted?.id]);
    const byTrigger = json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--trigger', accepted?.triggerId ?? '', '--json'], world.connections()));
    expect(byTrigger.map((d) => d.id)).toEqual([accepted?.id]);
    const several = json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--state', 'accepted,unknown', '--recipient', ' +15557654321 ', '--provider', 'twilio', '--json'], world.connections()));
    expect(several).toHaveLength(3);
    expect(json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--provider', 'sendgrid', '--json'], world.connections()))).toEqual([]);
    expect(json<Delivery[]>(await cli(['deliveries', 'list', '--account', 'acc_1', '--limit', '1', '--json'], world.connections()))).toHaveLength(1);
    expect((await cli(['deliveries', 'list', '--account', 'acc_9'], world.connections())).stdout).toBe('no deliveries\n');
  });

  it('refuses a state the ledger does not know, naming the known ones', async () => {
    const world = await ledgerWorld();
    const run = await cli(['deliveries', 'list', '--account', 'acc_1', '--state', 'unknown,lost'], world.connections());
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unknown state lost (known: intent, accepted, refused, unknown, delivered, undelivered, bounced, failed, abandoned)');
  });
});

describe('deliveries show', () => {
  it('prints a delivery with its events and, when unknown, how to resolve it; another account cannot see it', async () => {
    const world = await ledgerWorld();
    const [unknown] = await unknownOf(world);
    const run = await cli(['deliveries', 'show', unknown?.id ?? '', '--account', 'acc_1'], world.connections());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`delivery     ${unknown?.id}\n`);
    expect(run.stdout).toContain('state        unknown\n');
    expect(run.stdout).toContain('action       sms through twilio\n');
    expect(run.stdout).toContain('error        CRM_ERR_GATEWAY: twilio did not answer within 10 s\n');
    expect(run.stdout).toMatch(/events\n {2}2026-10-01T00:01:00\.000Z {2}intent {7}by engine\n {2}2026-10-01T00:01:00\.000Z {2}unknown {6}by engine/);
    expect(run.stdout).toContain(`crm-automation deliveries resolve ${unknown?.id} --account acc_1 --as sent`);

    const elsewhere = await cli(['deliveries', 'show', unknown?.id ?? '', '--account', 'acc_2', '--json'], world.connections());
    expect(elsewhere.code).toBe(1);
    expect(JSON.parse(elsewhere.stdout)).toEqual({ error: { code: 'CRM_ERR_CLI_NOT_FOUND', message: `delivery ${unknown?.id} does not exist in account acc_2` } });
  });
});

describe('deliveries resolve', () => {
  it('--as sent: a dry run changes nothing; then the delivery is accepted, with who and why in its events', async () => {
    const world = await ledgerWorld();
    const [unknown] = await unknownOf(world);
    const id = unknown?.id ?? '';
    const dry = await cli(['deliveries', 'resolve', id, '--account', 'acc_1', '--as', 'sent', '--dry-run'], world.connections());
    expect(dry.stdout).toBe(`dry run: delivery ${id} (sms to +15557654321 through twilio) would be marked accepted; run again without --dry-run to resolve it\n`);
    expect((await world.engine.deliveries.get('acc_1', id))?.state).toBe('unknown');

    const done = await cli(['deliveries', 'resolve', id, '--account', 'acc_1', '--as', 'sent', '--note', 'in the Twilio console', '--by', 'oncall:ana'], world.connections());
    expect([done.code, done.stdout]).toEqual([0, `delivery ${id} (sms to +15557654321 through twilio) marked accepted\n`]);
    const after = await world.engine.deliveries.get('acc_1', id);
    expect(after?.state).toBe('accepted');
    expect(after?.events.at(-1)).toMatchObject({ state: 'accepted', source: 'operator' });
    expect(JSON.stringify(after?.events.at(-1))).toContain('in the Twilio console');
    expect(world.sms.sent).toHaveLength(0);

    const again = await cli(['deliveries', 'resolve', id, '--account', 'acc_1', '--as', 'resend'], world.connections());
    expect([again.code, again.stderr]).toEqual([1, `error CRM_ERR_CLI_NOT_RESOLVABLE: delivery ${id} is accepted, not unknown: only a send whose outcome is unknown can be resolved; nothing changed\n`]);
  });

  it('--as resend: the delivery is abandoned and its trigger runs again now, sending the action exactly once more', async () => {
    const world = await ledgerWorld();
    const [unknown] = await unknownOf(world);
    const id = unknown?.id ?? '';
    const triggerId = unknown?.triggerId ?? '';
    expect((await world.engine.triggers.get('acc_1', triggerId))?.status).toBe('completed');

    const dry = json<ResolveDeliveryResult>(await cli(['deliveries', 'resolve', id, '--account', 'acc_1', '--as', 'resend', '--dry-run', '--json'], world.connections()));
    expect(dry).toMatchObject({ dryRun: true, as: 'resend', state: 'abandoned', delivery: { id, state: 'unknown' }, trigger: { id: triggerId, status: 'completed' } });
    expect((await world.engine.triggers.get('acc_1', triggerId))?.status).toBe('completed');

    const done = await cli(['deliveries', 'resolve', id, '--account', 'acc_1', '--as', 'resend'], world.connections());
    expect(done.stdout).toBe(`delivery ${id} (sms to +15557654321 through twilio) marked abandoned; trigger ${triggerId} is pending: it sends the action again when a trigger service claims it\n`);
    expect((await world.engine.deliveries.get('acc_1', id))?.events.at(-1)).toMatchObject({ state: 'abandoned', source: 'operator' });

    await world.engine.runDue();
    await world.engine.runDue();
    expect(world.sms.sent.map((c) => c.metadata.triggerId)).toEqual([triggerId]);
    const sends = await world.engine.deliveries.ofTrigger('acc_1', triggerId);
    expect(sends.map((d) => d.state)).toEqual(['abandoned', 'accepted']);
    // The other unknown send of the account is still held.
    expect((await unknownOf(world)).map((d) => d.id)).not.toContain(id);
    expect(await unknownOf(world)).toHaveLength(1);
  });

  it('refuses a resend while its trigger still runs, changing nothing', async () => {
    const world = memoryWorld();
    const sms = createRecordingChannel({ name: 'twilio' });
    // Two sends per run and attempts to spare: the second one's transient failure keeps the trigger retrying.
    const engine = createAutomationEngine({ store: createMemoryStore(), clock: world.clock, channels: { sms }, maxAttempts: 3 });
    const rule = smsRule('Twice');
    await engine.rules.create('acc_1', { ...rule, actions: [...rule.actions, ...rule.actions] });
    sms.failNext(new GatewayError('twilio did not answer within 10 s', { retryable: true, ambiguous: true, provider: 'twilio' }));
    sms.failNext(new GatewayError('twilio answered 503', { retryable: true, provider: 'twilio', status: 503 }));
    await engine.ingest({ id: 'evt-1', name: 'job.status.changed', accountId: 'acc_1', payload: { job: { number: 'J-1', status: 'Done' } } });
    await engine.runDue();
    const [unknown] = (await engine.deliveries.list('acc_1', { state: 'unknown' })).items;
    expect((await engine.triggers.get('acc_1', unknown?.triggerId ?? ''))?.status).toBe('retrying');

    const connections: CliConnections = { ...world.connections(), engine: () => engine, deliveryEngine: () => engine };
    const run = await cli(['deliveries', 'resolve', unknown?.id ?? '', '--account', 'acc_1', '--as', 'resend'], connections);
    expect([run.code, run.stderr]).toEqual([1, `error CRM_ERR_CLI_NOT_RESOLVABLE: trigger ${unknown?.triggerId} is retrying: resend once it has finished (completed, failed, skipped, cancelled); nothing changed\n`]);
    expect((await engine.deliveries.get('acc_1', unknown?.id ?? ''))?.state).toBe('unknown');
  });

  it('needs --as sent|resend and an existing delivery of that account', async () => {
    const world = await ledgerWorld();
    const [unknown] = await unknownOf(world, 'acc_2');
    const missing = await cli(['deliveries', 'resolve', unknown?.id ?? '', '--account', 'acc_2'], world.connections());
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("required option '--as <resolution>' not specified")]);
    const bad = await cli(['deliveries', 'resolve', unknown?.id ?? '', '--account', 'acc_2', '--as', 'delivered'], world.connections());
    expect(bad.stderr).toContain('Allowed choices are sent, resend');
    const elsewhere = await cli(['deliveries', 'resolve', unknown?.id ?? '', '--account', 'acc_1', '--as', 'sent'], world.connections());
    expect([elsewhere.code, elsewhere.stderr]).toEqual([1, `error CRM_ERR_CLI_NOT_FOUND: delivery ${unknown?.id} does not exist in account acc_1\n`]);
    expect((await world.engine.deliveries.get('acc_2', unknown?.id ?? ''))?.state).toBe('unknown');
  });
});

describe('a store without a delivery ledger', () => {
  it('is told apart from one with a ledger, and refused with CRM_ERR_CLI_NO_LEDGER naming the store', () => {
    const split = { ...createMemoryRuleStore(), ...createMemoryTriggerStore() };
    expect(keepsDeliveryLedger(createMemoryStore())).toBe(true);
    expect(keepsDeliveryLedger(split)).toBe(false);
    expect(() => requireDeliveryLedger(createMemoryStore(), 'postgres')).not.toThrow();
    let thrown: unknown;
    try {
      requireDeliveryLedger(split, 'postgres');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect(thrown).toMatchObject({ code: 'CRM_ERR_CLI_NO_LEDGER', message: expect.stringMatching(/^the PostgreSQL store keeps no delivery ledger \(this version of @crm-automation\/adapter-postgres has none\)/) });
  });
});
