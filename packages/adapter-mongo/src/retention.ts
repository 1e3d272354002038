import { type DeliveryState, type TriggerStatus } from '@crm-automation/core';
import { deliveryRetentionStatus, optionKeys, resolveRetentionAges, retentionControls as controlsOver, type RetentionAges, type RetentionControls } from '@crm-automation/core/spi';
import type { Logger } from '@crm-automation/core';
import type { ExpiryMode } from './indexes.js';

export { DEFAULT_RETENTION_MS, startPeriodic, type RetentionHandle } from '@crm-automation/core/spi';

/**
 * How long finished triggers are kept. A trigger gets an `expireAt` stamp when it reaches a status the
 * policy covers (`updatedAt + age`); a TTL index removes it where the server runs a TTL monitor (MongoDB),
 * else `purgeExpired()` / `startRetention()` does. Changing the policy affects triggers finished later.
 */
export interface RetentionPolicy extends RetentionAges {
  /**
   * `auto` (default) uses a TTL index when the server runs a TTL monitor and the periodic delete
   * otherwise (a server that accepts TTL indexes but never expires, like the in-memory test server);
   * `ttl` fails at `ensureIndexes()` when the server would not expire; `periodic` never creates a TTL index.
   */
  mode?: 'auto' | ExpiryMode | undefined;
}

export const RETENTION_OPTION_KEYS = optionKeys<RetentionPolicy>()('completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'mode', 'intervalMs');

export interface ResolvedRetention {
  ages: Partial<Record<TriggerStatus, number>>;
  mode: 'auto' | ExpiryMode;
  intervalMs: number;
}

export function resolveRetention(policy: RetentionPolicy | false | undefined): ResolvedRetention | undefined {
  if (!policy) return undefined;
  return { ...resolveRetentionAges(policy), mode: policy.mode ?? 'auto' };
}

/** The `expireAt` stamp for a trigger entering `status` at `now`, or undefined when it is kept. */
export function expireAtFor(retention: ResolvedRetention | undefined, status: TriggerStatus, now: Date): Date | undefined {
  const ms = retention?.ages[status];
  return ms === undefined ? undefined : new Date(now.getTime() + ms);
}

/** The `expireAt` stamp for a delivery entering `state` at `at`, or undefined when it is kept. */
export function deliveryExpireAt(retention: ResolvedRetention | undefined, state: DeliveryState, at: Date): Date | undefined {
  const status = deliveryRetentionStatus(state);
  return status === undefined ? undefined : expireAtFor(retention, status, at);
}

/** Retention controls of a store with expiring documents (triggers, deliveries). */
export interface MongoRetentionControls extends RetentionControls {
  /** Deletes the documents whose retention stamp has run out (finished triggers, deliveries); returns how many were removed. */
  purgeExpired(now?: Date): Promise<number>;
}

/**
 * `purgeExpired` and `startRetention` over one delete (`purge`), plus `stopRetention` for the store's
 * `close()`. `what` names the documents in the logs.
 */
export function retentionControls(purge: (now: Date) => Promise<number>, retention: ResolvedRetention | undefined, logger: Logger, what: string): MongoRetentionControls & { stopRetention(): Promise<void> } {
  return controlsOver(purge, retention, logger, what);
}
