import { BUILT_IN_ACTION_TYPES } from '../actions/built-in.js';
import { createWebhookUrlCheck } from '../net/webhook-address-policy.js';
import type { ParamsSchema } from '../ports/gateway.js';
import { BUILT_IN_OPERATORS, createOperatorCheck, type OperatorFn } from '../rules/operators.js';
import { createRuleValidator, type RuleLimits, type RuleValidator } from '../rules/rule-schema.js';
import type { AutomationEngineOptions } from './options.js';

/** The rule language of one engine: its operators, the action types it accepts, and their schemas. */
export interface EngineRuleLanguage {
  validate: RuleValidator;
  operators: ReadonlyMap<string, OperatorFn>;
}

export function createEngineRuleLanguage(options: AutomationEngineOptions, limits: RuleLimits): EngineRuleLanguage {
  const operators = new Map<string, OperatorFn>(Object.entries(options.operators ?? {}));
  const actionTypes = new Map<string, ParamsSchema | undefined>();
  for (const type of [...BUILT_IN_ACTION_TYPES, ...(options.actionTypes ?? [])]) actionTypes.set(type, undefined);
  // A gateway's own params schema wins (the webhook gateway's checks URLs with its address policy).
  for (const [type, gateway] of Object.entries(options.channels ?? {})) actionTypes.set(type, gateway.paramsSchema);
  // Types sent elsewhere are declared in `actionTypes`; any other type without a gateway is a warning.
  const sendableTypes = new Set([...Object.keys(options.channels ?? {}), ...(options.actionTypes ?? [])]);
  const operatorNames = [...BUILT_IN_OPERATORS, ...operators.keys()];
  const validate = createRuleValidator({
    isOperator: createOperatorCheck(operators.keys()),
    operatorNames: () => operatorNames,
    sendableTypes,
    actionTypes,
    limits,
    checkUrl: options.checkWebhookUrl ?? createWebhookUrlCheck(options.webhookAddressPolicy),
  });
  return { validate, operators };
}
