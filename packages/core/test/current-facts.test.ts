import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type FactLoader, type FactLoaderContext, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';

const rule = {
  ...technicianSmsRule,
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  delay: { value: 5, unit: 'minutes' },
  evaluate: { job: 'current' },
} satisfies RuleInput;

const job = (status: string, techName = 'Ana') => ({ id: 'job-1', number: 7, status, client: { name: 'Acme' }, assignedTechnician: { name: techName, phone: '+15550001111' } });

function setup(loader: FactLoader, options: { maxAttempts?: number; factTimeoutMs?: number } = {}) {
  const clock = createManualClock('2026-03-01T10:00:00Z');
  const sms = createRecordingChannel();
  const engine = createAutomationEngine({
    store: createMemoryStore(),
    clock,
    channels: { sms },
    facts: { job: loader },
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 },
    ...(options.factTimeoutMs ? { factTimeoutMs: options.factTimeoutMs } : {}),
  });
  const done = () => engine.ingest({ id: 'e1', name: 'job.status.changed', accountId: ACCOUNT, payload: { job: job('Done'), note: 'from the event' } });
  return { clock, sms, engine, done };
}

describe('current state at fire time', () => {
  it('a re-opened job sends nothing: conditions see the loader\'s value, the trace keeps the event\'s', async () => {
    const calls: FactLoaderContext[] = [];
    const { clock, sms, engine, done } = setup(async (ctx) => {
      calls.push(ctx);
      return job('Open');
    });
    await engine.rules.create(ACCOUNT, rule);
    const [trigger] = await done();
    await clock.advance(300_000);
    expect(await engine.runDue()).toMatchObject({ skipped: 1 });
    expect(sms.sent).toHaveLength(0);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'conditions-not-met' });
    expect(stored?.executionHistory.at(-1)?.conditions?.[0]).toMatchObject({ fact: 'job', factPath: '$.status', factResult: 'Open', eventValue: 'Done', result: false });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ accountId: ACCOUNT, fact: 'job', entityKey: 'job-1', event: { id: 'e1', name: 'job.status.changed' }, trigger: { id: trigger?.id } });
    expect(calls[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(calls[0]?.trigger).not.toHaveProperty('leaseToken');
  });

  it('templates render the current value; facts evaluated on the event keep theirs', async () => {
    const { clock, sms, engine } = setup(async () => job('Done', 'Bea'));
    await engine.rules.create(ACCOUNT, { ...rule, actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path: '$.assignedTechnician.phone' }, message: 'Hi {{job.assignedTechnician.name}} ({{note}})' } }] });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: job('Done', 'Ana'), note: 'from the event' } });
    await clock.advance(300_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent[0]?.params['message']).toBe('Hi Bea (from the event)');
  });

  it('a rule without evaluate never calls a loader (today\'s behaviour)', async () => {
    let called = 0;
    const { clock, sms, engine, done } = setup(async () => {
      called += 1;
      return job('Open');
    });
    const { evaluate: _event, ...onEvent } = rule;
    await engine.rules.create(ACCOUNT, onEvent);
    await done();
    await clock.advance(300_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(called).toBe(0);
    expect(sms.sent).toHaveLength(1);
  });

  it('evaluate "current" loads every fact a loader answers for, including those only templates read', async () => {
    const { clock, sms, engine } = setup(async () => job('Done', 'Cy'));
    await engine.rules.create(ACCOUNT, { ...rule, evaluate: 'current', conditions: { all: [] }, actions: [{ type: 'sms', params: { recipient: '+15550002222', message: 'Hi {{job.assignedTechnician.name}}' } }] });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: job('Done', 'Ana') } });
    await clock.advance(300_000);
    await engine.runDue();
    expect(sms.sent[0]?.params['message']).toBe('Hi Cy');
  });

  it.each([null, undefined])('a loader returning %s skips the run with reason entity-missing', async (value) => {
    const { clock, sms, engine, done } = setup(async () => value);
    await engine.rules.create(ACCOUNT, rule);
    const [trigger] = await done();
    await clock.advance(300_000);
    expect(await engine.runDue()).toMatchObject({ skipped: 1, failed: 0 });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.status).toBe('skipped');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ outcome: 'skipped', reason: 'entity-missing' });
    expect(sms.sent).toHaveLength(0);
  });

  it('a loader failure is an infrastructure failure: retried with backoff outside the attempt budget, then it recovers', async () => {
    let failures = 3;
    const { clock, sms, engine, done } = setup(
      async () => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('CRM unreachable');
        }
        return job('Done');
      },
      { maxAttempts: 1 },
    );
    await engine.rules.create(ACCOUNT, rule);
    const [trigger] = await done();
    await clock.advance(300_000);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(await engine.runDue()).toMatchObject({ retrying: 1 });
      const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
      expect(stored?.status).toBe('retrying');
      expect(stored?.executionHistory.at(-1)).toMatchObject({ outcome: 'retrying', reason: 'internal-error', error: { code: 'CRM_ERR_EVALUATION', retryable: true, fact: 'job', message: expect.stringContaining('CRM unreachable') as string } });
      const delay = (stored?.evaluateAt.getTime() ?? 0) - clock.now().getTime();
      delays.push(delay);
      await clock.advance(delay);
    }
    // Backoff grows with consecutive infrastructure failures.
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    // Four attempts with maxAttempts 1: the three loader failures were not counted.
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.attempt).toBe(4);
    expect(stored?.executionHistory.map((h) => h.outcome)).toEqual(['retrying', 'retrying', 'retrying', 'completed']);
    expect(sms.sent).toHaveLength(1);
  });

  it('a loader that does not answer within factTimeoutMs is aborted and retried the same way', async () => {
    let signal: AbortSignal | undefined;
    let called!: () => void;
    const loading = new Promise<void>((resolve) => (called = resolve));
    const { clock, engine, done } = setup(
      (ctx) => {
        signal = ctx.signal;
        called();
        return new Promise(() => undefined);
      },
      { factTimeoutMs: 2_000 },
    );
    await engine.rules.create(ACCOUNT, rule);
    const [trigger] = await done();
    await clock.advance(300_000);
    const pass = engine.runDue();
    await loading;
    await clock.advance(2_000);
    expect(await pass).toMatchObject({ retrying: 1 });
    expect(signal?.aborted).toBe(true);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ reason: 'internal-error', error: { message: expect.stringContaining('did not answer within 2000 ms') as string } });
  });

  it('dry run takes a current-state sample next to the event sample', async () => {
    const { engine } = setup(async () => null);
    const reopened = await engine.rules.dryRun(ACCOUNT, rule, { payload: { job: job('Done') }, current: { job: job('Open') } });
    expect(reopened).toMatchObject({ valid: true, matched: false, currentFacts: ['job'] });
    expect(reopened?.valid && reopened.conditions[0]).toMatchObject({ factResult: 'Open', eventValue: 'Done' });
    const renamed = await engine.rules.dryRun(ACCOUNT, rule, { payload: { job: job('Done') }, current: { job: job('Done', 'Bea') } });
    expect(renamed?.valid && renamed.commands[0]?.command?.params['message']).toContain('Hi Bea');
    const gone = await engine.rules.dryRun(ACCOUNT, rule, { payload: { job: job('Done') }, current: { job: null } });
    expect(gone).toMatchObject({ valid: true, matched: false, skipped: 'entity-missing' });
    // Without a sample, the event's values, as before.
    const plain = await engine.rules.dryRun(ACCOUNT, rule, { payload: { job: job('Done') } });
    expect(plain).toMatchObject({ valid: true, matched: true });
    expect(plain?.valid && plain.currentFacts).toBeUndefined();
    await expect(engine.rules.dryRun(ACCOUNT, rule, { payload: { job: job('Done') }, current: [1] as never })).rejects.toMatchObject({ code: 'CRM_ERR_EVENT_INVALID', issues: [expect.objectContaining({ path: 'current' })] });
  });
});
