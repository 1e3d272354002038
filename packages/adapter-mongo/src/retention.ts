import { AutomationError, type TriggerStatus } from '@crm-automation/core';
import type { ExpiryMode } from './indexes.js';

/**
 * How long finished triggers are kept. A trigger gets an `expireAt` stamp when it reaches a status the
 * policy covers (`updatedAt + age`); a TTL index removes it where the server runs a TTL monitor (MongoDB),
 * else `purgeExpired()` / `startRetention()` does. Changing the policy affects triggers finished later.
 */
export interface RetentionPolicy {
  /** Keep completed triggers this long. Default 7 days. */
  completedMs?: number | undefined;
  /** Keep skipped triggers (conditions not met, rule disabled or deleted) this long. Default 7 days. */
  skippedMs?: number | undefined;
  /** Keep failed triggers this long. Default: kept until deleted by hand (they may need a retry). */
  failedMs?: number | undefined;
  /** Keep cancelled triggers this long. Default: kept. */
  cancelledMs?: number | undefined;
  /**
   * `auto` (default) uses a TTL index when the server runs a TTL monitor and the periodic delete
   * otherwise (a server that accepts TTL indexes but never expires, like the in-memory test server);
   * `ttl` fails at `ensureIndexes()` when the server would not expire; `periodic` never creates a TTL index.
   */
  mode?: 'auto' | ExpiryMode | undefined;
  /** Period of `startRetention()`'s delete. Default 60 s. */
  intervalMs?: number | undefined;
}

export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

export interface ResolvedRetention {
  ages: Partial<Record<TriggerStatus, number>>;
  mode: 'auto' | ExpiryMode;
  intervalMs: number;
}

function age(name: string, value: number | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new AutomationError('CRM_ERR_CONFIG', `retention.${name} must be a non-negative number of milliseconds`);
  return value;
}

export function resolveRetention(policy: RetentionPolicy | false | undefined): ResolvedRetention | undefined {
  if (!policy) return undefined;
  const ages: Partial<Record<TriggerStatus, number>> = {};
  const set = (status: TriggerStatus, ms: number | undefined) => {
    if (ms !== undefined) ages[status] = ms;
  };
  set('completed', age('completedMs', policy.completedMs, DEFAULT_RETENTION_MS));
  set('skipped', age('skippedMs', policy.skippedMs, DEFAULT_RETENTION_MS));
  set('failed', age('failedMs', policy.failedMs, undefined));
  set('cancelled', age('cancelledMs', policy.cancelledMs, undefined));
  const intervalMs = policy.intervalMs ?? 60_000;
  if (!Number.isInteger(intervalMs) || intervalMs <= 0) throw new AutomationError('CRM_ERR_CONFIG', 'retention.intervalMs must be a positive integer');
  return { ages, mode: policy.mode ?? 'auto', intervalMs };
}

/** The `expireAt` stamp for a trigger entering `status` at `now`, or undefined when it is kept. */
export function expireAtFor(retention: ResolvedRetention | undefined, status: TriggerStatus, now: Date): Date | undefined {
  const ms = retention?.ages[status];
  return ms === undefined ? undefined : new Date(now.getTime() + ms);
}

/** A running periodic delete; `stop()` resolves once a delete in progress has finished. */
export interface RetentionHandle {
  stop(): Promise<void>;
}

/** Runs `purge` every `intervalMs` (not overlapping itself); errors go to `onError` and it keeps going. */
export function startPeriodic(intervalMs: number, purge: () => Promise<unknown>, onError: (error: unknown) => void): RetentionHandle {
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = purge()
      .then(() => undefined, onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref?.();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
