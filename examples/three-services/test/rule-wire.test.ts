import type { Rule, RuleSource } from '@crm-automation/core';
import pino from 'pino';
import { normalizeEvent } from '@crm-automation/core';
import { describe, expect, it } from 'vitest';
import { highValueJobRule, technicianSmsRule } from '../src/design-doc-rules.js';
import { ruleFromProto, ruleToProto } from '../src/wire/grpc-contract.js';
import { lookupRequest, parseLookupMessage, ruleChanged, rulesFound } from '../src/wire/lookup-messages.js';
import { ruleFromJson, ruleToJson } from '../src/wire/rule-json.js';
import { startGrpcRulesServer } from '../src/rules-service/grpc-rules-server.js';
import { CircuitBreaker } from '../src/trigger-service/rule-lookup/circuit-breaker.js';
import { grpcRuleSource } from '../src/trigger-service/rule-lookup/grpc-rule-source.js';

const stored = (input: ReturnType<typeof technicianSmsRule> | ReturnType<typeof highValueJobRule>, id: string): Rule =>
  ({ ...input, id, accountId: 'acc_12345', version: 3, createdAt: new Date('2025-07-05T12:00:00Z'), updatedAt: new Date('2025-07-06T10:00:00Z') }) as Rule;

const rules = [stored(technicianSmsRule(), 'r1'), stored(highValueJobRule(), 'r2')];
const nested: Rule = {
  ...stored(technicianSmsRule(), 'r3'),
  conditions: {
    any: [
      { not: { fact: 'job', path: '$.status', operator: 'in', value: ['Done', 'Closed'] }, name: 'not closed' },
      { all: [{ fact: 'job', operator: 'greaterThan', value: 1.5, params: { x: { y: [1, null, true] } }, priority: 2 }] },
    ],
  },
};

/** Every entity-aware part a rule may have (issue 16), in its other forms. */
const entityAware: Rule = {
  ...stored(technicianSmsRule(), 'r4'),
  trigger: { eventName: 'job.status.changed', key: '$.job.id' },
  cancelOn: [
    { eventName: 'job.deleted' },
    { eventName: 'job.status.changed', conditions: { all: [{ fact: 'job', path: '$.status', operator: 'equal', value: 'Cancelled' }] }, key: '$.job.ref' },
  ],
  concurrency: { mode: 'supersede', maxWait: { value: 30, unit: 'minutes' } },
  evaluate: { job: 'current', client: 'event' },
};
const skipping: Rule = { ...stored(technicianSmsRule(), 'r5'), concurrency: { mode: 'skipIfPending' }, evaluate: 'event' };

describe('rules on the wire', () => {
  it('keep the entity-aware parts of the example SMS rule', () => {
    expect(rules[0]).toMatchObject({ trigger: { key: '$.job.id' }, evaluate: 'current', concurrency: { mode: 'supersede' } });
  });

  it.each([...rules, nested, entityAware, skipping])('survive the gRPC contract unchanged ($id)', (rule) => {
    expect(ruleFromProto(ruleToProto(rule))).toEqual(rule);
  });

  it.each([...rules, entityAware, skipping])('survive JSON unchanged ($id)', (rule) => {
    expect(ruleFromJson(JSON.parse(JSON.stringify(ruleToJson(rule))))).toEqual(rule);
  });

  it('refuses a malformed rule with its path, as not retryable', () => {
    expect(() => ruleFromJson({ ...ruleToJson(rules[0] as Rule), version: 'x' })).toThrow(/version/);
    expect(() => ruleFromJson({ ...ruleToJson(rules[0] as Rule), concurrency: { mode: 'debounce' } })).toThrow(/concurrency\.mode/);
    expect(() => ruleFromProto({ ...ruleToProto(rules[0] as Rule), concurrency: { mode: 'debounce' } })).toThrow(/concurrency mode/);
    expect(() => ruleFromProto({ ...ruleToProto(rules[0] as Rule), evaluate: 'later' })).toThrow(/evaluate/);
    try {
      ruleFromJson({});
    } catch (error) {
      expect(error).toMatchObject({ code: 'CRM_ERR_RULE_WIRE', retryable: false });
    }
  });
});

describe('lookup messages', () => {
  const event = normalizeEvent({ id: 'evt-1', name: 'job.created', accountId: 'acc_12345', payload: { job: { total: 1 } }, timestamp: '2025-07-06T21:42:00Z' }, new Date('2025-07-06T21:45:00Z'));

  it('carry the original event and the rules found, through JSON', () => {
    const request = parseLookupMessage(JSON.parse(JSON.stringify(lookupRequest(event))));
    expect(request).toEqual({ kind: 'requested', event: { id: 'evt-1', name: 'job.created', accountId: 'acc_12345', timestamp: '2025-07-06T21:42:00.000Z', payload: { job: { total: 1 } } } });
    if (request.kind !== 'requested') throw new Error('unreachable');
    const found = parseLookupMessage(JSON.parse(JSON.stringify(rulesFound(request.event, rules))));
    expect(found).toEqual({ kind: 'found', event: request.event, rules });
    expect(parseLookupMessage(JSON.parse(JSON.stringify(ruleChanged('acc_12345', 'r1', null))))).toEqual({ kind: 'changed', accountId: 'acc_12345', ruleId: 'r1', rule: null });
  });

  it('refuse rules of another account, and anything malformed, as not retryable', () => {
    const foreign = { ...rulesFound({ id: 'e', name: 'n', accountId: 'acc_other', timestamp: 't', payload: {} }, rules) };
    expect(() => parseLookupMessage(JSON.parse(JSON.stringify(foreign)))).toThrow(/another account/);
    expect(() => parseLookupMessage({ name: 'rules_found', accountId: 'a', payload: {} })).toThrow(/malformed rules_found/);
    expect(() => parseLookupMessage('nope')).toThrow(expect.objectContaining({ code: 'CRM_ERR_LOOKUP_MESSAGE', retryable: false }));
  });
});

describe('rules over real gRPC (encoded by proto/rules.proto)', () => {
  it('carry the entity-aware parts from the rules service to the trigger service', async () => {
    const byId = new Map([...rules, nested, entityAware, skipping].map((r) => [r.id, r]));
    const source: RuleSource = {
      findRulesForEvent: async (accountId, eventName) => [...byId.values()].filter((r) => r.accountId === accountId && r.trigger.eventName === eventName),
      getRule: async (_accountId, ruleId) => byId.get(ruleId) ?? null,
    };
    const token = 'wire-test-token-0123456789';
    const server = await startGrpcRulesServer({ rules: source, tokens: [token], host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
    const client = grpcRuleSource({ address: `127.0.0.1:${server.port}`, token, timeoutMs: 5_000, retries: 0, breaker: new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000 }) });
    try {
      for (const rule of byId.values()) expect(await client.getRule(rule.accountId, rule.id)).toEqual(rule);
      expect(await client.findRulesForEvent('acc_12345', 'job.status.changed')).toEqual([...byId.values()].filter((r) => r.trigger.eventName === 'job.status.changed'));
    } finally {
      client.close();
      await server.close(0);
    }
  });
});
