import { describe, expect, it } from 'vitest';
import { createAutomationEngine, GatewayError, type RuleInput, type SendContext } from '@crm-automation/core';
import { createManualClock } from '@crm-automation/core/doubles';
import { createMemoryStore } from '@crm-automation/core/memory';
import { doneJobPayload, technicianSmsRule } from '@crm-automation/testing';

const ACCOUNT = 'acc_1';
const immediate = { ...technicianSmsRule, delay: { value: 0, unit: 'minutes' } } satisfies RuleInput;

/** The abort signal of a send is made when a gateway first reads it; it must behave as if it had always been there. */
describe('the abort signal a gateway is given', () => {
  it('read only after the send timed out, it is aborted already, with the timeout as its reason', async () => {
    const clock = createManualClock(0);
    let context: SendContext | undefined;
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      clock,
      sendTimeoutMs: 5_000,
      channels: {
        sms: {
          send: (_command, given) => {
            context = given;
            return new Promise(() => undefined);
          },
        },
      },
    });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(5_000);
    await pass;
    expect(Object.keys(context ?? {})).toEqual(['signal']);
    const signal = context?.signal;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: 'CRM_ERR_GATEWAY', ambiguous: true });
    expect(context?.signal).toBe(signal);
    expect({ ...context }.signal).toBe(signal);
  });

  it('read before an answer, it is not aborted, and it stays the same signal', async () => {
    const clock = createManualClock(0);
    const seen: AbortSignal[] = [];
    const engine = createAutomationEngine({
      store: createMemoryStore(),
      clock,
      channels: {
        sms: {
          send: async (_command, given) => {
            if (given) seen.push(given.signal, given.signal);
            return { id: 'm1' };
          },
        },
      },
    });
    await engine.rules.create(ACCOUNT, immediate);
    await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
    expect(await engine.runDue()).toMatchObject({ completed: 1 });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeInstanceOf(AbortSignal);
    expect(seen[0]).toBe(seen[1]);
    expect(seen[0]?.aborted).toBe(false);
  });
});

/**
 * What a send past `sendTimeoutMs` is recorded as: `unknown` (held) only when it may have reached
 * the provider. A gateway that answers the abort by saying nothing was written (still connecting) is
 * an ordinary transient failure; one that is accepted late makes the ledger say so.
 */
describe('a send past the timeout', () => {
  const setup = async (send: (signal: AbortSignal) => Promise<unknown>) => {
    const clock = createManualClock(0);
    const store = createMemoryStore();
    const engine = createAutomationEngine({ store, clock, sendTimeoutMs: 1_000, channels: { sms: { name: 'stand-in', send: (_command, context) => send(context?.signal ?? new AbortController().signal) } } });
    await engine.rules.create(ACCOUNT, immediate);
    const [trigger] = await engine.ingest({ name: 'job.status.changed', accountId: ACCOUNT, payload: doneJobPayload });
    const pass = engine.runDue();
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1_000);
    await pass;
    const deliveries = async () => {
      await engine.stop();
      return engine.deliveries.ofTrigger(ACCOUNT, trigger?.id ?? '');
    };
    return { engine, deliveries, trigger: () => engine.triggers.get(ACCOUNT, trigger?.id ?? '') };
  };
  const onAbort = (signal: AbortSignal, then: () => void) => signal.addEventListener('abort', then, { once: true });

  it.each([
    ['a GatewayError that is not ambiguous (nothing was written)', () => new GatewayError('aborted while connecting', { provider: 'stand-in', retryable: true })],
    ['an error whose ambiguous is false', () => Object.assign(new Error('aborted before writing'), { ambiguous: false, retryable: true })],
  ])('answered by %s: a transient failure, retried, not held', async (_name, error) => {
    const { deliveries, trigger } = await setup((signal) => new Promise((_resolve, reject) => onAbort(signal, () => reject(error()))));
    const after = await trigger();
    expect(after?.status).toBe('retrying');
    expect(after?.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'failed', error: { retryable: true } });
    const [delivery] = await deliveries();
    expect(delivery?.state).toBe('refused');
  });

  it.each([
    ['a plain error', () => new Error('aborted')],
    ['the abort reason passed on', (signal: AbortSignal) => signal.reason as Error],
    ['an ambiguous GatewayError', () => new GatewayError('connection lost after writing', { provider: 'stand-in', retryable: true, ambiguous: true })],
    ['an error with no word on ambiguity', () => Object.assign(new Error('aborted'), { retryable: true })],
  ])('answered by %s: unknown and held', async (_name, error) => {
    const { deliveries, trigger } = await setup((signal) => new Promise((_resolve, reject) => onAbort(signal, () => reject(error(signal)))));
    expect((await trigger())?.executionHistory.at(-1)?.actions?.[0]).toMatchObject({ status: 'unknown' });
    const [delivery] = await deliveries();
    expect(delivery?.state).toBe('unknown');
  });

  it('answered with a refusal right at the abort: refused, as the provider said', async () => {
    const { deliveries } = await setup((signal) => new Promise((_resolve, reject) => onAbort(signal, () => reject(new GatewayError('invalid number', { provider: 'stand-in', retryable: false, providerCode: 21211 })))));
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ state: 'refused', error: { providerCode: 21211 } });
  });

  it('accepted right at the abort: sent', async () => {
    const { deliveries, trigger } = await setup((signal) => new Promise((resolve) => onAbort(signal, () => resolve({ id: 'SM-right-then' }))));
    expect((await trigger())?.status).toBe('completed');
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ state: 'accepted', providerId: 'SM-right-then' });
  });

  it('accepted long after the engine stopped waiting: the unknown send becomes accepted, with the provider id, and is not sent again', async () => {
    let accept: (value: unknown) => void = () => undefined;
    let calls = 0;
    const { engine, deliveries } = await setup(() => {
      calls += 1;
      return new Promise((resolve) => (accept = resolve));
    });
    const [held] = await engine.deliveries.list(ACCOUNT, { state: 'unknown' }).then((page) => page.items);
    expect(held).toBeDefined();
    accept({ id: 'SM-late' });
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ id: held?.id, state: 'accepted', providerId: 'SM-late' });
    expect(delivery?.events.map((e) => [e.state, e.source])).toEqual([['intent', 'engine'], ['unknown', 'engine'], ['accepted', 'reconcile']]);
    // A receipt finds it by the provider id now.
    expect(await engine.deliveries.applyReceipt({ provider: 'stand-in', providerId: 'SM-late', state: 'delivered', at: new Date(5_000) })).toMatchObject({ applied: true });
    expect(calls).toBe(1);
  });
});
