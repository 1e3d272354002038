import { expect } from 'vitest';
import { isAutomationError } from '@crm-automation/core';
import type { RetentionAges } from '@crm-automation/core/spi';

/**
 * Checks an adapter's `resolveRetention`: off unless given (`undefined`, `false`), completed and
 * skipped triggers kept `defaultMs` by default and nothing else purged, negative ages and bad intervals
 * refused with `CRM_ERR_CONFIG`. Answers the default policy, for the adapter's own checks of it.
 */
export function expectRetentionResolution<R extends { ages: object }>(resolve: (policy: RetentionAges | false | undefined) => R | undefined, defaultMs: number): R {
  expect(resolve(undefined)).toBeUndefined();
  expect(resolve(false)).toBeUndefined();
  for (const bad of [{ completedMs: -1 }, { skippedMs: Number.NaN }, { intervalMs: 0 }, { intervalMs: 1.5 }]) {
    let error: unknown;
    try {
      resolve(bad);
    } catch (caught) {
      error = caught;
    }
    expect(isAutomationError(error) && error.code, JSON.stringify(bad)).toBe('CRM_ERR_CONFIG');
  }
  const policy = resolve({});
  if (!policy) throw new Error('resolveRetention({}) answered no policy');
  expect(policy.ages).toEqual({ completed: defaultMs, skipped: defaultMs });
  return policy;
}
