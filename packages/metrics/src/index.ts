export { createAutomationMetrics } from './registry.js';
export type { AutomationMetrics, MetricsOptions } from './registry.js';
export { instrumentEngine } from './instrument-engine.js';
export type { EngineInstrumentation } from './instrument-engine.js';
export { instrumentBus } from './instrument-bus.js';
export { httpMetrics } from './http-metrics.js';
export type { HttpMetricsOptions } from './http-metrics.js';
export { instrumentGateway } from './instrument-gateway.js';
