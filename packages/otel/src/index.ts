export { createOtelTracer } from './create-otel-tracer.js';
export type { OtelTracerOptions } from './create-otel-tracer.js';
