import { AutomationError, type AutomationStore } from '@crm-automation/core';

/** The methods the engine looks for on a store to keep the suppression list and the contact policy (its own test). */
const SUPPRESSION_METHODS = ['findSuppression', 'addSuppression', 'removeSuppression', 'listSuppressions', 'suppressionChanges'] as const;
const POLICY_METHODS = ['getContactPolicy', 'putContactPolicy'] as const;

export type ContactPort = 'suppressions' | 'contact-policy';

/**
 * Throws `CRM_ERR_CONFIG` when the store keeps no suppression list (or contact policy). Without this
 * check the engine would name engine options (`suppressions`, `contactPolicies`) the CLI's user never sets.
 */
export function requireContactPorts(store: AutomationStore, port: ContactPort): void {
  const candidate = store as unknown as Partial<Record<string, unknown>>;
  const methods = port === 'suppressions' ? SUPPRESSION_METHODS : POLICY_METHODS;
  if (methods.every((method) => typeof candidate[method] === 'function')) return;
  throw new AutomationError(
    'CRM_ERR_CONFIG',
    `this store keeps no ${port === 'suppressions' ? 'suppression list' : 'contact policy'}: install an adapter version whose store includes one and run \`crm-automation ensure-schema\``,
  );
}
