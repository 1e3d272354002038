import { AutomationError, type DeliveryState, type Logger, type TriggerStatus } from '@crm-automation/core';
import { optionKeys } from '@crm-automation/core/spi';
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

export const RETENTION_OPTION_KEYS = optionKeys<RetentionPolicy>()('completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'mode', 'intervalMs');

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

/**
 * Whose age a delivery in each state is kept by, in the trigger policy's terms: a send that went out as
 * a completed trigger, a send that did not (or bounced) as a failed one, a send an operator gave up as a
 * cancelled one. `intent` and `unknown` are never stamped: they are what stops a send from going out
 * twice (dispatch reads them before a retry, reconciliation and operators settle them), so only a
 * later move can make them expire.
 */
const DELIVERY_AGE_OF: Readonly<Record<DeliveryState, TriggerStatus | undefined>> = {
  intent: undefined,
  unknown: undefined,
  accepted: 'completed',
  delivered: 'completed',
  refused: 'failed',
  undelivered: 'failed',
  bounced: 'failed',
  failed: 'failed',
  abandoned: 'cancelled',
};

/** The `expireAt` stamp for a delivery entering `state` at `at`, or undefined when it is kept. */
export function deliveryExpireAt(retention: ResolvedRetention | undefined, state: DeliveryState, at: Date): Date | undefined {
  const status = DELIVERY_AGE_OF[state];
  return status === undefined ? undefined : expireAtFor(retention, status, at);
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

/** Retention controls of a store with expiring documents (triggers, deliveries). */
export interface MongoRetentionControls {
  /** Deletes the documents whose retention stamp has run out (finished triggers, deliveries); returns how many were removed. */
  purgeExpired(now?: Date): Promise<number>;
  /**
   * Runs `purgeExpired` periodically: needed where the server does not expire documents by itself
   * (`ensureIndexes()` reports `retention: 'periodic'`); harmless where it does.
   */
  startRetention(options?: { intervalMs?: number | undefined; now?: (() => Date) | undefined }): RetentionHandle;
}

/**
 * `purgeExpired` and `startRetention` over one delete (`purge`), plus `stopRetention` for the store's
 * `close()`. `what` names the documents in the logs.
 */
export function retentionControls(purge: (now: Date) => Promise<number>, retention: ResolvedRetention | undefined, logger: Logger, what: string): MongoRetentionControls & { stopRetention(): Promise<void> } {
  const handles = new Set<RetentionHandle>();
  const controls = {
    purgeExpired: (now = new Date()) => purge(now),
    startRetention(options: { intervalMs?: number | undefined; now?: (() => Date) | undefined } = {}): RetentionHandle {
      const now = options.now ?? (() => new Date());
      const intervalMs = options.intervalMs ?? retention?.intervalMs ?? 60_000;
      const handle = startPeriodic(
        intervalMs,
        async () => {
          const removed = await purge(now());
          if (removed > 0) logger.debug({ removed }, `retention purged ${what}`);
        },
        (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'retention purge failed; will retry'),
      );
      handles.add(handle);
      return {
        async stop() {
          handles.delete(handle);
          await handle.stop();
        },
      };
    },
    async stopRetention() {
      await Promise.all([...handles].map((h) => h.stop()));
      handles.clear();
    },
  };
  return controls;
}
