import { describe, expect, it } from 'vitest';
import { createAutomationEngine, GatewayError, type AutomationStore, type RuleInput } from '@crm-automation/core';
import { createManualClock, createRecordingChannel } from '@crm-automation/core/doubles';
import { createMemoryIdempotencyStore, createMemoryStore } from '@crm-automation/core/memory';
import { doneJobPayload, highValueJobPayload, highValueJobRule, technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const immediate = { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } } satisfies RuleInput;
const doneEvent = (id?: string) => ({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload, ...(id ? { id } : {}) });

function setup(options: { store?: AutomationStore; maxAttempts?: number } = {}) {
  const clock = createManualClock('2026-01-01T00:00:00Z');
  const sms = createRecordingChannel();
  const email = createRecordingChannel();
  const webhook = createRecordingChannel();
  const store = options.store ?? createMemoryStore();
  const engine = createAutomationEngine({
    store,
    clock,
    channels: { sms, email, webhook },
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 },
  });
  return { clock, sms, email, webhook, store, engine };
}

describe('claim loop and dispatch', () => {
  it('retries a transient failure with exponential backoff, then completes', async () => {
    const { clock, sms, engine } = setup();
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    sms.failNext(new GatewayError('503 from provider', { retryable: true }), 2);

    expect(await engine.runDue()).toMatchObject({ retrying: 1 });
    let stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.status).toBe('retrying');
    expect((stored?.evaluateAt.getTime() ?? 0) - clock.now().getTime()).toBe(1_000);

    await clock.advance(999);
    expect((await engine.runDue()).claimed).toBe(0);
    await clock.advance(1);
    expect(await engine.runDue()).toMatchObject({ retrying: 1 });
    stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect((stored?.evaluateAt.getTime() ?? 0) - clock.now().getTime()).toBe(2_000);

    await clock.advance(2_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.attempt).toBe(3);
    expect(stored?.executionHistory.map((h) => h.outcome)).toEqual(['retrying', 'retrying', 'completed']);
    expect(sms.sent).toHaveLength(1);
  });

  it('honours Retry-After as a floor on the backoff', async () => {
    const { clock, sms, engine } = setup();
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    sms.failNext(new GatewayError('429', { retryable: true, retryAfterMs: 30_000 }));
    await engine.runDue();
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect((stored?.evaluateAt.getTime() ?? 0) - clock.now().getTime()).toBe(30_000);
  });

  it('fails after the maximum number of attempts', async () => {
    const { clock, sms, engine } = setup({ maxAttempts: 2 });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    sms.failNext(Object.assign(new Error('socket hang up'), { retryable: true }), 5);
    await engine.runDue();
    await clock.advance(60_000);
    expect(await engine.runDue()).toMatchObject({ failed: 1 });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.status).toBe('failed');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ reason: 'max-attempts', error: { message: 'socket hang up', retryable: true } });
  });

  it('fails at once on a permanent error and keeps it in the history', async () => {
    const { sms, engine } = setup();
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    sms.failNext(new GatewayError('invalid number', { provider: 'twilio', status: 400, providerCode: 21211 }));
    expect(await engine.runDue()).toMatchObject({ failed: 1 });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory[0]).toMatchObject({
      outcome: 'failed',
      reason: 'action-failed',
      actions: [{ index: 0, type: 'sms', status: 'failed', error: { code: 'CRM_ERR_GATEWAY', providerCode: 21211, retryable: false } }],
    });
  });

  it('a thrown error without retryable: true is permanent', async () => {
    const { sms, engine } = setup();
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(doneEvent());
    sms.failNext(new TypeError('boom'));
    expect(await engine.runDue()).toMatchObject({ failed: 1 });
  });

  it('never sends again an action that succeeded in an earlier attempt', async () => {
    const { clock, email, webhook, engine } = setup();
    await engine.rules.create(ACCOUNT, highValueJobRule);
    const [trigger] = await engine.ingest({ name: 'job.created', accountId: ACCOUNT, payload: highValueJobPayload(3000, 'Commercial') });
    webhook.failNext(new GatewayError('502', { retryable: true }));
    expect(await engine.runDue()).toMatchObject({ retrying: 1 });
    expect(email.sent).toHaveLength(1);
    await clock.advance(1_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(email.calls).toHaveLength(1);
    expect(webhook.sent).toHaveLength(1);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.sentActions.sort()).toEqual([0, 1]);
    expect(stored?.executionHistory[1]?.actions?.map((a) => a.status)).toEqual(['already-sent', 'sent']);
  });

  it('actions are independent: a permanent failure does not stop the others, and is not retried', async () => {
    const { clock, email, webhook, engine } = setup();
    await engine.rules.create(ACCOUNT, highValueJobRule);
    await engine.ingest({ name: 'job.created', accountId: ACCOUNT, payload: highValueJobPayload(3000, 'Commercial') });
    email.failNext(new GatewayError('bad address', { status: 400 }));
    webhook.failNext(new GatewayError('timeout', { retryable: true }));
    expect(await engine.runDue()).toMatchObject({ retrying: 1 });
    await clock.advance(1_000);
    expect(await engine.runDue()).toMatchObject({ failed: 1 });
    expect(email.calls).toHaveLength(1);
    expect(webhook.sent).toHaveLength(1);
  });

  it('honours a rule disabled, deleted or changed during the delay', async () => {
    const { clock, sms, engine } = setup();
    const rule = await engine.rules.create(ACCOUNT, technicianSmsRule);
    const [first] = await engine.ingest(doneEvent('e1'));
    await engine.rules.update(ACCOUNT, rule.id, { ...technicianSmsRule, enabled: false });
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ skipped: 1 });
    expect((await engine.triggers.get(ACCOUNT, first?.id ?? ''))?.executionHistory[0]?.reason).toBe('rule-disabled');

    await engine.rules.update(ACCOUNT, rule.id, technicianSmsRule);
    const [second] = await engine.ingest({ ...doneEvent('e2'), timestamp: clock.now() });
    await engine.rules.update(ACCOUNT, rule.id, {
      ...technicianSmsRule,
      conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Cancelled' }] },
    });
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ skipped: 1 });
    const evaluated = (await engine.triggers.get(ACCOUNT, second?.id ?? ''))?.executionHistory[0];
    expect(evaluated).toMatchObject({ reason: 'conditions-not-met', ruleVersion: 4 });

    const [third] = await engine.ingest({ ...doneEvent('e3'), timestamp: clock.now() });
    await engine.rules.delete(ACCOUNT, rule.id);
    await clock.advance(5 * 60_000);
    await engine.runDue();
    expect((await engine.triggers.get(ACCOUNT, third?.id ?? ''))?.executionHistory[0]?.reason).toBe('rule-deleted');
    expect(sms.calls).toHaveLength(0);
  });

  it('a condition that throws fails that trigger only', async () => {
    const clock = createManualClock(0);
    const sms = createRecordingChannel();
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      clock,
      channels: { sms },
      operators: { explodes: () => { throw new Error('operator exploded'); } },
    });
    await engine.rules.create(ACCOUNT, { ...immediate, conditions: { all: [{ fact: 'job', path: '$.status', operator: 'explodes', value: 1 }] } });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(doneEvent());
    expect(await engine.runDue()).toMatchObject({ claimed: 2, failed: 1, completed: 1 });
    const { items } = await engine.triggers.list(ACCOUNT, { status: 'failed' });
    expect(items[0]?.executionHistory[0]).toMatchObject({ reason: 'evaluation-error', error: { code: 'CRM_ERR_EVALUATION' } });
    expect(sms.sent).toHaveLength(1);
  });

  it('a recipient fact that resolves to nothing skips the trigger (recipient-missing) with a clear error, not a failed run', async () => {
    const { sms, engine } = setup();
    await engine.rules.create(ACCOUNT, { ...immediate, conditions: { all: [] } });
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: { job: { status: 'Done' } } });
    expect(await engine.runDue()).toMatchObject({ skipped: 1, failed: 0 });
    const { items } = await engine.triggers.list(ACCOUNT);
    expect(items[0]?.executionHistory[0]).toMatchObject({ outcome: 'skipped', reason: 'recipient-missing' });
    expect(items[0]?.executionHistory[0]?.actions?.[0]).toMatchObject({ status: 'not-attempted', error: { code: 'CRM_ERR_RENDER', message: expect.stringContaining('recipient') as string } });
    expect(sms.calls).toHaveLength(0);
  });

  it('a trigger whose worker died is claimed again after its lease expires, not before', async () => {
    const store = createMemoryStore();
    const { clock, sms, engine } = setup({ store });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    // A worker claims and dies without finishing.
    const [claimed] = await store.claimDueTriggers({ now: clock.now(), limit: 10, leaseMs: 60_000, owner: 'dead' });
    expect(claimed?.id).toBe(trigger?.id);
    expect((await engine.runDue()).claimed).toBe(0);
    await clock.advance(60_000);
    expect(await engine.runDue()).toMatchObject({ claimed: 1, completed: 1 });
    expect(sms.sent).toHaveLength(1);
    // The dead worker's late write is refused: its token no longer holds the lease.
    const late = await store.finishAttempt(claimed?.id ?? '', claimed?.leaseToken ?? '', {
      status: 'failed', sentActions: [], now: clock.now(), history: { at: clock.now(), attempt: 1, outcome: 'failed' },
    });
    expect(late).toBe(false);
    expect((await engine.triggers.get(ACCOUNT, trigger?.id ?? ''))?.status).toBe('completed');
  });

  it('several engines on one store never process a trigger twice', async () => {
    const store = createMemoryStore();
    const clock = createManualClock(0);
    const channels = Array.from({ length: 4 }, () => createRecordingChannel());
    const engines = channels.map((sms) => createAutomationEngine({ store, clock, channels: { sms }, batchSize: 7 }));
    await engines[0]?.rules.create(ACCOUNT, immediate);
    for (let i = 0; i < 500; i++) await engines[0]?.ingest(doneEvent(`evt-${i}`));
    const counts = await Promise.all(engines.map((e) => e.runDue()));
    expect(counts.reduce((n, c) => n + c.completed, 0)).toBe(500);
    const ids = channels.flatMap((c) => c.sent.map((s) => s.metadata.triggerId));
    expect(ids).toHaveLength(500);
    expect(new Set(ids).size).toBe(500);
  });

  it('with an idempotency store, a command already sent is not sent again even if the trigger is retried', async () => {
    const clock = createManualClock(0);
    const sms = createRecordingChannel();
    const idempotency = createMemoryIdempotencyStore();
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, clock, channels: { sms }, idempotency });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    // Simulate a crash after the provider accepted: the key is recorded, the trigger is not.
    await idempotency.acquire(`${trigger?.id}:0`, 1_000);
    await idempotency.complete(`${trigger?.id}:0`, { id: 'SM123' }, 60_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.calls).toHaveLength(0);
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory[0]?.actions?.[0]).toMatchObject({ status: 'sent', result: { id: 'SM123' } });
  });

  it('a gateway that never answers is aborted after sendTimeoutMs: the send is unknown, held, not retried blindly', async () => {
    const clock = createManualClock(0);
    let aborted: unknown;
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      clock,
      sendTimeoutMs: 5_000,
      channels: { sms: { send: (_command, context) => new Promise(() => context?.signal.addEventListener('abort', () => (aborted = context.signal.reason))) } },
    });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest(doneEvent());
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(4_999);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(1);
    expect(await pass).toMatchObject({ completed: 1, retrying: 0 });
    expect(aborted).toMatchObject({ code: 'CRM_ERR_GATEWAY' });
    const stored = await engine.triggers.get(ACCOUNT, trigger?.id ?? '');
    expect(stored?.executionHistory.at(-1)).toMatchObject({ reason: 'delivery-unknown', actions: [{ status: 'unknown', error: { ambiguous: true } }] });
  });

  it('retries a timed-out send when the gateway deduplicates by the idempotency key', async () => {
    const clock = createManualClock(0);
    let calls = 0;
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      clock,
      sendTimeoutMs: 5_000,
      backoff: { baseMs: 1_000, jitter: 0 },
      channels: { sms: { dedupes: true, send: () => (++calls === 1 ? new Promise(() => {}) : Promise.resolve({ id: 'SM2' })) } },
    });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest(doneEvent());
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(5_000);
    expect(await pass).toMatchObject({ retrying: 1 });
    await clock.advance(1_000);
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(calls).toBe(2);
  });

  it('users can cancel a pending trigger and retry a failed one with a fresh budget', async () => {
    const { clock, sms, engine } = setup({ maxAttempts: 1 });
    await engine.rules.create(ACCOUNT, technicianSmsRule);
    const [pending] = await engine.ingest(doneEvent('a'));
    const cancelled = await engine.triggers.cancel(ACCOUNT, pending?.id ?? '');
    expect(cancelled?.status).toBe('cancelled');
    await expect(engine.triggers.cancel(ACCOUNT, pending?.id ?? '')).rejects.toMatchObject({ code: 'CRM_ERR_TRIGGER_STATE' });
    expect(await engine.triggers.cancel('acc_other', pending?.id ?? '')).toBeNull();

    const [second] = await engine.ingest(doneEvent('b'));
    sms.failNext(new GatewayError('down', { retryable: true }));
    await clock.advance(5 * 60_000);
    expect(await engine.runDue()).toMatchObject({ claimed: 1, failed: 1 });
    const retried = await engine.triggers.retry(ACCOUNT, second?.id ?? '');
    expect(retried?.status).toBe('pending');
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(sms.sent).toHaveLength(1);
    const history = (await engine.triggers.get(ACCOUNT, second?.id ?? ''))?.executionHistory.map((h) => h.outcome);
    expect(history).toEqual(['failed', 'retry-requested', 'completed']);
  });
});
