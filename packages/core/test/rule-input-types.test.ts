// What `rules.create` / `update` / `dryRun` accept at compile time, proved two ways at once: tsc (npm
// run lint) fails on an unused `@ts-expect-error`, so every marked line must be a type error, and the
// same documents run, so the run-time validator must agree with the types on each of them.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  asUntrustedRule,
  createAutomationEngine,
  RuleValidationError,
  type AutomationEngine,
  type ChannelMap,
  type ConditionOperator,
  type RuleInput,
  type UntrustedRuleInput,
} from '@crm-automation/core';
import { createMemoryStore } from '@crm-automation/core/memory';
import { createRecordingChannel } from '@crm-automation/testing/doubles';

const ACCOUNT = 'acc_types';
const sms = { type: 'sms', params: { recipient: '+15557654321', message: 'Job {{job.number}} done' } } as const;
const base = {
  name: 'typed rule',
  trigger: { eventName: 'job.status.changed' },
  conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Done' }] },
  actions: [sms],
} satisfies RuleInput;

/** An engine with a custom gateway (`slack`), a declared type sent elsewhere (`push`) and a custom operator. */
function customEngine() {
  return createAutomationEngine({
    store: createMemoryStore(),
    channels: { sms: createRecordingChannel(), slack: createRecordingChannel() },
    actionTypes: ['push'],
    operators: { startsWith: (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b) },
  });
}

const refusedWith = (code: string) => expect.objectContaining({ name: 'RuleValidationError', issues: [expect.objectContaining({ code })] }) as unknown;

describe('typed rule input', () => {
  it('accepts built-in, decorated and registered operators and every action type the engine knows', async () => {
    const engine = customEngine();
    const saved = await engine.rules.create(ACCOUNT, {
      ...base,
      conditions: {
        any: [
          { fact: 'job', path: '$.status', operator: 'notEqual', value: 'Open' },
          { fact: 'job', path: '$.tags', operator: 'someValue:equal', value: 'vip' },
          { fact: 'job', path: '$.tags', operator: 'not:someValue:equal', value: 'spam' },
          { fact: 'job', path: '$.number', operator: 'startsWith', value: 'J-' },
          { fact: 'job', path: '$.codes', operator: 'everyValue:startsWith', value: 'A' },
        ],
      },
      actions: [sms, { type: 'slack', params: { channel: '#ops' } }, { type: 'push', params: { token: 't' } }],
    });
    expect(saved.actions.map((a) => a.type)).toEqual(['sms', 'slack', 'push']);
    expect(saved.warnings).toBeUndefined();
  });

  it('refuses a misspelt operator at compile time and at run time', async () => {
    const engine = customEngine();
    const typo = engine.rules.create(ACCOUNT, {
      ...base,
      conditions: {
        all: [
          // @ts-expect-error -- "equals" is not an operator (tsc: did you mean "equal"?)
          { fact: 'job', path: '$.status', operator: 'equals', value: 'Done' },
        ],
      },
    });
    await expect(typo).rejects.toEqual(refusedWith('unknown_operator'));
    const badDecorator = engine.rules.create(ACCOUNT, {
      ...base,
      // @ts-expect-error -- "every" is not a decorator
      conditions: { all: [{ fact: 'job', operator: 'every:equal', value: 'Done' }] },
    });
    await expect(badDecorator).rejects.toEqual(refusedWith('unknown_operator'));
  });

  it('refuses a misspelt action type at compile time and at run time', async () => {
    const engine = customEngine();
    // @ts-expect-error -- "smss" is not an action type of this engine (tsc: did you mean "sms"?)
    const typo = engine.rules.create(ACCOUNT, { ...base, actions: [{ type: 'smss', params: sms.params }] });
    await expect(typo).rejects.toEqual(refusedWith('unknown_action_type'));
  });

  it('types the params of built-in actions', async () => {
    const engine = customEngine();
    // @ts-expect-error -- an sms action needs `message` ("mesage" is misspelt)
    const typo = engine.rules.create(ACCOUNT, { ...base, actions: [{ type: 'sms', params: { recipient: '+15557654321', mesage: 'hi' } }] });
    await expect(typo).rejects.toBeInstanceOf(RuleValidationError);
  });

  it('knows only what each engine registered: another engine refuses the custom operator and type', async () => {
    const plain = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() } });
    const operator = plain.rules.create(ACCOUNT, {
      ...base,
      // @ts-expect-error -- startsWith is registered on customEngine(), not on this one
      conditions: { all: [{ fact: 'job', operator: 'startsWith', value: 'J-' }] },
    });
    await expect(operator).rejects.toEqual(refusedWith('unknown_operator'));
    // @ts-expect-error -- this engine has no slack gateway and declares no slack type
    const type = plain.rules.create(ACCOUNT, { ...base, actions: [{ type: 'slack', params: { channel: '#ops' } }] });
    await expect(type).rejects.toEqual(refusedWith('unknown_action_type'));
  });

  it('types update and dryRun the same way', async () => {
    const engine = customEngine();
    const saved = await engine.rules.create(ACCOUNT, base);
    // @ts-expect-error -- "emial" is not an action type (tsc: did you mean "email"?)
    const update = engine.rules.update(ACCOUNT, saved.id, { ...base, actions: [{ type: 'emial', params: { recipient: 'a@example.com', subject: 's', body: 'b' } }] });
    await expect(update).rejects.toEqual(refusedWith('unknown_action_type'));
    const dryRun = await engine.rules.dryRun(
      ACCOUNT,
      {
        ...base,
        // @ts-expect-error -- "greaterThen" is not an operator (tsc: did you mean "greaterThan"?)
        conditions: { all: [{ fact: 'job', path: '$.total', operator: 'greaterThen', value: 1 }] },
      },
      { payload: { job: { total: 2 } } },
    );
    expect(dryRun).toMatchObject({ valid: false, issues: [expect.objectContaining({ code: 'unknown_operator' })] });
  });

  it('checks a fixture declared apart with satisfies RuleInput, naming the engine additions as type arguments', () => {
    const typo = {
      ...base,
      // @ts-expect-error -- a fixture is checked where it is written, not where it is used
      actions: [{ type: 'webhok', params: { url: 'https://hooks.example.com/x' } }],
    } satisfies RuleInput;
    const custom = { ...base, actions: [{ type: 'slack', params: { channel: '#ops' } }] } satisfies RuleInput<'slack'>;
    // @ts-expect-error -- without the type argument, slack is not an action type
    const plain: RuleInput = custom;
    expect([typo.actions.length, plain.actions.length]).toEqual([1, 1]);
  });

  it('lets documents of unknown shape through asUntrustedRule, to be refused at run time', async () => {
    const engine = customEngine();
    const body: unknown = JSON.parse('{"name":"from a request","trigger":{"eventName":"e"},"conditions":{"all":[]},"actions":[{"type":"fax","params":{}}]}');
    // @ts-expect-error -- a value of unknown shape is not a RuleInput
    const unmarked = () => engine.rules.create(ACCOUNT, body);
    expect(typeof unmarked).toBe('function');
    await expect(engine.rules.create(ACCOUNT, asUntrustedRule(body))).rejects.toEqual(refusedWith('unknown_action_type'));
    expect(asUntrustedRule(body)).toBe(body);
    expect(engine.rules.validate(body)).toMatchObject({ ok: false });
  });

  it('keeps validate open to any value, and loose engines loose', () => {
    const engine = customEngine();
    // validate is the check of untrusted input, so it takes anything and says what is wrong.
    expectTypeOf(engine.rules.validate).parameter(0).toEqualTypeOf<unknown>();
    expectTypeOf(engine.rules.create).parameter(1).toEqualTypeOf<RuleInput<'sms' | 'slack' | 'push', 'startsWith'> | UntrustedRuleInput>();
    expectTypeOf(engine).toEqualTypeOf<AutomationEngine<'sms' | 'slack' | 'push', 'startsWith'>>();
    // Channels known only as a ChannelMap may hold any type: nothing to check at compile time.
    const channels: ChannelMap = {};
    expectTypeOf(createAutomationEngine({ store: createMemoryStore(), channels })).toEqualTypeOf<AutomationEngine<string, never>>();
    expectTypeOf<'everyFact:equal'>().toExtend<ConditionOperator>();
    expectTypeOf<'startsWith'>().not.toExtend<ConditionOperator>();
    expectTypeOf<'startsWith'>().toExtend<ConditionOperator<'startsWith'>>();
  });
});
