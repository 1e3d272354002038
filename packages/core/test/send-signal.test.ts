import { describe, expect, it } from 'vitest';
import { createAutomationEngine, type RuleInput, type SendContext } from '@crm-automation/core';
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
