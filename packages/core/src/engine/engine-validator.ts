import { BUILT_IN_ACTION_TYPES } from '../actions/built-in.js';
import { AutomationError } from '../errors.js';
import { createWebhookUrlCheck, sameWebhookAddressPolicy } from '../net/webhook-address-policy.js';
import type { ParamsSchema } from '../ports/gateway.js';
import { BUILT_IN_OPERATORS, CORE_OPERATORS, createOperatorCheck, type OperatorFn } from '../rules/operators.js';
import { createRuleValidator, type RuleLimits, type RuleValidator } from '../rules/rule-schema.js';
import type { AutomationEngineOptions } from './options.js';

/** The rule language of one engine: its operators, the action types it accepts, and their schemas. */
export interface EngineRuleLanguage {
  validate: RuleValidator;
  operators: ReadonlyMap<string, OperatorFn>;
}

/**
 * @param firesRules the engine has a trigger store: rules that evaluate facts on current state must
 *   then have a loader in `options.facts`.
 */
export function createEngineRuleLanguage(options: AutomationEngineOptions, limits: RuleLimits, firesRules = false): EngineRuleLanguage {
  checkOnePolicy(options);
  const operators = new Map<string, OperatorFn>(Object.entries(options.operators ?? {}));
  const actionTypes = new Map<string, ParamsSchema | undefined>();
  for (const type of [...BUILT_IN_ACTION_TYPES, ...(options.actionTypes ?? [])]) actionTypes.set(type, undefined);
  // A gateway's own params schema wins (the webhook gateway's checks URLs with its address policy).
  for (const [type, gateway] of Object.entries(options.channels ?? {})) actionTypes.set(type, gateway.paramsSchema);
  // Types sent elsewhere are declared in `actionTypes`; any other type without a gateway is a warning.
  const sendableTypes = new Set([...Object.keys(options.channels ?? {}), ...(options.actionTypes ?? [])]);
  const operatorNames = [...BUILT_IN_OPERATORS, ...CORE_OPERATORS, ...operators.keys()];
  const validate = createRuleValidator({
    isOperator: createOperatorCheck(operators.keys()),
    operatorNames: () => operatorNames,
    sendableTypes,
    actionTypes,
    limits,
    checkUrl: options.checkWebhookUrl ?? createWebhookUrlCheck(options.webhookAddressPolicy),
    ...(firesRules ? { factLoaders: new Set(Object.keys(options.facts ?? {})) } : {}),
  });
  return { validate, operators };
}

/**
 * The webhook address policy is configured once. With a webhook gateway, rules are validated with the
 * gateway's own policy (its `paramsSchema`), so an engine `webhookAddressPolicy` would have no effect:
 * one that says the same is tolerated, one that differs (or a gateway that does not say its policy)
 * is a configuration error rather than a policy silently ignored. `webhookAddressPolicy` is for
 * processes that validate rules without sending webhooks (a rules service).
 */
function checkOnePolicy(options: AutomationEngineOptions): void {
  const gateway = options.channels?.['webhook'];
  // A gateway without a schema of its own is validated with the engine's policy, which then applies.
  if (!gateway?.paramsSchema || options.webhookAddressPolicy === undefined) return;
  if (gateway.addressPolicy !== undefined && sameWebhookAddressPolicy(gateway.addressPolicy, options.webhookAddressPolicy)) return;
  throw new AutomationError(
    'CRM_ERR_CONFIG',
    gateway.addressPolicy === undefined
      ? 'createAutomationEngine: webhookAddressPolicy is given, but the webhook gateway validates destinations with its own policy and does not say which; configure the policy on the gateway only'
      : 'createAutomationEngine: webhookAddressPolicy differs from the webhook gateway\'s policy, which is the one rules are validated and sent with; configure it on the gateway only (createWebhook({ allowHosts, allowPrivateNetworks }))',
  );
}
