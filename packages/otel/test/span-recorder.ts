import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Tracer } from '@crm-automation/core';
import { createOtelTracer } from '../src/index.js';

/**
 * One OpenTelemetry SDK (one "process" of a distributed test): a provider exporting finished spans
 * to memory, and the core tracer on it. Separate recorders share no state, so spans of one can
 * only join a trace of another through propagated headers.
 */
export interface SpanRecorder {
  tracer: Tracer;
  spans(): ReadableSpan[];
  named(name: string): ReadableSpan[];
  one(name: string): ReadableSpan;
  shutdown(): Promise<void>;
}

export function spanRecorder(service = 'test'): SpanRecorder {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  return {
    tracer: createOtelTracer({ tracer: provider.getTracer(service) }),
    spans,
    named,
    one(name) {
      const found = named(name);
      if (found.length !== 1) throw new Error(`expected one ${name} span, found ${found.length} among ${spans().map((s) => s.name).join(', ')}`);
      return found[0] as ReadableSpan;
    },
    shutdown: () => provider.shutdown(),
  };
}

export const traceIdOf = (span: ReadableSpan) => span.spanContext().traceId;
export const spanIdOf = (span: ReadableSpan) => span.spanContext().spanId;
export const parentIdOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
export const kindName = (span: ReadableSpan) => SpanKind[span.kind];

/** `[name, kind, parent name]` of each span, ordered by name, for readable assertions of a chain. */
export function chainOf(spans: readonly ReadableSpan[]): Array<[string, string, string | undefined]> {
  const byId = new Map(spans.map((s) => [spanIdOf(s), s]));
  return spans
    .map((s): [string, string, string | undefined] => {
      const parent = parentIdOf(s);
      return [s.name, kindName(s) ?? '?', parent === undefined ? undefined : (byId.get(parent)?.name ?? `remote:${parent}`)];
    })
    .sort((a, b) => a[0].localeCompare(b[0]));
}
