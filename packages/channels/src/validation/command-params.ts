import { AutomationError, hasLineBreak, isEmailAddress, type ParamsSchema, type ValidationIssue } from '@crm-automation/core';
import { paramsIssues } from '@crm-automation/core/spi';
import { permanentFailure } from '../outcome/gateway-failure.js';

/**
 * What a recipient, a header or a single line is lives in core (`smsCommandSchema`,
 * `emailCommandSchema`, `webhookCommandSchema`), shared with rule validation and the Notification
 * Service. Only what is specific to a provider's configuration (the sender address) is checked here.
 */

/** The problems of `params` against `schema`, with paths under `params` (empty when they are valid). */
export function commandIssues(schema: ParamsSchema, params: unknown, prefix: readonly PropertyKey[] = ['params']): ValidationIssue[] {
  const result = schema.safeParse(params);
  // paramsIssues unwraps zod's `invalid_key` wrapper, so a reserved header keeps its own code.
  return result.success ? [] : paramsIssues(result, prefix);
}

/**
 * Send-time check of rendered params against the gateway's command schema. A failure can never
 * succeed on retry: a permanent gateway failure whose `providerCode` is the first issue's code
 * (`invalid_recipient`, `header_injection`, `reserved_header`, ...).
 */
export function requireValidCommand(provider: string, schema: ParamsSchema, params: unknown): void {
  const issues = commandIssues(schema, params);
  const first = issues[0];
  if (!first) return;
  const described = issues.slice(0, 3).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
  throw permanentFailure(provider, `invalid params: ${described}`, first.code);
}

/** Refuses a configured sender address that is not an address or could inject headers. */
export function requireSenderAddress(provider: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || hasLineBreak(value) || !isEmailAddress(value)) {
    throw new AutomationError('CRM_ERR_CONFIG', `${provider}: ${field} ${JSON.stringify(value)} is not an email address`);
  }
  return value;
}

/** Provider names travel in deliveries, metrics labels and receipts: short, one token. */
const PROVIDER_NAME = /^[a-z][a-z0-9_.-]{0,62}$/;

/** A gateway's configured `name`, or its default; refuses one that is not a short lower-case token. */
export function providerName(factory: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !PROVIDER_NAME.test(value)) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: name ${JSON.stringify(value)} must be a lower-case token (letters, digits, _ . -), e.g. "twilio-backup"`);
  }
  return value;
}

/** An absolute http(s) URL option, parsed. */
export function absoluteUrl(option: string, value: unknown): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new AutomationError('CRM_ERR_CONFIG', `${option} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url;
}
