import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CancelOn, ConditionGroup, FactEvaluation, NestedCondition, Rule, RuleAction, RuleConcurrency, RuleDelay } from '@crm-automation/core';
import { RuleWireError } from './rule-json.js';

/** `proto/rules.proto`, the contract both sides load. */
export const RULES_PROTO_PATH = fileURLToPath(new URL('../../proto/rules.proto', import.meta.url));

// --- protobuf messages as @grpc/proto-loader presents them (camelCase fields, oneof `kind`) ------

/** google.protobuf.Value */
export type ProtoValue =
  | { kind?: 'nullValue'; nullValue: 'NULL_VALUE' | 0 }
  | { kind?: 'numberValue'; numberValue: number }
  | { kind?: 'stringValue'; stringValue: string }
  | { kind?: 'boolValue'; boolValue: boolean }
  | { kind?: 'structValue'; structValue: ProtoStruct }
  | { kind?: 'listValue'; listValue: { values?: ProtoValue[] } };

/** google.protobuf.Struct */
export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export interface ProtoCondition {
  kind?: 'all' | 'any' | 'not' | 'leaf';
  all?: { conditions?: ProtoCondition[] } | null;
  any?: { conditions?: ProtoCondition[] } | null;
  not?: ProtoCondition | null;
  leaf?: { fact: string; operator: string; value?: ProtoValue | null; path?: string | null; params?: ProtoStruct | null } | null;
  name?: string | null;
  priority?: number | null;
}

export interface ProtoRule {
  id: string;
  accountId: string;
  name: string;
  description?: string | null;
  enabled: boolean;
  eventName: string;
  delay?: { value: number; unit: string } | null;
  conditions?: ProtoCondition | null;
  actions?: Array<{ type: string; params?: ProtoStruct | null }>;
  version: number;
  createdAtMs: number;
  updatedAtMs: number;
  triggerKey?: string | null;
  cancelOn?: Array<{ eventName: string; conditions?: ProtoCondition | null; key?: string | null }>;
  concurrency?: { mode: string; maxWait?: { value: number; unit: string } | null } | null;
  evaluate?: string | null;
  evaluateFacts?: Record<string, string>;
}

export interface FindRulesForEventRequest {
  accountId: string;
  eventName: string;
}

export interface GetRuleRequest {
  accountId: string;
  ruleId: string;
}

// --- JSON <-> google.protobuf.Value --------------------------------------------------------------

export function jsonToValue(value: unknown): ProtoValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  if (typeof value === 'object') return { structValue: jsonToStruct(value as Record<string, unknown>) };
  throw new RuleWireError(`cannot carry a ${typeof value} in a protobuf Value`);
}

export function jsonToStruct(value: Record<string, unknown>): ProtoStruct {
  return { fields: Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, jsonToValue(v)])) };
}

export function valueToJson(value: ProtoValue | null | undefined): unknown {
  if (!value) return null;
  if ('numberValue' in value && value.numberValue !== undefined) return value.numberValue;
  if ('stringValue' in value && value.stringValue !== undefined) return value.stringValue;
  if ('boolValue' in value && value.boolValue !== undefined) return value.boolValue;
  if ('structValue' in value && value.structValue) return structToJson(value.structValue);
  if ('listValue' in value && value.listValue) return (value.listValue.values ?? []).map(valueToJson);
  return null;
}

export function structToJson(struct: ProtoStruct | null | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(struct?.fields ?? {}).map(([k, v]) => [k, valueToJson(v)]));
}

// --- conditions ------------------------------------------------------------------------------

function conditionToProto(condition: NestedCondition): ProtoCondition {
  const meta = {
    ...(condition.name === undefined ? {} : { name: condition.name }),
    ...(condition.priority === undefined ? {} : { priority: condition.priority }),
  };
  if ('all' in condition) return { all: { conditions: condition.all.map(conditionToProto) }, ...meta };
  if ('any' in condition) return { any: { conditions: condition.any.map(conditionToProto) }, ...meta };
  if ('not' in condition) return { not: conditionToProto(condition.not), ...meta };
  return {
    leaf: {
      fact: condition.fact,
      operator: condition.operator,
      value: jsonToValue(condition.value),
      ...(condition.path === undefined ? {} : { path: condition.path }),
      ...(condition.params === undefined ? {} : { params: jsonToStruct(condition.params) }),
    },
    ...meta,
  };
}

function conditionFromProto(proto: ProtoCondition | null | undefined): NestedCondition {
  if (!proto) throw new RuleWireError('a condition is empty');
  const meta = {
    ...(proto.name === undefined || proto.name === null ? {} : { name: proto.name }),
    ...(proto.priority === undefined || proto.priority === null ? {} : { priority: proto.priority }),
  };
  if (proto.all) return { all: (proto.all.conditions ?? []).map(conditionFromProto), ...meta };
  if (proto.any) return { any: (proto.any.conditions ?? []).map(conditionFromProto), ...meta };
  if (proto.not) return { not: conditionFromProto(proto.not), ...meta };
  if (proto.leaf) {
    const { fact, operator, value, path, params } = proto.leaf;
    return {
      fact,
      operator,
      value: valueToJson(value),
      ...(path === undefined || path === null ? {} : { path }),
      ...(params ? { params: structToJson(params) } : {}),
      ...meta,
    };
  }
  throw new RuleWireError('a condition has none of all, any, not, leaf');
}

// --- rules -----------------------------------------------------------------------------------

export function ruleToProto(rule: Rule): ProtoRule {
  return {
    id: rule.id,
    accountId: rule.accountId,
    name: rule.name,
    ...(rule.description === undefined ? {} : { description: rule.description }),
    enabled: rule.enabled,
    eventName: rule.trigger.eventName,
    delay: { value: rule.delay.value, unit: rule.delay.unit },
    conditions: conditionToProto(rule.conditions),
    actions: rule.actions.map((a) => ({ type: a.type, params: jsonToStruct(a.params as Record<string, unknown>) })),
    version: rule.version,
    createdAtMs: rule.createdAt.getTime(),
    updatedAtMs: rule.updatedAt.getTime(),
    ...(rule.trigger.key === undefined ? {} : { triggerKey: rule.trigger.key }),
    ...(rule.cancelOn === undefined
      ? {}
      : { cancelOn: rule.cancelOn.map((c) => ({ eventName: c.eventName, ...(c.conditions === undefined ? {} : { conditions: conditionToProto(c.conditions) }), ...(c.key === undefined ? {} : { key: c.key }) })) }),
    ...(rule.concurrency === undefined ? {} : { concurrency: { mode: rule.concurrency.mode, ...(rule.concurrency.maxWait === undefined ? {} : { maxWait: { value: rule.concurrency.maxWait.value, unit: rule.concurrency.maxWait.unit } }) } }),
    ...(rule.evaluate === undefined ? {} : typeof rule.evaluate === 'string' ? { evaluate: rule.evaluate } : { evaluateFacts: { ...rule.evaluate } }),
  };
}

const UNITS = new Set(['seconds', 'minutes', 'hours', 'days']);
const MODES = new Set(['all', 'supersede', 'skipIfPending']);
const EVALUATIONS = new Set(['event', 'current']);

function delayFromProto(ruleId: string, what: string, delay: { value: number; unit: string } | null | undefined): RuleDelay {
  if (!delay || !UNITS.has(delay.unit)) throw new RuleWireError(`rule ${ruleId}: bad ${what}`);
  return { value: delay.value, unit: delay.unit } as RuleDelay;
}

function groupFromProto(ruleId: string, what: string, proto: ProtoCondition | null | undefined): ConditionGroup {
  const conditions = conditionFromProto(proto);
  if (!('all' in conditions || 'any' in conditions || 'not' in conditions)) throw new RuleWireError(`rule ${ruleId}: ${what} must be a group`);
  return conditions;
}

function evaluationFromProto(ruleId: string, value: string): FactEvaluation {
  if (!EVALUATIONS.has(value)) throw new RuleWireError(`rule ${ruleId}: bad evaluate "${value}"`);
  return value as FactEvaluation;
}

/** The entity-aware parts of a rule (issue 16), each only when the rule has it. */
function entityPartsFromProto(proto: ProtoRule): Pick<Rule, 'cancelOn' | 'concurrency' | 'evaluate'> {
  const cancelOn: CancelOn[] | undefined = proto.cancelOn?.length
    ? proto.cancelOn.map((c) => ({
        eventName: c.eventName,
        ...(c.conditions ? { conditions: groupFromProto(proto.id, 'a cancelOn condition', c.conditions) } : {}),
        ...(c.key === undefined || c.key === null ? {} : { key: c.key }),
      }))
    : undefined;
  let concurrency: RuleConcurrency | undefined;
  if (proto.concurrency) {
    if (!MODES.has(proto.concurrency.mode)) throw new RuleWireError(`rule ${proto.id}: bad concurrency mode "${proto.concurrency.mode}"`);
    concurrency = { mode: proto.concurrency.mode as RuleConcurrency['mode'], ...(proto.concurrency.maxWait ? { maxWait: delayFromProto(proto.id, 'concurrency.maxWait', proto.concurrency.maxWait) } : {}) };
  }
  const perFact = Object.entries(proto.evaluateFacts ?? {});
  const evaluate =
    proto.evaluate !== undefined && proto.evaluate !== null
      ? evaluationFromProto(proto.id, proto.evaluate)
      : perFact.length > 0
        ? Object.fromEntries(perFact.map(([fact, value]) => [fact, evaluationFromProto(proto.id, value)]))
        : undefined;
  return { ...(cancelOn ? { cancelOn } : {}), ...(concurrency ? { concurrency } : {}), ...(evaluate === undefined ? {} : { evaluate }) };
}

export function ruleFromProto(proto: ProtoRule): Rule {
  if (!proto.id || !proto.accountId || !proto.eventName) throw new RuleWireError('a rule needs id, account id and event name');
  const delay = delayFromProto(proto.id, 'delay', proto.delay);
  const conditions = groupFromProto(proto.id, 'the top-level condition', proto.conditions);
  return {
    id: proto.id,
    accountId: proto.accountId,
    name: proto.name,
    ...(proto.description === undefined || proto.description === null ? {} : { description: proto.description }),
    enabled: proto.enabled,
    trigger: { eventName: proto.eventName, ...(proto.triggerKey === undefined || proto.triggerKey === null ? {} : { key: proto.triggerKey }) },
    delay,
    conditions,
    actions: (proto.actions ?? []).map((a) => ({ type: a.type, params: structToJson(a.params) }) as RuleAction),
    version: proto.version,
    createdAt: new Date(Number(proto.createdAtMs)),
    updatedAt: new Date(Number(proto.updatedAtMs)),
    ...entityPartsFromProto(proto),
  };
}

// --- service definition ------------------------------------------------------------------------

/** The loaded `RulesService` definition, for `server.addService` and the client constructor. */
export function loadRulesService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(RULES_PROTO_PATH, { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { crm: { rules: { v1: { RulesService: grpc.ServiceClientConstructor } } } };
  return loaded.crm.rules.v1.RulesService;
}
