/** W3C trace context headers (`traceparent`, `tracestate`), as carried in bus and HTTP headers. */
export type TraceCarrier = Record<string, string>;

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface Span {
  setAttributes(attributes: SpanAttributes): void;
  recordError(error: unknown): void;
  end(): void;
  /** This span's context as headers, to continue the trace in another process. */
  carrier(): TraceCarrier;
}

export interface StartSpanOptions {
  /** The parent: a span of this process, or headers received from another. */
  parent?: Span | TraceCarrier | undefined;
  kind?: 'internal' | 'producer' | 'consumer' | 'client' | 'server' | undefined;
  attributes?: SpanAttributes | undefined;
}

/**
 * Distributed tracing, off by default. `@crm-automation/otel` adapts OpenTelemetry to this port;
 * without a tracer the engine uses {@link noopTracer}, which allocates nothing per call.
 */
export interface Tracer {
  startSpan(name: string, options?: StartSpanOptions): Span;
}

const NO_CARRIER: TraceCarrier = Object.freeze({}) as TraceCarrier;

const noopSpan: Span = {
  setAttributes() {},
  recordError() {},
  end() {},
  carrier: () => NO_CARRIER,
};

export const noopTracer: Tracer = { startSpan: () => noopSpan };

/** True for a carrier that holds a trace context worth storing or sending. */
export function hasTraceContext(carrier: TraceCarrier | undefined): carrier is TraceCarrier {
  return carrier !== undefined && typeof carrier['traceparent'] === 'string';
}
