import { AutomationError } from '../errors.js';
import type { DeliveryState } from '../ports/delivery-ledger.js';
import type { Logger } from '../ports/logger.js';
import type { TriggerStatus } from '../scheduling/trigger.js';

/**
 * How long a store keeps finished triggers, by status, measured from their last update; deliveries
 * are kept by the status their state corresponds to ({@link deliveryRetentionStatus}). Store adapters
 * extend it with what their backend adds (a TTL mode).
 */
export interface RetentionAges {
  /** Keep completed triggers this long. Default 7 days. */
  completedMs?: number | undefined;
  /** Keep skipped triggers (conditions not met, rule disabled or deleted, superseded) this long. Default 7 days. */
  skippedMs?: number | undefined;
  /** Keep failed triggers this long. Default: kept until deleted by hand (they may need a retry). */
  failedMs?: number | undefined;
  /** Keep cancelled triggers this long. Default: kept. */
  cancelledMs?: number | undefined;
  /** Period of `startRetention()`'s purge. Default 60 s. */
  intervalMs?: number | undefined;
}

export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

export interface ResolvedRetentionAges {
  ages: Partial<Record<TriggerStatus, number>>;
  intervalMs: number;
}

function age(name: string, value: number | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new AutomationError('CRM_ERR_CONFIG', `retention.${name} must be a non-negative number of milliseconds`);
  return value;
}

/** The ages with their defaults (`CRM_ERR_CONFIG` for a negative or non-numeric one). */
export function resolveRetentionAges(policy: RetentionAges): ResolvedRetentionAges {
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
  return { ages, intervalMs };
}

/**
 * Whose age a delivery in each state is kept by, in the trigger policy's terms: a send that went out as
 * a completed trigger, a send that did not (or bounced) as a failed one, a send an operator gave up as a
 * cancelled one. `intent` and `unknown` are never expired: they are what stops a send from going out
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

/** The trigger status whose age a delivery in `state` is kept by; undefined for states never expired. */
export function deliveryRetentionStatus(state: DeliveryState): TriggerStatus | undefined {
  return DELIVERY_AGE_OF[state];
}

/** A running periodic purge; `stop()` resolves once a purge in progress has finished. */
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

/** What a store with retention has: the purge, and the purge run periodically in this process. */
export interface RetentionControls {
  /** Deletes what the retention policy no longer keeps (nothing without a policy); returns how many were removed. */
  purgeExpired(now?: Date): Promise<number>;
  /** Runs `purgeExpired` periodically (default every `retention.intervalMs`, else 60 s), in this process. */
  startRetention(options?: { intervalMs?: number | undefined; now?: (() => Date) | undefined }): RetentionHandle;
}

/**
 * `purgeExpired` and `startRetention` over one purge, plus `stopRetention` for the store's `close()`.
 * `what` names the purged records in the logs.
 */
export function retentionControls(purge: (now: Date) => Promise<number>, retention: { intervalMs: number } | undefined, logger: Logger, what: string): RetentionControls & { stopRetention(): Promise<void> } {
  const handles = new Set<RetentionHandle>();
  return {
    purgeExpired: (now = new Date()) => purge(now),
    startRetention(options = {}) {
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
}
