import { describe, expect, it } from 'vitest';
import {
  closestName,
  createAutomationEngine,
  createConsoleChannels,
  createMemoryBus,
  createMemoryIdempotencyStore,
  createMemoryStore,
  createRecordingChannel,
  createWebhookAddressCheck,
  optionKeys,
  type AutomationEngineOptions,
  type RuleInput,
} from '@crm-automation/core';
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
    expect(messages[2]).toMatch(/did you mean "startsWith"/);
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
