import { type DeliveryState, type TriggerStatus } from '@crm-automation/core';
import { DELIVERY_STATES } from '@crm-automation/core';
import { deliveryRetentionStatus, resolveRetentionAges, type RetentionAges, type ResolvedRetentionAges } from '@crm-automation/core/spi';

export { DEFAULT_RETENTION_MS, retentionControls, startPeriodic, type RetentionControls, type RetentionHandle } from '@crm-automation/core/spi';

/**
 * How long finished triggers are kept, by status, measured from their last update. PostgreSQL has no
 * TTL: `purgeExpired()` (or `startRetention()`, which runs it periodically) deletes what the policy no
 * longer keeps. The policy is applied when the purge runs, so a changed policy covers every trigger.
 */
export type RetentionPolicy = RetentionAges;

export const RETENTION_OPTION_KEYS = ['completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'intervalMs'] as const;

export type ResolvedRetention = ResolvedRetentionAges;

/** The policy with its defaults; `undefined` when retention is off (`false` or not given). */
export function resolveRetention(policy: RetentionPolicy | false | undefined): ResolvedRetention | undefined {
  return policy ? resolveRetentionAges(policy) : undefined;
}

/** Groups keys by the age the policy keeps them, so that one delete covers those kept equally long. */
function byAge<K>(entries: Iterable<[K, number | undefined]>): Array<{ keys: K[]; ageMs: number }> {
  const groups = new Map<number, K[]>();
  for (const [key, ms] of entries) {
    if (ms === undefined) continue;
    const group = groups.get(ms);
    if (group) group.push(key);
    else groups.set(ms, [key]);
  }
  return [...groups].map(([ageMs, keys]) => ({ keys, ageMs }));
}

/** Statuses grouped by their age, so that one delete covers statuses kept equally long. */
export function purgeGroups(retention: ResolvedRetention): Array<{ statuses: TriggerStatus[]; ageMs: number }> {
  return byAge(Object.entries(retention.ages) as Array<[TriggerStatus, number]>).map(({ keys, ageMs }) => ({ statuses: keys, ageMs }));
}

/**
 * Delivery states grouped by the age the policy keeps them (the trigger status each corresponds to:
 * core's `deliveryRetentionStatus`); `intent` and `unknown` are never purged.
 */
export function deliveryPurgeGroups(retention: ResolvedRetention): Array<{ states: DeliveryState[]; ageMs: number }> {
  return byAge(DELIVERY_STATES.map((state): [DeliveryState, number | undefined] => {
    const status = deliveryRetentionStatus(state);
    return [state, status === undefined ? undefined : retention.ages[status]];
  })).map(({ keys, ageMs }) => ({ states: keys, ageMs }));
}
