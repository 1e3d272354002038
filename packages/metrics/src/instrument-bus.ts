import type { EventBus } from '@crm-automation/core';
import { metricsFor, type AutomationMetrics, type MetricsOptions } from './registry.js';

/**
 * Reports a bus's backlog (queue depth / consumer lag) and dead letters at scrape time, from
 * `bus.stats()`. A bus without `stats` reports nothing; a failing `stats` keeps the last values and
 * counts consecutive failures in `crm_bus_stats_failures`.
 */
export function instrumentBus(bus: EventBus, options: MetricsOptions & { metrics?: AutomationMetrics | undefined; name?: string | undefined } = {}): AutomationMetrics {
  const m = metricsFor('instrumentBus', options, ['name']);
  const name = options.name ?? 'events';
  let consecutive = 0;
  m.scrapeHooks.push(async () => {
    if (!bus.stats) return;
    try {
      const stats = await bus.stats();
      for (const entry of stats.backlog) m.busBacklog.set({ bus: name, name: entry.name }, entry.messages);
      m.busDeadLetters.set({ bus: name }, stats.deadLetters);
      consecutive = 0;
    } catch {
      consecutive += 1;
    }
    m.busStatsFailures.set({ bus: name }, consecutive);
  });
  return m;
}
