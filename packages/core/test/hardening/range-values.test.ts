import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAutomationEngine, createManualClock, createRecordingChannel, isAutomationError, type RuleInput } from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';

// Any value an in-process caller can build, anywhere a tenant value goes (event payload, timestamp,
// condition value, webhook payload, custom params, dry-run samples): accepted and run, or refused
// with a stable code and a path; never an untyped error, and another account's event still fires.

const NOW = '2026-06-01T12:00:00Z';

/** Everything fast-check can make, with the kinds JSON has no form for. */
const anyValue = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});
const hostile = fc.oneof(
  anyValue,
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.constant(new Proxy({}, { ownKeys: () => { throw new Error('proxy'); } })),
  fc.constant(Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('getter'); } })),
  fc.constant((() => { const o: Record<string, unknown> = {}; o.self = o; return o; })()),
  fc.constant({ toJSON: () => ({}) }),
);

function setup() {
  const sms = createRecordingChannel();
  const push = createRecordingChannel();
  const webhook = createRecordingChannel();
  const clock = createManualClock(new Date(NOW));
  const engine = createAutomationEngine({ store: createMemoryStore(), clock, channels: { sms, push, webhook } });
  return { engine, clock, sms };
}

const good: RuleInput = {
  name: 'good',
  trigger: { eventName: 'job.created' },
  conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] },
  actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi {{job.id}}' } }],
};

/** A typed refusal: an AutomationError with a CRM_ERR code, each issue with a string path and code. */
function expectTyped(error: unknown) {
  expect(isAutomationError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toMatch(/^CRM_ERR_/);
  for (const issue of (error as { issues?: Array<{ path: unknown; code: unknown }> }).issues ?? []) {
    expect(typeof issue.path).toBe('string');
    expect(typeof issue.code).toBe('string');
  }
}

async function settle<T>(run: () => Promise<T> | T): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

describe('any in-process value in tenant input', () => {
  it('is accepted and runs, or refused with a typed error and path, in events and dry runs', async () => {
    const { engine, clock, sms } = setup();
    await engine.rules.create('acc', { ...good, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'v {{job.v}}' } }] });
    await engine.rules.create('acc', { ...good, name: 'webhook', actions: [{ type: 'webhook', params: { url: 'https://example.com/hook', payload: { job: '{{job.v}}' } } }] });
    await engine.rules.create('other', good);
    await fc.assert(
      fc.asyncProperty(hostile, fc.oneof(fc.constant(undefined), hostile), async (value, timestamp) => {
        const event = { name: 'job.created', accountId: 'acc', payload: { job: { v: value } }, ...(timestamp === undefined ? {} : { timestamp }) };
        const attempts: Array<() => Promise<unknown>> = [() => engine.ingest(event as never), () => engine.publish(event as never), () => engine.rules.dryRun('acc', good, { payload: { job: { v: value } }, current: { job: value } } as never)];
        for (const attempt of attempts) {
          const outcome = await settle(attempt);
          if (!outcome.ok) expectTyped(outcome.error);
        }
        const many = await engine.ingestMany([event as never]);
        if (many[0]?.ok === false) expectTyped(many[0].error);
        await clock.advance(1_000);
        await engine.runDue();
      }),
      { numRuns: 300 },
    );
    const before = sms.sent.filter((s) => JSON.stringify(s).includes('hi 7')).length;
    await engine.ingest({ name: 'job.created', accountId: 'other', payload: { job: { id: 7 } } });
    await engine.runDue();
    expect(sms.sent.filter((s) => JSON.stringify(s).includes('hi 7')).length).toBe(before + 1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses a batch element whose getter throws as that event only, typed', async () => {
    const { engine } = setup();
    await engine.rules.create('acc', good);
    const batch: unknown[] = [{ name: 'job.created', accountId: 'acc', payload: { job: { id: 1 } } }];
    Object.defineProperty(batch, 1, { enumerable: true, get: () => { throw new Error('boom'); } });
    batch.push({ name: 'job.created', accountId: 'acc', payload: { job: { id: 2 } } });
    const results = await engine.ingestMany(batch as never[]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]?.ok === false && results[1].error).toMatchObject({ code: 'CRM_ERR_EVENT_INVALID', issues: [expect.objectContaining({ code: 'not_json' })] });
  });

  it('is accepted, or refused with a typed issue and path, in rule values; validate and create agree', async () => {
    const { engine } = setup();
    await fc.assert(
      fc.asyncProperty(hostile, fc.constantFrom('condition', 'in', 'webhook', 'custom', 'template'), async (value, where) => {
        const rule =
          where === 'condition'
            ? { ...good, conditions: { all: [{ fact: 'job', operator: 'equal', value }] } }
            : where === 'in'
              ? { ...good, conditions: { all: [{ fact: 'job', operator: 'in', value: [value] }] } }
              : where === 'webhook'
                ? { ...good, actions: [{ type: 'webhook', params: { url: 'https://example.com/hook', payload: { v: value } } }] }
                : where === 'custom'
                  ? { ...good, actions: [{ type: 'push', params: { token: 't', data: { v: value } } }] }
                  : { ...good, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: value } }] };
        const validated = await settle(() => engine.rules.validate(rule));
        expect(validated.ok, String(!validated.ok && validated.error)).toBe(true);
        const created = await settle(() => engine.rules.create('acc', rule as never));
        if (validated.ok && validated.value.ok) {
          expect(created.ok, String(!created.ok && created.error)).toBe(true);
        } else {
          expect(created.ok).toBe(false);
          if (!created.ok) expectTyped(created.error);
        }
        if (created.ok) await engine.rules.delete('acc', (created.value as { id: string }).id);
      }),
      { numRuns: 400 },
    );
  });
});
