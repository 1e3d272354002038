import { ContactPolicyValidationError, VersionConflictError, type AutomationEngine, type StoredContactPolicy } from '@crm-automation/core';
import type { Output } from '../output.js';

type PolicyEngine = Pick<AutomationEngine, 'contactPolicy'>;

export async function getContactPolicy(engine: PolicyEngine, accountId: string): Promise<StoredContactPolicy | null> {
  return engine.contactPolicy.get(accountId);
}

export function printContactPolicy(output: Output, accountId: string, policy: StoredContactPolicy | null): void {
  if (output.json) return output.out(JSON.stringify(policy, null, 2));
  if (policy === null) return output.out(`${accountId} has no contact policy`);
  output.out(`contact policy of ${accountId}, version ${policy.version}, updated ${policy.updatedAt.toISOString()}`);
  const { accountId: _account, version: _version, updatedAt: _updated, ...document } = policy;
  output.out(JSON.stringify(document, null, 2));
}

export interface SetContactPolicyRequest {
  accountId: string;
  policy: unknown;
  expectedVersion?: number | undefined;
  dryRun?: boolean | undefined;
}

export interface SetContactPolicyResult {
  dryRun: boolean;
  /** The version stored before the write (0: none). */
  previousVersion: number;
  /** After the write; for a dry run, the version it would get and the validated policy without store fields. */
  policy: StoredContactPolicy | (Record<string, unknown> & { version: number });
}

/**
 * Replaces an account's policy through the engine (which validates it). A dry run validates it and
 * checks `expectedVersion` the same way, storing nothing.
 */
export async function setContactPolicy(engine: PolicyEngine, request: SetContactPolicyRequest): Promise<SetContactPolicyResult> {
  const current = await engine.contactPolicy.get(request.accountId);
  const previousVersion = current?.version ?? 0;
  if (!request.dryRun) {
    const stored = await engine.contactPolicy.set(request.accountId, request.policy, { expectedVersion: request.expectedVersion });
    return { dryRun: false, previousVersion, policy: stored };
  }
  const checked = engine.contactPolicy.validate(request.policy);
  if (!checked.ok) throw new ContactPolicyValidationError(checked.issues);
  if (request.expectedVersion !== undefined && request.expectedVersion !== previousVersion) {
    throw new VersionConflictError(request.accountId, request.expectedVersion, previousVersion, 'Contact policy of');
  }
  return { dryRun: true, previousVersion, policy: { ...(checked.policy as unknown as Record<string, unknown>), version: previousVersion + 1 } };
}

export function printSetContactPolicy(output: Output, accountId: string, result: SetContactPolicyResult): void {
  if (output.json) return output.out(JSON.stringify(result, null, 2));
  const from = result.previousVersion === 0 ? 'none' : `version ${result.previousVersion}`;
  if (result.dryRun) output.out(`dry run: would replace the contact policy of ${accountId} (${from}) with version ${result.policy.version}:\n${JSON.stringify(result.policy, null, 2)}`);
  else output.out(`contact policy of ${accountId}: ${from} → version ${result.policy.version}`);
}

