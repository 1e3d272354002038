import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_OPERATORS,
  closestName,
  CORE_OPERATORS,
  createAutomationEngine,
  createConsoleChannels,
  createManualClock,
  createMemoryBus,
  createMemoryIdempotencyStore,
  createMemoryRuleStore,
  createMemoryStore,
  createMemoryTriggerStore,
  createRecordingChannel,
  createWebhookAddressCheck,
  createWebhookUrlCheck,
  optionKeys,
  withIdempotency,
  type AutomationEngineOptions,
  type RuleInput,
} from '@crm-automation/core';
import { createMemoryContactCounter, createMemoryContactPolicyStore, createMemoryDeliveryLedger, createMemorySendThrottle, createMemorySuppressionStore } from '@crm-automation/core/memory';
import { createRecordingLogger } from '@crm-automation/testing';

describe('engine configuration is loud', () => {
  it('refuses a missing argument, a non-object and a missing store with CRM_ERR_CONFIG, not a TypeError', () => {
    for (const args of [[], [undefined], [null], ['store'], [42], [[]], [{}]] as unknown[][]) {
      let error: unknown;
      try {
        (createAutomationEngine as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG' });
      expect(error).not.toBeInstanceOf(TypeError);
    }
  });

  const typos: Array<[string, string]> = [
    ['channel', 'channels'],
    ['chanels', 'channels'],
    ['stores', 'store'],
    ['busses', 'bus'],
    ['leaseMS', 'leaseMs'],
    ['pollInterval', 'pollIntervalMs'],
    ['maxAttempt', 'maxAttempts'],
    ['batchsize', 'batchSize'],
    ['sendTimeout', 'sendTimeoutMs'],
    ['operator', 'operators'],
    ['idempotence', 'idempotency'],
    ['ruleSources', 'ruleSource'],
  ];
  it.each(typos)('refuses %s and suggests %s', (typo, suggestion) => {
    expect(() => createAutomationEngine({ store: createMemoryStore(), [typo]: {} } as unknown as AutomationEngineOptions)).toThrow(
      expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(`"${typo}" (did you mean "${suggestion}"?)`) as string }),
    );
  });

  it('refuses unknown keys in nested options too', () => {
    const store = createMemoryStore();
    expect(() => createAutomationEngine({ store, backoff: { base: 1 } } as never)).toThrow(/backoff.*"base" \(did you mean "baseMs"\?\)/);
    expect(() => createAutomationEngine({ store, limits: { maxDepths: 3 } } as never)).toThrow(/limits.*"maxDepths" \(did you mean "maxDepth"\?\)/);
    expect(() => createAutomationEngine({ store, webhookAddressPolicy: { allowPrivate: true } } as never)).toThrow(/allowPrivate/);
  });

  it('names an unknown key with no near match and lists the valid ones', () => {
    expect(() => createAutomationEngine({ store: createMemoryStore(), zzz: 1 } as never)).toThrow(/unknown option "zzz"; valid options: store, ruleStore, triggerStore, ruleSource/);
  });

  it('suggests only near names', () => {
    expect(closestName('channel', ['channels', 'clock'])).toBe('channels');
    expect(closestName('qqqqqq', ['channels', 'clock'])).toBeUndefined();
    const keys = optionKeys<{ a: number; b?: string }>()('a', 'b');
    expect(keys).toEqual(['a', 'b']);
  });
});

describe('durations a timer or a due time cannot hold', () => {
  const MAX = 2 ** 31 - 1;
  it.each(['leaseMs', 'sendTimeoutMs', 'pollIntervalMs', 'storeTimeoutMs', 'factTimeoutMs', 'idempotencyLockMs'])('refuses %s past 2^31 - 1 ms with CRM_ERR_CONFIG naming it', (key) => {
    for (const value of [MAX + 1, 8.64e15, 1e300]) {
      // leaseMs must stay longer than sendTimeoutMs, so the lease is given room whenever it is not the key.
      const options = { store: createMemoryStore(), ...(key === 'leaseMs' ? {} : { leaseMs: MAX }), [key]: value } as AutomationEngineOptions;
      expect(() => createAutomationEngine(options), `${key}=${value}`).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(key) as unknown }));
    }
    expect(() => createAutomationEngine({ store: createMemoryStore(), leaseMs: MAX, [key]: key === 'leaseMs' ? MAX : MAX - 1 } as AutomationEngineOptions)).not.toThrow();
  });

  it('refuses a backoff whose longest delay leaves the range', () => {
    expect(() => createAutomationEngine({ store: createMemoryStore(), backoff: { maxMs: 8.64e15 } } as AutomationEngineOptions)).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG' }));
  });
});

describe('rules the engine cannot send', () => {
  it('warns (result and log) when an action type has no gateway on this engine, and not when it was declared', async () => {
    const logger = createRecordingLogger();
    const engine = createAutomationEngine({ store: createMemoryStore(), channels: { sms: createRecordingChannel() }, logger });
    const rule = {
      name: 'r',
      trigger: { eventName: 'e' },
      conditions: { all: [{ fact: 'a', operator: 'equal', value: 1 }] },
      actions: [
        { type: 'sms', params: { recipient: '+15557654321', message: 'x' } },
        { type: 'email', params: { recipient: 'a@example.com', subject: 's', body: 'b' } },
      ],
    } satisfies RuleInput;
    const validated = engine.rules.validate(rule);
    expect(validated.ok && validated.warnings).toEqual([expect.objectContaining({ path: 'actions[1].type', code: 'no_gateway' })]);
    const saved = await engine.rules.create('acc', rule);
    expect(saved.warnings).toEqual([expect.objectContaining({ path: 'actions[1].type', code: 'no_gateway' })]);
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.bindings)).toEqual([expect.objectContaining({ accountId: 'acc', ruleId: saved.id })]);
    expect((await engine.rules.get('acc', saved.id)) ?? {}).not.toHaveProperty('warnings');

    const rulesService = createAutomationEngine({ store: createMemoryStore(), actionTypes: ['sms', 'email', 'webhook'] });
    const declared = rulesService.rules.validate(rule);
    expect(declared.ok && declared.warnings).toBeUndefined();
  });

  it('suggests the nearest operator and lists the valid ones', () => {
    const engine = createAutomationEngine({ store: createMemoryStore(), operators: { startsWith: () => true } });
    const result = engine.rules.validate({
      name: 'r',
      trigger: { eventName: 'e' },
      conditions: { all: [{ fact: 'a', operator: 'equals', value: 1 }, { fact: 'a', operator: 'greaterThenInclusive', value: 1 }, { fact: 'a', operator: 'someFact:startWith', value: 1 }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'x' } }],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.issues.map((i) => i.message);
    expect(messages[0]).toMatch(/unknown operator "equals" \(did you mean "equal"\?\); valid operators: equal, notEqual, in, notIn, contains/);
    expect(messages[1]).toMatch(/did you mean "greaterThanInclusive"/);
    expect(messages[2]).toMatch(/did you mean "someFact:startsWith"/);
    expect(result.issues.every((i) => i.code === 'unknown_operator')).toBe(true);
  });
});

describe('in-memory factories are loud too', () => {
  it.each([
    ['createMemoryBus', () => createMemoryBus({ maxAttempt: 3 } as never), 'maxAttempts'],
    ['createRecordingChannel', () => createRecordingChannel({ respnd: () => 1 } as never), 'respond'],
    ['createConsoleChannels', () => createConsoleChannels({ writer: () => undefined } as never), 'write'],
    ['createMemoryIdempotencyStore', () => createMemoryIdempotencyStore({ clock: () => 1 } as never), undefined],
    ['createWebhookAddressCheck', () => createWebhookAddressCheck({ allowHost: ['x'] } as never), 'allowHosts'],
  ])('%s refuses a typo', (_name, make, suggestion) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    if (suggestion) expect((error as Error).message).toContain(`did you mean "${suggestion}"`);
  });
});

describe('every core factory refuses options that are not an object, with CRM_ERR_CONFIG', () => {
  const optional: Array<[string, (options: unknown) => unknown]> = [
    ['createMemoryBus', (o) => createMemoryBus(o as never)],
    ['createRecordingChannel', (o) => createRecordingChannel(o as never)],
    ['createConsoleChannels', (o) => createConsoleChannels(o as never)],
    ['createMemoryIdempotencyStore', (o) => createMemoryIdempotencyStore(o as never)],
    ['createWebhookAddressCheck', (o) => createWebhookAddressCheck(o as never)],
    ['createWebhookUrlCheck', (o) => createWebhookUrlCheck(o as never)],
  ];
  const none: Array<[string, (...args: unknown[]) => unknown]> = [
    ['createMemoryStore', createMemoryStore as (...args: unknown[]) => unknown],
    ['createMemoryRuleStore', createMemoryRuleStore as (...args: unknown[]) => unknown],
    ['createMemoryTriggerStore', createMemoryTriggerStore as (...args: unknown[]) => unknown],
    ['createMemoryDeliveryLedger', createMemoryDeliveryLedger as (...args: unknown[]) => unknown],
    ['createMemoryContactPolicyStore', createMemoryContactPolicyStore as (...args: unknown[]) => unknown],
    ['createMemorySuppressionStore', createMemorySuppressionStore as (...args: unknown[]) => unknown],
    ['createMemoryContactCounter', createMemoryContactCounter as (...args: unknown[]) => unknown],
    ['createMemorySendThrottle', createMemorySendThrottle as (...args: unknown[]) => unknown],
  ];
  const notObjects: Array<[string, unknown]> = [['null', null], ['a number', 42], ['a string', 'x'], ['an array', []], ['true', true], ['NaN', Number.NaN]];

  it.each(optional.flatMap(([name, make]) => notObjects.map(([label, value]) => [name, label, make, value] as const)))('%s(%s) is a CRM_ERR_CONFIG', (name, _label, make, value) => {
    const error = thrownBy(() => make(value));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining(`${name}: options must be an object`) as string });
  });

  it.each(optional)('%s() and (undefined) still take the defaults', (_name, make) => {
    expect(() => make(undefined)).not.toThrow();
  });

  it('refuses any non-object options value (property)', () => {
    const notAnObject = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.array(fc.anything({ maxDepth: 1 })), fc.bigInt());
    fc.assert(
      fc.property(fc.constantFrom(...optional), notAnObject, ([, make], value) => {
        expect(thrownBy(() => make(value))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
      }),
    );
  });

  it.each(none)('%s takes no options: any key is refused, naming it; none and {} are accepted', (name, make) => {
    for (const key of ['clock', 'retention', 'logger', 'ttlMs']) {
      expect(thrownBy(() => make({ [key]: 1 }))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringMatching(new RegExp(`^${name}: unknown option "${key}"; it takes no options$`)) as string });
    }
    for (const [, value] of notObjects) expect(thrownBy(() => make(value))).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect(() => make()).not.toThrow();
    expect(() => make(undefined)).not.toThrow();
    expect(() => make({})).not.toThrow();
  });

  it.each([['x'], ['not a date'], [{}], [Number.NaN], ['2026-13-45']])('createManualClock(%j) is a CRM_ERR_CONFIG', (start) => {
    expect(thrownBy(() => createManualClock(start as never))).toMatchObject({ code: 'CRM_ERR_CONFIG', message: expect.stringContaining('createManualClock') as string });
  });
});

describe('createAutomationEngine refuses a known key holding the wrong kind of value', () => {
  const store = createMemoryStore();
  const gateway = createRecordingChannel();
  // Each key with values a JavaScript caller may pass by mistake: a string, a number, a factory not
  // called, an empty object (a port without its methods), null.
  const wrong: Array<[key: string, values: unknown[]]> = [
    ['store', ['x', 42, true, [], {}, null, () => store, { insertRule: () => undefined }]],
    ['ruleStore', ['x', {}, [], null, createMemoryStore]],
    ['triggerStore', ['x', {}, [], null, createMemoryStore]],
    ['ruleSource', ['http://rules', {}, null, 1]],
    ['bus', ['amqp://localhost', 42, {}, [], null, createMemoryBus]],
    ['channels', ['x', 42, true, [], null, () => gateway, { sms: 'x' }, { sms: {} }, { sms: null }, { sms: createRecordingChannel }, { sms: gateway, email: 1 }]],
    ['clock', ['x', 42, {}, null, () => new Date()]],
    ['logger', ['x', 42, {}, null, console.log, { info: () => undefined }]],
    ['tracer', ['x', {}, null]],
    ['idempotency', ['x', 42, {}, [], null, createMemoryIdempotencyStore]],
    ['ledger', ['x', 42, true, {}, [], null]],
    ['contactPolicies', ['x', 42, true, {}, null]],
    ['suppressions', ['x', true, {}, null]],
    ['contactCounter', ['x', true, {}, null]],
    ['sendThrottle', ['x', true, {}, null]],
    ['operators', ['x', 42, [], null, { startsWith: 'x' }, { startsWith: null }]],
    ['actionTypes', ['sms', 42, {}, null, [1], [''], ['sms', null]]],
    ['checkWebhookUrl', ['x', 42, {}, null]],
    ['group', [42, '', '  ', {}, null]],
    ['instanceId', [42, '', {}, null]],
    ['limits', ['x', 42, null, []]],
    ['backoff', ['x', null, []]],
    ['eventTimeWindow', ['x', null]],
    ['webhookAddressPolicy', ['x', null, { allowHosts: 'example.com' }, { allowHosts: [1] }, { allowPrivateNetworks: 'yes' }]],
    ['facts', ['x', null, [], { job: 'x' }]],
  ];

  it.each(wrong.flatMap(([key, values]) => values.map((value, index) => [key, index, value] as const)))('%s (value %d) is a CRM_ERR_CONFIG naming the key', (key, _index, value) => {
    const error = thrownBy(() => createAutomationEngine({ store, [key]: value } as unknown as AutomationEngineOptions));
    expect(error).toMatchObject({ code: 'CRM_ERR_CONFIG' });
    expect(error).not.toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(key);
  });

  it('accepts the right kinds, and false for the optional ports', () => {
    expect(() =>
      createAutomationEngine({
        store,
        channels: { sms: gateway },
        bus: createMemoryBus(),
        clock: createManualClock(0),
        idempotency: createMemoryIdempotencyStore(),
        ledger: false,
        contactPolicies: false,
        suppressions: false,
        contactCounter: false,
        sendThrottle: false,
        operators: { startsWith: () => true },
        actionTypes: ['push'],
        group: 'g',
        instanceId: 'i',
      }),
    ).not.toThrow();
  });
});

function thrownBy(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('an unknown operator names the one meant and lists every valid one', () => {
  const engine = createAutomationEngine({ store: createMemoryStore(), actionTypes: ['sms'] });
  const messageFor = (operator: string): string => {
    const result = engine.rules.validate({
      name: 'r',
      trigger: { eventName: 'e' },
      conditions: { all: [{ fact: 'a', operator, value: 1 }] },
      actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'x' } }],
    });
    if (result.ok) throw new Error(`${operator} was accepted`);
    const found = result.issues.find((i) => i.code === 'unknown_operator');
    if (!found) throw new Error(`no unknown_operator issue for ${operator}: ${JSON.stringify(result.issues)}`);
    expect(found.path).toBe('conditions.all[0].operator');
    return found.message;
  };
  const VALID = [...BUILT_IN_OPERATORS, ...CORE_OPERATORS];

  it.each([
    ['Equal', 'equal'], ['EQUAL', 'equal'], ['equals', 'equal'], ['eq', 'equal'], ['==', 'equal'], ['===', 'equal'], ['=', 'equal'], [' equal', 'equal'],
    ['!=', 'notEqual'], ['!==', 'notEqual'], ['<>', 'notEqual'], ['ne', 'notEqual'], ['neq', 'notEqual'], ['not_equal', 'notEqual'], ['not equal', 'notEqual'], ['NotEqual', 'notEqual'],
    ['>', 'greaterThan'], ['gt', 'greaterThan'], ['greater_than', 'greaterThan'], ['greaterThen', 'greaterThan'],
    ['>=', 'greaterThanInclusive'], ['gte', 'greaterThanInclusive'], ['greaterThanOrEqual', 'greaterThanInclusive'], ['greater-than-or-equal-to', 'greaterThanInclusive'],
    ['<', 'lessThan'], ['lt', 'lessThan'], ['<=', 'lessThanInclusive'], ['lte', 'lessThanInclusive'], ['lessThanOrEqual', 'lessThanInclusive'], ['lessthaninclusive', 'lessThanInclusive'],
    ['contain', 'contains'], ['includes', 'contains'], ['has', 'contains'], ['notContains', 'doesNotContain'], ['excludes', 'doesNotContain'],
    ['IN', 'in'], ['in ', 'in'], ['oneOf', 'in'], ['not_in', 'notIn'], ['nin', 'notIn'], ['exists', 'present'], ['isNotNull', 'present'],
    ['everyFact:equals', 'everyFact:equal'], ['swap:In', 'swap:in'], ['not:==', 'not:equal'], ['someValue:gte', 'someValue:greaterThanInclusive'], ['evryFact:equal', 'everyFact:equal'], ['NOT:equal', 'not:equal'],
  ])('%j suggests %j', (operator, suggestion) => {
    const message = messageFor(operator);
    expect(message).toContain(`unknown operator ${JSON.stringify(operator)} (did you mean "${suggestion}"?)`);
    expect(message).toContain(`valid operators: ${VALID.join(', ')}`);
  });

  it.each(['qqqqqqq', 'x', 'regex', 'startsWith', '%%'])('%j suggests nothing, and still lists the valid ones', (operator) => {
    const message = messageFor(operator);
    expect(message).not.toContain('did you mean');
    expect(message).toContain(`valid operators: ${VALID.join(', ')}`);
  });

  it('any spelling of a valid operator by case, underscores, dashes or spaces suggests it (property)', () => {
    const respelt = fc.tuple(fc.constantFrom(...VALID), fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), fc.constantFrom('', '_', '-', ' ')).map(([name, flips, separator]) => {
      const cased = [...name].map((ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase())).join('');
      return [name, separator === '' ? cased : cased.replace(/([a-z])([A-Z])/g, `$1${separator}$2`)] as const;
    });
    fc.assert(
      fc.property(respelt, fc.constantFrom('', 'everyFact:', 'not:', 'swap:not:'), ([name, spelling], decorators) => {
        fc.pre(spelling !== name);
        expect(messageFor(`${decorators}${spelling}`)).toContain(`(did you mean "${decorators}${name}"?)`);
      }),
    );
  });

  it('custom operators are suggested too', () => {
    const custom = createAutomationEngine({ store: createMemoryStore(), actionTypes: ['sms'], operators: { startsWith: () => true } });
    const result = custom.rules.validate({ name: 'r', trigger: { eventName: 'e' }, conditions: { all: [{ fact: 'a', operator: 'startWith', value: 1 }] }, actions: [{ type: 'sms', params: { recipient: '+15557654321', message: 'x' } }] });
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([expect.stringMatching(/did you mean "startsWith".*valid operators: .*startsWith/)]);
  });
});

describe('withIdempotency refuses what is not a gateway, a store or a duration', () => {
  const gateway = createRecordingChannel();
  const store = createMemoryIdempotencyStore();
  it.each([
    ['no gateway', () => withIdempotency(undefined as never, store)],
    ['a string gateway', () => withIdempotency('sms' as never, store)],
    ['a gateway without send', () => withIdempotency({} as never, store)],
    ['no store', () => withIdempotency(gateway, undefined as never)],
    ['a null store', () => withIdempotency(gateway, null as never)],
    ['a store without its methods', () => withIdempotency(gateway, {} as never)],
    ['a URL as the store', () => withIdempotency(gateway, 'redis://x' as never)],
    ['lockMs as a string', () => withIdempotency(gateway, store, { lockMs: '60000' } as never)],
    ['a negative ttlMs', () => withIdempotency(gateway, store, { ttlMs: -1 })],
    ['a misspelt option', () => withIdempotency(gateway, store, { lockMS: 1 } as never)],
  ])('%s is a CRM_ERR_CONFIG', (_name, make) => {
    expect(thrownBy(make)).toMatchObject({ code: 'CRM_ERR_CONFIG' });
  });

  it('wraps a gateway and a store', () => {
    expect(typeof withIdempotency(gateway, store, { lockMs: 1_000, ttlMs: 60_000 }).send).toBe('function');
  });
});
