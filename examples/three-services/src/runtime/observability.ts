import type { Tracer } from '@crm-automation/core';
import { createAutomationMetrics, type AutomationMetrics } from '@crm-automation/metrics';
import { createOtelTracer } from '@crm-automation/otel';

export interface Observability {
  service: string;
  /** Prometheus metrics of this process, served at `/metrics` by `createHttpServer`. */
  metrics: AutomationMetrics;
  /**
   * OpenTelemetry tracing when `OTEL_TRACING=on`: spans go to whatever OpenTelemetry SDK the process
   * registered (e.g. `NODE_OPTIONS=--import ./otel-setup.mjs`); off by default, and free when off.
   */
  tracer: Tracer | undefined;
}

export function createObservability(service: string): Observability {
  return {
    service,
    metrics: createAutomationMetrics({ defaultLabels: { service } }),
    tracer: process.env['OTEL_TRACING'] === 'on' ? createOtelTracer() : undefined,
  };
}
