import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkJsonShape,
  createAutomationEngine,
  createManualClock,
  createMemoryStore,
  createRecordingChannel,
  EventValidationError,
  MAX_JSON_DEPTH,
} from '@crm-automation/core';

type Wrap = 'object' | 'array';

/** A value nested `depth` levels, alternating or fixed wrappers, with the deep end under `leafKey`. */
function nest(depth: number, wraps: readonly Wrap[], leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = depth - 1; i >= 0; i--) value = wraps[i % wraps.length] === 'array' ? [value] : { k: value };
  return value;
}

const wrapsArb = fc.array(fc.constantFrom<Wrap>('object', 'array'), { minLength: 1, maxLength: 4 });

function engine() {
  const sms = createRecordingChannel();
  const push = createRecordingChannel();
  return createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms, push } });
}

describe('tenant JSON depth', () => {
  it('measures depth exactly, without recursion, at any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_000 }), wrapsArb, (depth, wraps) => {
        const problem = checkJsonShape(nest(depth, wraps));
        if (depth <= MAX_JSON_DEPTH) expect(problem).toBeNull();
        else expect(problem).toMatchObject({ code: 'too_deep' });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a DAG that would expand without end, in bounded time', () => {
    let node: unknown = 1;
    for (let i = 0; i < 60; i++) node = [node, node];
    expect(checkJsonShape(node)).toMatchObject({ code: 'too_large' });
  });

  it('refuses deep events with EventValidationError and the path of the deep branch, not a RangeError', async () => {
    const e = engine();
    await e.rules.create('acc', { name: 'r', trigger: { eventName: 'job.created' }, conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] }, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }] });
    for (const depth of [MAX_JSON_DEPTH + 1, 200, 2_500, 20_000]) {
      for (const wraps of [['object'], ['array'], ['object', 'array']] as Wrap[][]) {
        const payload = { ok: true, job: nest(depth, wraps) };
        const error = await e.ingest({ name: 'job.created', accountId: 'acc', payload }).catch((x: unknown) => x);
        expect(error).toBeInstanceOf(EventValidationError);
        const issue = (error as EventValidationError).issues[0];
        expect(issue?.code).toBe('too_deep');
        expect(issue?.path.startsWith('payload.job')).toBe(true);
        const published = await e.publish({ name: 'job.created', accountId: 'acc', payload }).catch((x: unknown) => x);
        expect(published).toBeInstanceOf(EventValidationError);
      }
    }
    // A payload within the limit is accepted.
    expect(await e.ingest({ name: 'job.created', accountId: 'acc', payload: { job: nest(MAX_JSON_DEPTH - 2, ['object']) } })).toHaveLength(1);
  });

  it('refuses deep rule values (condition values, webhook payloads, custom params) with a path, never a RangeError', () => {
    const e = engine();
    const base = { name: 'r', trigger: { eventName: 'job.created' }, conditions: { all: [{ fact: 'job', operator: 'equal', value: 1 }] } };
    fc.assert(
      fc.property(fc.integer({ min: MAX_JSON_DEPTH + 1, max: 5_000 }), wrapsArb, fc.constantFrom('condition', 'webhook', 'custom'), (depth, wraps, where) => {
        const deep = nest(depth, wraps);
        const rule =
          where === 'condition'
            ? { ...base, conditions: { all: [{ fact: 'job', operator: 'equal', value: deep }] }, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'x' } }] }
            : where === 'webhook'
              ? { ...base, actions: [{ type: 'webhook', params: { url: 'https://example.com/x', payload: deep } }] }
              : { ...base, actions: [{ type: 'push', params: { token: 't', data: deep } }] };
        const result = e.rules.validate(rule);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.issues[0]?.code).toBe('too_deep');
          expect(result.issues[0]?.path).toMatch(where === 'condition' ? /^conditions\.all\[0\]\.value/ : /^actions\[0\]\.params/);
        }
      }),
      { numRuns: 60 },
    );
  });
});
