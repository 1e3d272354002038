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

  it('accepts an event holding as many values as its byte limit allows, and refuses a DAG past it', async () => {
    const e = engine();
    await e.rules.create('acc', { name: 'r', trigger: { eventName: 'job.created' }, conditions: { all: [{ fact: 'job', operator: 'notEqual', value: null }] }, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }] });
    // `0,` per value: the most values a payload within MAX_EVENT_BYTES can hold.
    const zeros = new Array<number>(131_000).fill(0);
    expect(await e.ingest({ name: 'job.created', accountId: 'acc', payload: { job: zeros } })).toHaveLength(1);
    let node: unknown = 0;
    for (let i = 0; i < 40; i++) node = [node, node];
    const error = await e.ingest({ name: 'job.created', accountId: 'acc', payload: { job: node } }).catch((x: unknown) => x);
    expect(error).toBeInstanceOf(EventValidationError);
    expect((error as EventValidationError).issues[0]?.code).toBe('too_large');
  });

  it.each([5e7, 1e9, 2 ** 32 - 1])('refuses a sparse array of %d slots as too_large before visiting them (events, rules, dry runs)', async (length) => {
    expect(checkJsonShape({ a: new Array(length) })).toMatchObject({ code: 'too_large', path: ['a'] });
    const engine = createAutomationEngine({ store: createMemoryStore() });
    await expect(engine.ingest({ name: 'e', accountId: 'acc', payload: { job: { list: new Array(length) } } })).rejects.toMatchObject({ code: 'CRM_ERR_EVENT_INVALID' });
    const result = engine.rules.validate({ name: 'r', trigger: { eventName: 'e' }, conditions: { all: [{ fact: 'job', operator: 'in', value: new Array(length) }] }, actions: [] });
    expect(result.ok ? [] : result.issues.map((i) => i.code)).toContain('too_large');
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

class Appointment {
  at = '2026-01-02';
}
/** What an in-process caller can pass that JSON cannot hold, each refused as `not_json` at its key. */
const nonJson: Array<[string, () => unknown]> = [
  ['a function', () => () => 1],
  ['a symbol', () => Symbol('s')],
  ['a bigint', () => 10n],
  ['a Map', () => new Map([[1, 2]])],
  ['a Set', () => new Set([1])],
  ['a class instance', () => new Appointment()],
  ['a RegExp', () => /x/],
  ['an Error', () => new Error('x')],
  ['a typed array', () => new Uint8Array(3)],
  ['a Promise', () => Promise.resolve(1)],
  ['a WeakMap', () => new WeakMap()],
  ['a boxed number', () => new Number(1)],
  ['an object with a toJSON hook', () => ({ toJSON: () => ({}) })],
  ['a getter that throws', () => Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('boom'); } })],
  ['a Proxy that throws', () => new Proxy({}, { ownKeys: () => { throw new Error('boom'); } })],
  ['a cycle', () => { const o: Record<string, unknown> = {}; o.self = o; return o; }],
  ['a cycle through an array', () => { const a: unknown[] = []; a.push({ back: a }); return a; }],
  ['an array with a named property', () => Object.assign([1, 2], { note: 'x' })],
  ['an array with a function property', () => Object.assign([1], { f: () => 1 })],
  ['an array with a throwing getter property', () => Object.defineProperty([1], 'g', { enumerable: true, get: () => { throw new Error('g'); } })],
];

describe('in-process values JSON cannot hold', () => {
  const sms = { recipient: '+15557654321', message: 'hi {{job.id}}' };
  const good = { name: 'good', trigger: { eventName: 'job.created' }, conditions: { all: [{ fact: 'job', operator: 'notEqual' as const, value: null }] }, actions: [{ type: 'sms' as const, params: sms }] };

  it('checkJsonShape reports each with not_json and the path to it, and accepts JSON, undefined and Dates', () => {
    for (const [label, make] of nonJson) {
      const problem = checkJsonShape({ payload: { list: [0, { v: make() }] } });
      expect(problem, label).toMatchObject({ code: 'not_json' });
      expect(problem?.path.slice(0, 4), label).toEqual(['payload', 'list', 1, 'v']);
    }
    expect(checkJsonShape({ a: [1, 'x', null, true, { b: undefined }], d: new Date(0), n: Number.NaN, o: Object.assign(Object.create(null) as object, { k: 1 }), shared: [[1], [1]] })).toBeNull();
    const shared = { x: 1 };
    expect(checkJsonShape({ a: shared, b: [shared, shared] })).toBeNull();
    // Holes and non-enumerable extras are not data JSON or a structured clone would carry.
    expect(checkJsonShape({ sparse: [1, , 3], long: new Array(5), hidden: Object.defineProperty([1], 'x', { value: 1, enumerable: false }) })).toBeNull();
  });

  it.each(nonJson)('refuses %s in events, rules and dry runs with a typed error and path; other accounts still fire', async (_label, make) => {
    const e = engine();
    await e.rules.create('acc', good);
    await e.rules.create('other', good);
    const eventError = await e.ingest({ name: 'job.created', accountId: 'acc', payload: { job: { id: 1, v: make() } } }).catch((x: unknown) => x);
    expect(eventError).toBeInstanceOf(EventValidationError);
    expect((eventError as EventValidationError).issues[0]).toMatchObject({ code: 'not_json', path: expect.stringMatching(/^payload\.job\.v/) });
    const many = await e.ingestMany([{ name: 'job.created', accountId: 'acc', payload: { job: { v: make() } } }]);
    expect(many[0]?.ok === false && many[0].error).toBeInstanceOf(EventValidationError);
    await expect(e.publish({ name: 'job.created', accountId: 'acc', payload: { job: { v: make() } } })).rejects.toBeInstanceOf(EventValidationError);
    const places = [
      { ...good, conditions: { all: [{ fact: 'job', operator: 'equal', value: { v: make() } }] } },
      { ...good, actions: [{ type: 'webhook', params: { url: 'https://example.com/x', payload: { v: make() } } }] },
      { ...good, actions: [{ type: 'push', params: { token: 't', data: { v: make() } } }] },
    ];
    for (const rule of places) {
      const result = e.rules.validate(rule);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues[0]).toMatchObject({ code: 'not_json', path: expect.stringMatching(/\.v/) });
      await expect(e.rules.create('acc', rule as never)).rejects.toMatchObject({ code: 'CRM_ERR_RULE_INVALID' });
    }
    await expect(e.rules.dryRun('acc', good, { payload: { job: { v: make() } } })).rejects.toMatchObject({ code: 'CRM_ERR_EVENT_INVALID' });
    await expect(e.rules.dryRun('acc', good, { payload: { job: {} }, current: { job: { v: make() } } })).rejects.toMatchObject({ code: 'CRM_ERR_EVENT_INVALID' });
    expect(await e.ingest({ name: 'job.created', accountId: 'other', payload: { job: { id: 2 } } })).toHaveLength(1);
    expect(await e.runDue()).toMatchObject({ claimed: 1, completed: 1 });
  });

  it('never lets __proto__, constructor or prototype keys pollute, and stores them as data', async () => {
    const e = engine();
    await e.rules.create('acc', good);
    const payload = JSON.parse('{"job":{"id":1,"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}}') as Record<string, unknown>;
    const [trigger] = await e.ingest({ name: 'job.created', accountId: 'acc', payload });
    expect(Object.keys(trigger?.triggeringEvent.payload.job as object)).toEqual(['id', '__proto__', 'constructor']);
    expect(await e.runDue()).toMatchObject({ completed: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
