import { AutomationError } from '../errors.js';

/** Every public call is scoped by an account: a malformed one is a typed refusal, never a query. */
export function requireAccount(accountId: unknown): string {
  if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > 200) {
    throw new AutomationError('CRM_ERR_CONFIG', 'accountId must be a non-empty string');
  }
  return accountId;
}
