import { TRIGGER_STATUSES, type AutomationEngine, type AutomationEvent, type DeliveryAdmin, type Trigger, type TriggerStatus } from '@crm-automation/core';

/** Runs of one rule in a window, as `GET /rules/:id/stats` answers them. */
export interface RuleRunStats {
  since: Date;
  /** When the newest completed run of the window finished; null when none did. */
  lastFiredAt: Date | null;
  counts: Record<TriggerStatus, number>;
  /** True when more runs happened in the window than were counted. */
  truncated: boolean;
}

/**
 * Where the Rules API's trigger routes read and change triggers. By default the engine's own
 * (`engine.triggers`, `engine.ingest`); a rules service whose triggers live in another service passes a
 * client of that service ({@link triggerServiceClient}). Every method is scoped to `accountId` and
 * answers another account's trigger as missing (null).
 */
export interface TriggerAdministration {
  get: AutomationEngine['triggers']['get'];
  list: AutomationEngine['triggers']['list'];
  cancel: AutomationEngine['triggers']['cancel'];
  retry: AutomationEngine['triggers']['retry'];
  /**
   * Optional: the counts of `GET /rules/:id/stats` computed where the triggers are, in one call.
   * Without it the route pages through `list` itself.
   */
  ruleStats?: ((accountId: string, ruleId: string, options: { since: Date }) => Promise<RuleRunStats>) | undefined;
  /** Optional: the intake of `POST /events`. Without it the route calls `engine.ingest`. */
  ingest?: ((event: AutomationEvent) => Promise<Trigger[]>) | undefined;
  /**
   * Optional: the delivery ledger next to these triggers, for the Rules API's `/deliveries` routes
   * (a trigger service's ledger, through {@link triggerServiceClient}). Without it the routes use
   * `engine.deliveries`.
   */
  deliveries?: DeliveryAdministration | undefined;
}

export const TRIGGER_ADMINISTRATION_METHODS = ['get', 'list', 'cancel', 'retry'] as const;

/**
 * Where the Rules API's delivery routes read the ledger and resolve unknown sends: `engine.deliveries`,
 * or a client of the service that keeps it. Scoped to `accountId` like the trigger methods.
 */
export type DeliveryAdministration = Pick<DeliveryAdmin, 'list' | 'get' | 'ofTrigger' | 'resolve'>;

export const DELIVERY_ADMINISTRATION_METHODS = ['list', 'get', 'ofTrigger', 'resolve'] as const;

/** Pages of 500 read at most for one rule's stats: the window's newest 2,000 runs. */
const STATS_PAGE_SIZE = 500;
const STATS_MAX_PAGES = 4;

/**
 * A rule's runs in the window, counted by status from `list` (newest first), with the time its newest
 * completed run finished. Stops after the newest 2,000 runs and says so (`truncated`).
 */
export async function ruleRunStats(list: TriggerAdministration['list'], accountId: string, ruleId: string, since: Date): Promise<RuleRunStats> {
  const counts = Object.fromEntries(TRIGGER_STATUSES.map((status) => [status, 0])) as Record<TriggerStatus, number>;
  let lastFiredAt: Date | null = null;
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(accountId, { ruleId, from: since, limit: STATS_PAGE_SIZE, cursor });
    for (const trigger of page.items) {
      counts[trigger.status] += 1;
      const fired = trigger.status === 'completed' ? trigger.executionHistory.at(-1)?.at : undefined;
      if (fired && (!lastFiredAt || fired > lastFiredAt)) lastFiredAt = fired;
    }
    cursor = page.nextCursor;
  } while (cursor && ++pages < STATS_MAX_PAGES);
  return { since, lastFiredAt, counts, truncated: cursor !== undefined };
}
