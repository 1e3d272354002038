import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAutomationEngine, createManualClock, createMemoryStore, createRecordingChannel, MAX_PATH_VISITS, MAX_TRIGGER_PATH_VISITS, TEMPLATE_LIMITS, type RuleInput } from '@crm-automation/core';
import { dryRunRule, gatewayCommandSchemas } from '../../src/rules/dry-run.js';
import { compileRule } from '../../src/rules/compiled-rule.js';
import type { Rule } from '../../src/rules/rule.js';

/*
 * Issue 12, cost of tenant input, per trigger: the render budget and the JSONPath visit budget belong
 * to a trigger attempt, shared by all its actions and all its paths, and every action that places
 * event data in its command (plain templates and fact references included) draws on it. A rule of
 * many actions, many conditions or many references cannot multiply a budget.
 */

type Action = RuleInput['actions'][number];
const always = { all: [{ fact: 'job', operator: 'notEqual', value: null }] };
const ruleOf = (actions: Action[], conditions: unknown = always): RuleInput => ({ name: 'r', trigger: { eventName: 'e' }, conditions, actions }) as RuleInput;
const fact = (path?: string) => ({ source: 'fact', fact: 'job', ...(path === undefined ? {} : { path }) });

function engineWith(types: string[] = []) {
  const channels = { sms: createRecordingChannel(), email: createRecordingChannel(), webhook: createRecordingChannel(), custom: createRecordingChannel() };
  const engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels, actionTypes: types });
  return { engine, channels };
}

async function dryRunCodes(actions: Action[], payload: Record<string, unknown>, conditions?: unknown) {
  const { engine } = engineWith();
  const result = await engine.rules.dryRun('acc', ruleOf(actions, conditions), { payload });
  if (!result || !result.valid) throw new Error(`rule refused: ${JSON.stringify(result)}`);
  return { result, codes: result.commands.map((c) => c.error?.code ?? 'ok') };
}

describe('every action that places event data is charged, plain templates and fact references included', () => {
  // Each shape repeats one large value `count` times in one action's command.
  const shapes: Array<[string, (count: number) => Action]> = [
    ['custom type, plain {{job.big}} params', (n) => ({ type: 'custom', params: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, '{{job.big}}'])) }) as unknown as Action],
    ['custom type, fact references in an array', (n) => ({ type: 'custom', params: { list: Array.from({ length: n }, () => fact('$.big')) } }) as unknown as Action],
    ['custom type, fact references in nested objects', (n) => ({ type: 'custom', params: { a: { b: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, fact('$.big')])) } } }) as unknown as Action],
    ['webhook payload, fact references', (n) => ({ type: 'webhook', params: { url: 'https://example.com/x', payload: Array.from({ length: n }, () => fact('$.big')) } }) as Action],
    ['webhook payload, whole-fact references', (n) => ({ type: 'webhook', params: { url: 'https://example.com/x', payload: { list: Array.from({ length: n }, () => fact()) } } }) as Action],
    ['webhook payload, plain templates', (n) => ({ type: 'webhook', params: { url: 'https://example.com/x', payload: Array.from({ length: n }, () => '{{job.big}}') } }) as Action],
    ['custom type, one plain template repeating a reference', (n) => ({ type: 'custom', params: { text: '{{job.big}}'.repeat(n) } }) as unknown as Action],
  ];

  it.each(shapes)('%s: sendable while the copies fit the action budget, CRM_ERR_RENDER past it', async (_label, shape) => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 100, max: 20_000 }), async (count, size) => {
        const { codes } = await dryRunCodes([shape(count)], { job: { big: 'y'.repeat(size) } });
        // A whole-fact reference carries the object around the string: a few characters more per copy.
        if (count * (size + 32) <= TEMPLATE_LIMITS.maxOutputChars) expect(codes).toEqual(['ok']);
        if (count * (size - 32) > TEMPLATE_LIMITS.maxOutputChars) expect(codes).toEqual(['CRM_ERR_RENDER']);
      }),
      { numRuns: 15 },
    );
  });

  it('a run of a 900-copy custom action fails with CRM_ERR_RENDER and sends nothing (it sent 180M characters)', async () => {
    const { engine, channels } = engineWith(['custom']);
    await engine.rules.create('acc', ruleOf([shapes[0]?.[1](900) as Action]));
    await engine.ingest({ name: 'e', accountId: 'acc', payload: { job: { big: 'y'.repeat(200_000) } } });
    await engine.runDue();
    const [trigger] = (await engine.triggers.list('acc')).items;
    expect(trigger?.status).toBe('failed');
    expect(trigger?.executionHistory.at(-1)?.actions?.[0]?.error?.code).toBe('CRM_ERR_RENDER');
    expect(channels.custom.sent).toHaveLength(0);
  });
});

describe('the render budget is the trigger attempt\'s, shared by all its actions', () => {
  // `{{#each}}` over n items with one expression in its body: n iterations, 2n steps, a few characters each.
  const loop = '{{#each job.items}}{{this}}{{/each}}';
  const items = (n: number) => Array.from({ length: n }, (_, i) => i % 10);
  const sendable = (actions: number, n: number) => Math.min(actions, Math.floor(TEMPLATE_LIMITS.maxIterations / n), Math.floor(TEMPLATE_LIMITS.maxLoopSteps / (2 * n)));

  it('renders actions while the loops of all of them together fit, and fails the rest (dry run)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 200, max: 9_000 }), async (actions, n) => {
        const rule = Array.from({ length: actions }, () => ({ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: loop } }) as Action);
        const { codes } = await dryRunCodes(rule, { job: { items: items(n) } });
        const fits = sendable(actions, n);
        expect(codes).toEqual([...Array<string>(fits).fill('ok'), ...Array<string>(actions - fits).fill('CRM_ERR_RENDER')]);
      }),
      { numRuns: 25 },
    );
  });

  it('a run sends the actions that fit, fails the trigger at the first that does not, and a new trigger has a fresh budget', async () => {
    const n = 3_000;
    const actions = 5;
    const { engine, channels } = engineWith();
    await engine.rules.create('acc', ruleOf(Array.from({ length: actions }, () => ({ type: 'email', params: { recipient: 'a@example.com', subject: 's', body: loop } }) as Action)));
    for (let round = 1; round <= 2; round++) {
      await engine.ingest({ name: 'e', accountId: 'acc', payload: { job: { items: items(n) } } });
      await engine.runDue();
      expect(channels.email.sent).toHaveLength(sendable(actions, n) * round);
    }
    const triggers = (await engine.triggers.list('acc')).items;
    expect(triggers.map((t) => t.status)).toEqual(['failed', 'failed']);
    for (const trigger of triggers) expect(trigger.executionHistory.at(-1)?.actions?.[sendable(actions, n)]?.error?.code).toBe('CRM_ERR_RENDER');
  });

  it('bounds the output of all actions together', async () => {
    const size = Math.floor(TEMPLATE_LIMITS.maxOutputChars / 2);
    const count = 12;
    // A custom type: no command schema of its own limits a field's length.
    const { codes } = await dryRunCodes(Array.from({ length: count }, () => ({ type: 'custom', params: { text: '{{job.big}}' } }) as unknown as Action), { job: { big: 'y'.repeat(size) } });
    const fits = Math.floor(TEMPLATE_LIMITS.maxTriggerOutputChars / size);
    expect(codes).toEqual([...Array<string>(fits).fill('ok'), ...Array<string>(count - fits).fill('CRM_ERR_RENDER')]);
  });
});

describe('the JSONPath visit budget is the trigger attempt\'s, shared by all its condition paths', () => {
  // `$..*` over a flat object of m keys visits 2m values (the node's children as matches, then as descendants).
  const flat = (m: number) => Object.fromEntries(Array.from({ length: m }, (_, i) => [`k${i}`, i]));
  const conditionsOf = (k: number) => ({ all: Array.from({ length: k }, (_, i) => ({ fact: 'job', path: '$..*', operator: 'notEqual', value: `never-${i}` })) });

  it('matches while all paths together stay within the budget; past it the evaluation fails at once (no second evaluation)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 10, max: MAX_PATH_VISITS / 2 }), async (k, m) => {
        const { result } = await dryRunCodes([{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } } as Action], { job: flat(m) }, conditionsOf(k));
        if (k * 2 * m <= MAX_TRIGGER_PATH_VISITS) {
          expect(result.matched).toBe(true);
        } else {
          // Each path alone is within MAX_PATH_VISITS: an evaluator that retried them one by one would match.
          expect(result.matched).toBe(false);
          expect(result.error?.code).toBe('CRM_ERR_EVALUATION');
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a rule json-rules-engine evaluates (one the compiler does not support) has the same trigger budget', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 10, max: MAX_PATH_VISITS / 2 }), async (k, m) => {
        // A priority that is not a positive integer: json-rules-engine decides (a rule stored without the check).
        const conditions = { all: conditionsOf(k).all.map((c) => ({ ...c, priority: 0.5 })) };
        const compiled = compileRule({ id: 'r', accountId: 'acc', version: 1, name: 'r', enabled: true, trigger: { eventName: 'e' }, conditions, actions: [] } as unknown as Rule, new Map());
        expect(compiled.evaluator).toBe('json-rules-engine');
        const outcome = await compiled.evaluate({ job: flat(m) }).then(
          (e) => e.matched,
          (error: { code?: string }) => error.code,
        );
        expect(outcome).toBe(k * 2 * m <= MAX_TRIGGER_PATH_VISITS ? true : 'CRM_ERR_EVALUATION');
      }),
      { numRuns: 30 },
    );
  });

  it('fact references of the actions draw on what the conditions left', async () => {
    const m = 4_000;
    const k = Math.floor(MAX_TRIGGER_PATH_VISITS / (2 * m));
    const action = { type: 'webhook', params: { url: 'https://example.com/x', payload: { all: fact('$..*') } } } as Action;
    const within = await dryRunCodes([action], { job: flat(m) }, conditionsOf(k - 1));
    expect(within.codes).toEqual(['ok']);
    const past = await dryRunCodes([action], { job: flat(m) }, conditionsOf(k));
    expect(past.result.matched).toBe(true);
    expect(past.codes).toEqual(['CRM_ERR_RENDER']);
  });

  it('a run fails that trigger only (evaluation-error); a good trigger of another account still sends', async () => {
    const { engine, channels } = engineWith();
    await engine.rules.create('bad', ruleOf([{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } } as Action], conditionsOf(100)));
    await engine.rules.create('good', ruleOf([{ type: 'sms', params: { recipient: '+15557654321', message: 'hi' } } as Action]));
    await engine.ingest({ name: 'e', accountId: 'bad', payload: { job: flat(4_000) } });
    await engine.ingest({ name: 'e', accountId: 'good', payload: { job: { id: 1 } } });
    await engine.runDue();
    const [bad] = (await engine.triggers.list('bad')).items;
    expect(bad?.status).toBe('failed');
    expect(bad?.executionHistory.at(-1)?.reason).toBe('evaluation-error');
    expect(channels.sms.sent.map((c) => c.metadata.accountId)).toEqual(['good']);
  });
});

describe('recipient fact references name one value', () => {
  const multi = ['$..phone', '$.a[*]', '$.*', '$[*]', '$.a[0,1]', "$['a','b']", '$.a[0:1]', '$.a[:]', '$..[0]', '$..*', '$.a.*.b', "$['a'][*]"];
  const single = ['$', '$.phone', "$['phone']", '$["phone"]', '$.a[0]', '$.a.b.c', "$['a']['b']", '$.a[10].b'];
  const recipientOf = (type: 'sms' | 'email', path: string) =>
    ({ type, params: type === 'sms' ? { recipient: fact(path), message: 'hi' } : { recipient: fact(path), subject: 's', body: 'b' } }) as Action;

  it.each(multi.flatMap((p) => [['sms', p] as const, ['email', p] as const]))('%s recipient at %s is refused with invalid_path on the path', (type, path) => {
    const { engine } = engineWith();
    const result = engine.rules.validate(ruleOf([recipientOf(type, path)]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues).toContainEqual(expect.objectContaining({ path: 'actions[0].params.recipient.path', code: 'invalid_path' }));
  });

  it.each(single.flatMap((p) => [['sms', p] as const, ['email', p] as const]))('%s recipient at %s is accepted', (type, path) => {
    const { engine } = engineWith();
    expect(engine.rules.validate(ruleOf([recipientOf(type, path)])).ok).toBe(true);
  });
});

describe('webhook payload arrays and values get their own code on their own path', () => {
  const at = (depth: number, value: unknown): { payload: unknown; path: string } => {
    let payload: unknown = value;
    let path = '';
    for (let i = depth - 1; i >= 0; i--) {
      payload = i % 2 === 0 ? { [`k${i}`]: payload } : ['x', payload];
      path = (i % 2 === 0 ? `.k${i}` : '[1]') + path;
    }
    return { payload, path: `actions[0].params.payload${path}` };
  };
  const validate = (payload: unknown) => engineWith().engine.rules.validate(ruleOf([{ type: 'webhook', params: { url: 'https://example.com/x', payload } } as Action]));

  it('an array past the item limit is too_big with the limit, at any depth; at the limit it is accepted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1_001, max: 3_000 }), fc.constantFrom<unknown>(1, 'x', null, {}, []), (depth, length, item) => {
        const over = at(depth, Array<unknown>(length).fill(item));
        const result = validate(over.payload);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.issues).toEqual([expect.objectContaining({ path: over.path, code: 'too_big' })]);
          expect(result.issues[0]?.message).toContain('1000');
        }
        expect(validate(at(depth, Array<unknown>(1_000).fill(item)).payload).ok).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('a value JSON cannot hold (in process) is invalid_type at its own path, not invalid_union at the payload', () => {
    fc.assert(
      // At depth 0, `undefined` is a payload left out: the payload is optional.
      fc.property(fc.integer({ min: 1, max: 6 }), fc.constantFrom<unknown>(undefined, Number.NaN, Number.POSITIVE_INFINITY, new Date(0), new Map()), (depth, value) => {
        const bad = at(depth, value);
        const result = validate(bad.payload);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.issues.map((i) => i.code)).not.toContain('invalid_union');
          expect(result.issues.some((i) => i.path.startsWith(bad.path.replace(/\[1\]$|\.k\d+$/, '')))).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('a dry run checks commands against the gateway\'s own command schema', () => {
  it('what the gateway refuses at every send is an error of the dry run, and what it takes is a command', async () => {
    const gateway = { commandSchema: z.object({ code: z.string().max(3) }) };
    const now = new Date('2026-01-01T00:00:00Z');
    const validated = engineWith(['custom']).engine.rules.validate(ruleOf([{ type: 'custom', params: { code: '{{job.code}}' } } as unknown as Action]));
    if (!validated.ok) throw new Error(JSON.stringify(validated.issues));
    const rule: Rule = { ...validated.rule, id: 'r1', accountId: 'acc', version: 1, createdAt: now, updatedAt: now };
    for (const [code, expected] of [['abcd', 'CRM_ERR_RENDER'], ['abc', 'ok'], ['', 'ok']] as const) {
      const result = await dryRunRule(rule, { payload: { job: { code } } }, now, new Map(), gatewayCommandSchemas({ custom: gateway }));
      expect(result.valid && result.commands.map((c) => c.error?.code ?? 'ok')).toEqual([expected]);
    }
  });
});

describe('engine.rules.dryRun uses the command schema of the gateway the engine was given', () => {
  it('refuses in the dry run what that gateway refuses at every send, for a saved rule and a draft', async () => {
    const custom = { ...createRecordingChannel(), commandSchema: z.object({ code: z.string().max(3) }) };
    const engine = createAutomationEngine({ store: createMemoryStore(), clock: createManualClock('2026-01-01T00:00:00Z'), channels: { custom }, actionTypes: ['custom'] });
    const draft = ruleOf([{ type: 'custom', params: { code: '{{job.code}}' } } as unknown as Action]);
    const saved = await engine.rules.create('acc', draft);
    for (const rule of [draft, saved.id]) {
      for (const [code, expected] of [['abcd', 'CRM_ERR_RENDER'], ['abc', 'ok']] as const) {
        const result = await engine.rules.dryRun('acc', rule, { payload: { job: { code } } });
        expect(result?.valid && result.commands.map((c) => c.error?.code ?? 'ok'), `${String(rule === draft ? 'draft' : 'saved')} ${code}`).toEqual([expected]);
      }
    }
  });
});
