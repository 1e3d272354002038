import type { z } from 'zod';
import { AutomationError, type ValidationIssue } from '../errors.js';
import { toValidationIssues } from '../rules/issues.js';
import type { ParamsSchema } from '../ports/gateway.js';
import { emailCommandSchema, emailRuleParamsSchema } from './email.js';
import { isPlainValidSmsCommand, smsCommandSchema, smsRuleParamsSchema } from './sms.js';
import { webhookCommandSchema, webhookRuleParamsSchema, type WebhookRuleParamsOptions } from './webhook.js';

/** The action types every engine knows, with or without a gateway for them. */
export const BUILT_IN_ACTION_TYPES = ['sms', 'email', 'webhook'] as const;
export type BuiltInActionType = (typeof BUILT_IN_ACTION_TYPES)[number];

export function isBuiltInActionType(type: string): type is BuiltInActionType {
  return (BUILT_IN_ACTION_TYPES as readonly string[]).includes(type);
}

/** Rule-params schemas of the built-in types; the webhook one checks URLs with `options.checkUrl`. */
export function builtInRuleParamsSchemas(options: WebhookRuleParamsOptions = {}): Record<BuiltInActionType, z.ZodType> {
  return { sms: smsRuleParamsSchema, email: emailRuleParamsSchema, webhook: webhookRuleParamsSchema(options) };
}

/** Schemas of rendered commands of the built-in types (send time, Notification Service). */
export const BUILT_IN_COMMAND_SCHEMAS: Readonly<Record<BuiltInActionType, z.ZodType>> = {
  sms: smsCommandSchema,
  email: emailCommandSchema,
  webhook: webhookCommandSchema,
};

/** Maps the issues of a failed {@link ParamsSchema} parse to ours. */
export function paramsIssues(result: ReturnType<ParamsSchema['safeParse']>, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return toValidationIssues(result.error?.issues ?? [], prefix);
}

/** A rendered command's params failed their type's schema: a permanent failure of that action. */
export class InvalidCommandError extends AutomationError {
  readonly issues: readonly ValidationIssue[];
  constructor(type: string, issues: readonly ValidationIssue[]) {
    const first = issues.slice(0, 3).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    super('CRM_ERR_RENDER', `rendered ${type} params are not valid: ${first}`);
    this.name = 'InvalidCommandError';
    this.issues = issues;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues };
  }
}

/**
 * Checks rendered params against a command schema; returns them, or throws {@link InvalidCommandError}
 * (`CRM_ERR_RENDER`, not retryable) with every problem and its path.
 */
export function checkCommandParams(type: string, schema: ParamsSchema, params: unknown): void {
  if (schema === smsCommandSchema && isPlainValidSmsCommand(params)) return;
  const result = schema.safeParse(params);
  if (!result.success) throw new InvalidCommandError(type, paramsIssues(result, ['params']));
}
