import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJsonPath, createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, isAutomationError, MAX_PATH_VISITS, resolvePath, type RuleInput } from '@crm-automation/core';

/** A reference reading of the single-value subset: plain own-property steps. */
function reference(value: unknown, steps: Array<string | number>): unknown {
  let current = value;
  for (const step of steps) {
    if (typeof current !== 'object' || current === null || !Object.prototype.hasOwnProperty.call(current, step)) return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

const key = fc.oneof(fc.constantFrom('a', 'b', 'job', 'status', '__proto__', 'constructor', 'length', 'x-y', 'név'), fc.string({ minLength: 1, maxLength: 6 }));

function spell(steps: Array<string | number>): string {
  return '$' + steps.map((s) => (typeof s === 'number' ? `[${s}]` : /^[\p{L}\p{N}_$-]+$/u.test(s) ? `.${s}` : `['${s}']`)).join('');
}

function deepEvent(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 0; i < levels; i++) {
    const next: Record<string, unknown> = { v: i, w: [i, i + 1] };
    node['n'] = next;
    node = next;
  }
  return root;
}

describe('JSONPath dialect', () => {
  it('reads single-value paths exactly like own-property steps, never reaching a prototype', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.array(fc.oneof(key, fc.nat({ max: 4 })), { maxLength: 5 }), (json, steps) => {
        const path = spell(steps.filter((s) => typeof s === 'number' || !s.includes("'")));
        const filtered = steps.filter((s) => typeof s === 'number' || !s.includes("'"));
        if (checkJsonPath(path) !== null) return; // a spelling outside the dialect (e.g. a bracket in a name)
        expect(resolvePath(json, path)).toEqual(reference(json, filtered));
      }),
      { numRuns: 2_000 },
    );
    expect(resolvePath({}, '$.__proto__')).toBeUndefined();
    expect(resolvePath({}, '$.constructor.name')).toBeUndefined();
  });

  it('returns every match of a wildcard, union or slice as an array, in document order', () => {
    const json = { items: [{ p: 1 }, { p: 2 }, { q: 3 }], o: { a: 1, b: 2 } };
    expect(resolvePath(json, '$.items[*].p')).toEqual([1, 2]);
    expect(resolvePath(json, '$.items.*.p')).toEqual([1, 2]);
    expect(resolvePath(json, '$..p')).toEqual([1, 2]);
    expect(resolvePath(json, '$.items[0,2]')).toEqual([{ p: 1 }, { q: 3 }]);
    expect(resolvePath(json, "$.o['a','b']")).toEqual([1, 2]);
    expect(resolvePath(json, '$.items[-1:]')).toEqual([{ q: 3 }]);
    expect(resolvePath(json, '$.items[::2]')).toEqual([{ p: 1 }, { q: 3 }]);
    expect(resolvePath(json, '$.items[*].zz')).toBeUndefined();
    expect(resolvePath(json, '$.items[0].p')).toBe(1);
  });

  const refused: Array<[string, string]> = [
    ['$..*..*', 'path_too_costly'],
    ['$..*..*..*', 'path_too_costly'],
    ['$..a..b', 'path_too_costly'],
    ['$..[0]..[1]', 'path_too_costly'],
    ['$[0,0,0]', 'path_too_costly'],
    ["$['a','a']", 'path_too_costly'],
    ['$.items[?(@.price > 10)]', 'invalid_path'],
    ['$.items[(@.length-1)]', 'invalid_path'],
    ['$.a^', 'invalid_path'],
    ['$.a~', 'invalid_path'],
    ['$.a[-1]', 'invalid_path'],
    ['$.a[', 'invalid_path'],
    ['$.', 'invalid_path'],
    ['a.b', 'invalid_path'],
    ['$.a[0:2:0]', 'invalid_path'],
    ["$['a\\'b']", 'invalid_path'],
    ['$.@', 'invalid_path'],
  ];
  it.each(refused)('refuses %s at save time (%s)', (path, code) => {
    expect(checkJsonPath(path)).toMatchObject({ code });
  });

  it('refuses any path with two recursive descents, wherever they are', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('.a', '[0]', '.*', '[*]', "['b']"), { maxLength: 3 }), fc.array(fc.constantFrom('.a', '[0]', '.*', '[*]'), { maxLength: 3 }), fc.constantFrom('..a', '..*', '..[0]'), fc.constantFrom('..b', '..*', '..[1]'), (pre, mid, d1, d2) => {
        expect(checkJsonPath('$' + pre.join('') + d1 + mid.join('') + d2)).toMatchObject({ code: 'path_too_costly' });
        expect(checkJsonPath('$' + pre.join('') + d1 + mid.join(''))).toBeNull();
      }),
    );
  });

  describe('every place a rule takes a path applies the same dialect', () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), actionTypes: ['sms', 'email', 'webhook'] });
    const sms = { type: 'sms', params: { recipient: '+15557654321', message: 'x' } };
    const base = { name: 'r', trigger: { eventName: 'e' }, conditions: { all: [{ fact: 'a', operator: 'equal', value: 1 }] }, actions: [sms] };
    const keyed = { ...base, trigger: { eventName: 'e', key: '$.id' } };
    // Where the path goes, the issue path it is reported at, and whether it must name one value
    // (`'or-root'`: one value, or the whole fact: a recipient fact may be the address itself).
    const places: Array<[string, (path: string) => unknown, string, boolean | 'or-root']> = [
      ['a condition', (path) => ({ ...base, conditions: { all: [{ fact: 'a', path, operator: 'equal', value: 1 }] } }), 'conditions.all[0].path', false],
      ['a cancelOn condition', (path) => ({ ...keyed, cancelOn: [{ eventName: 'c', conditions: { any: [{ fact: 'a', path, operator: 'equal', value: 1 }] } }] }), 'cancelOn[0].conditions.any[0].path', false],
      ['a recipient fact reference', (path) => ({ ...base, actions: [{ type: 'sms', params: { recipient: { source: 'fact', fact: 'job', path }, message: 'x' } }] }), 'actions[0].params.recipient.path', 'or-root'],
      ['the entity key', (path) => ({ ...base, trigger: { eventName: 'e', key: path } }), 'trigger.key', true],
      ['a cancelOn key', (path) => ({ ...keyed, cancelOn: [{ eventName: 'c', key: path }] }), 'cancelOn[0].key', true],
      ['a schedule anchor', (path) => ({ ...base, schedule: { anchor: path } }), 'schedule.anchor', true],
      ['a schedule time zone path', (path) => ({ ...base, schedule: { anchor: '$.at', timeZone: path, fallbackTimeZone: 'UTC' } }), 'schedule.timeZone', true],
    ];
    const segment = fc.oneof(
      fc.constantFrom('.a', '.job', '.é', '.x-y', '.*', '[*]', '[ * ]', '[0]', '[ 2 ]', "['a']", "[ 'a b' ]", '["c"]', "['a','b']", '[0,1]', '[1:3]', '[-1:]', '[::2]'),
      fc.constantFrom('..a', '..*', '..[0]', "..['a']", '..[*]'),
      fc.constantFrom('[-1]', '[?(@.x)]', '[(@.length)]', '.@', '^', '~', "['\\u0061']", '[0,0]', "['a','a']", '.', '[', '[0:1:0]', '. a', ' '),
    );
    const path = fc.array(segment, { maxLength: 5 }).map((parts) => '$' + parts.join(''));

    it('refuses a path with the same code at every place, at that place\'s issue path', () => {
      fc.assert(
        fc.property(path, fc.constantFrom(...places), (candidate, [, build, issuePath, single]) => {
          const dialect = checkJsonPath(candidate);
          const result = engine.rules.validate(build(candidate));
          const issues = result.ok ? [] : result.issues.filter((i) => i.path === issuePath);
          if (dialect) {
            expect(issues).toEqual([expect.objectContaining({ code: dialect.code })]);
          } else if (single) {
            const multi = /\*|\.\.|,|:/.test(candidate.replace(/'[^']*'|"[^"]*"/g, '')) || (candidate === '$' && single !== 'or-root');
            if (multi) expect(issues).toEqual([expect.objectContaining({ code: 'invalid_path' })]);
            else expect(issues).toEqual([]);
          } else {
            expect(issues).toEqual([]);
          }
        }),
        { numRuns: 1_500 },
      );
    });
  });

  it('evaluates a recursive descent over a 120-level event quickly, and stops a path past the visit budget', () => {
    const event = deepEvent(120);
    const all = resolvePath(event, '$..*') as unknown[];
    expect(all.length).toBeGreaterThan(120 * 3);
    // Each wildcard after the descent revisits nearly every node: the budget stops it.
    let error: unknown;
    try {
      resolvePath({ list: Array.from({ length: 3_000 }, (_, i) => [i, [i]]) }, '$..*[*][*][*][*]');
    } catch (e) {
      error = e;
    }
    expect(isAutomationError(error) && error.code).toBe('CRM_ERR_EVALUATION');
    expect((error as Error).message).toContain(String(MAX_PATH_VISITS));
  });

  it('fails only the trigger whose condition path exceeds the budget', async () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels: { sms: createRecordingChannel() } });
    const rule = (path: string): RuleInput => ({
      name: 'r',
      trigger: { eventName: 'e' },
      conditions: { all: [{ fact: 'doc', path, operator: 'notEqual', value: null }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } }],
    });
    await engine.rules.create('hostile', rule('$..*[*][*][*][*][*]'));
    await engine.rules.create('victim', rule('$.id'));
    const list = Array.from({ length: 5_000 }, (_, i) => [[i], [i]]);
    await engine.ingest({ name: 'e', accountId: 'hostile', payload: { doc: { list } } });
    await engine.ingest({ name: 'e', accountId: 'victim', payload: { doc: { id: 1 } } });
    expect(await engine.runDue()).toMatchObject({ completed: 1, failed: 1 });
    const [failed] = (await engine.triggers.list('hostile')).items;
    expect(failed?.executionHistory.at(-1)).toMatchObject({ reason: 'evaluation-error', error: { code: 'CRM_ERR_EVALUATION' } });
  });
});
