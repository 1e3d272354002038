import { AutomationError, type DeliveryState, type Logger, type TriggerStatus } from '@crm-automation/core';

/**
 * How long finished triggers are kept, by status, measured from their last update. PostgreSQL has no
 * TTL: `purgeExpired()` (or `startRetention()`, which runs it periodically) deletes what the policy no
 * longer keeps. The policy is applied when the purge runs, so a changed policy covers every trigger.
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
  /** Period of `startRetention()`'s purge. Default 60 s. */
  intervalMs?: number | undefined;
}

export const RETENTION_OPTION_KEYS = ['completedMs', 'skippedMs', 'failedMs', 'cancelledMs', 'intervalMs'] as const;

export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

export interface ResolvedRetention {
  ages: Partial<Record<TriggerStatus, number>>;
  intervalMs: number;
}

function age(name: string, value: number | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new AutomationError('CRM_ERR_CONFIG', `retention.${name} must be a non-negative number of milliseconds`);
  return value;
}

/** The policy with its defaults; `undefined` when retention is off (`false` or not given). */
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
  return { ages, intervalMs };
}

/** Statuses grouped by their age, so that one delete covers statuses kept equally long. */
export function purgeGroups(retention: ResolvedRetention): Array<{ statuses: TriggerStatus[]; ageMs: number }> {
  const byAge = new Map<number, TriggerStatus[]>();
  for (const [status, ms] of Object.entries(retention.ages) as Array<[TriggerStatus, number]>) {
    const group = byAge.get(ms);
    if (group) group.push(status);
    else byAge.set(ms, [status]);
  }
  return [...byAge].map(([ageMs, statuses]) => ({ statuses, ageMs }));
}

/**
 * Whose age a delivery in each state is kept by, in the trigger policy's terms: a send that went out as
 * a completed trigger, a send that did not (or bounced) as a failed one, a send an operator gave up as
 * a cancelled one. `intent` and `unknown` are never purged: they are what stops a send from going out
 * twice (dispatch reads them before a retry; reconciliation and operators settle them). The same
 * mapping as the MongoDB adapter's.
 */
const DELIVERY_AGE_OF: Readonly<Record<Exclude<DeliveryState, 'intent' | 'unknown'>, TriggerStatus>> = {
  accepted: 'completed',
  delivered: 'completed',
  refused: 'failed',
  undelivered: 'failed',
  bounced: 'failed',
  failed: 'failed',
  abandoned: 'cancelled',
};

/** Delivery states grouped by the age the policy keeps them, so that one delete covers states kept equally long. */
export function deliveryPurgeGroups(retention: ResolvedRetention): Array<{ states: DeliveryState[]; ageMs: number }> {
  const byAge = new Map<number, DeliveryState[]>();
  for (const [state, status] of Object.entries(DELIVERY_AGE_OF) as Array<[DeliveryState, TriggerStatus]>) {
    const ms = retention.ages[status];
    if (ms === undefined) continue;
    const group = byAge.get(ms);
    if (group) group.push(state);
    else byAge.set(ms, [state]);
  }
  return [...byAge].map(([ageMs, states]) => ({ states, ageMs }));
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
  /** Deletes what the retention policy no longer keeps (nothing without a policy); returns how many rows. */
  purgeExpired(now?: Date): Promise<number>;
  /** Runs `purgeExpired` periodically (default every `retention.intervalMs`, else 60 s), in this process. */
  startRetention(options?: { intervalMs?: number | undefined; now?: (() => Date) | undefined }): RetentionHandle;
}

/**
 * `purgeExpired` and `startRetention` over one purge, plus `stopRetention` for the store's `close()`.
 * `what` names the rows in the logs.
 */
export function retentionControls(purge: (now: Date) => Promise<number>, retention: ResolvedRetention | undefined, logger: Logger, what: string): RetentionControls & { stopRetention(): Promise<void> } {
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
