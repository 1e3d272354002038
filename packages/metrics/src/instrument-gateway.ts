import type { ChannelGateway } from '@crm-automation/core';
import { metricsFor, type AutomationMetrics, type MetricsOptions } from './registry.js';

/**
 * Wraps a gateway so each send is timed and each failure counted by provider, for services that call
 * gateways themselves (a Notification Service). Engines report the same series via `instrumentEngine`.
 */
export function instrumentGateway<G extends ChannelGateway<any>>(
  gateway: G,
  options: MetricsOptions & { metrics?: AutomationMetrics | undefined; provider?: string | undefined } = {},
): G {
  const m = metricsFor('instrumentGateway', options, ['provider']);
  const provider = options.provider ?? gateway.name ?? 'gateway';
  const wrapped: ChannelGateway<any> = {
    ...gateway,
    async send(command) {
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const result = await gateway.send(command);
        m.gatewayDuration.observe({ provider, type: command.type, outcome: 'sent' }, seconds());
        return result;
      } catch (error) {
        m.gatewayDuration.observe({ provider, type: command.type, outcome: 'failed' }, seconds());
        m.gatewayErrors.inc({ provider, type: command.type, retryable: String((error as { retryable?: unknown } | null)?.retryable === true) });
        throw error;
      }
    },
  };
  return wrapped as G;
}
