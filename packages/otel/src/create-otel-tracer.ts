import {
  context as otelContext,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span as OtelSpan,
  type TextMapPropagator,
  type Tracer as OtelTracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AutomationError, checkOptions, optionKeys, type Span, type SpanAttributes, type StartSpanOptions, type TraceCarrier, type Tracer } from '@crm-automation/core';

/** Options of {@link createOtelTracer}. */
export interface OtelTracerOptions {
  /** The OpenTelemetry tracer spans are started on. Default: `trace.getTracer('@crm-automation/core')` of the global provider. */
  tracer?: OtelTracer | undefined;
  /**
   * How trace context is written to and read from bus and HTTP headers. Default: a
   * `W3CTraceContextPropagator` (`traceparent`, `tracestate`). Pass `propagation` from
   * `@opentelemetry/api` to use the globally registered propagator (baggage, B3, ...).
   */
  propagator?: Pick<TextMapPropagator, 'inject' | 'extract'> | undefined;
}

const OTEL_TRACER_OPTION_KEYS = optionKeys<OtelTracerOptions>()('tracer', 'propagator');

const KINDS: Record<NonNullable<StartSpanOptions['kind']>, SpanKind> = {
  internal: SpanKind.INTERNAL,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  client: SpanKind.CLIENT,
  server: SpanKind.SERVER,
};

/** OpenTelemetry attributes without the undefined values the core port allows. */
function toAttributes(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (!attributes) return out;
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Adapts one OpenTelemetry span to the core `Span`; keeps the OTel span for children of this process. */
class OtelSpanAdapter implements Span {
  private injected: TraceCarrier | undefined;

  constructor(
    readonly span: OtelSpan,
    private readonly propagator: Pick<TextMapPropagator, 'inject'>,
  ) {}

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(toAttributes(attributes));
  }

  recordError(error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof Error) this.span.recordException(error);
    else this.span.recordException(errorMessage(error));
    if (typeof code === 'string') this.span.setAttribute('crm.error_code', code);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  }

  end(): void {
    this.span.end();
  }

  carrier(): TraceCarrier {
    if (!this.injected) {
      const carrier: TraceCarrier = {};
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), carrier, defaultTextMapSetter);
      this.injected = carrier;
    }
    return this.injected;
  }
}

/**
 * The core `Tracer` port on OpenTelemetry: engine spans (`crm.event.publish`, `crm.intake`,
 * `crm.trigger.process`, `crm.action.send`, `crm.gateway.<name>`) become OTel spans with their
 * kinds, errors are recorded as exceptions with status ERROR, and trace context crosses processes
 * as W3C `traceparent` / `tracestate` headers (bus message headers, HTTP headers, the `trace` stored
 * on a trigger). A span with no parent continues the active OTel context, so `engine.publish()`
 * called inside an instrumented request joins that request's trace.
 *
 * Tracing stays off unless you pass the result as the engine's `tracer`; with no OTel SDK
 * registered, the OTel API hands out non-recording spans.
 *
 * @example
 * const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
 * provider.register();
 * const engine = createAutomationEngine({ store, bus, channels, tracer: createOtelTracer() });
 */
export function createOtelTracer(options: OtelTracerOptions = {}): Tracer {
  checkOptions('createOtelTracer', options, OTEL_TRACER_OPTION_KEYS);
  if (options.tracer !== undefined && typeof (options.tracer as Partial<OtelTracer> | null)?.startSpan !== 'function') {
    throw new AutomationError('CRM_ERR_CONFIG', 'createOtelTracer: tracer must be an OpenTelemetry tracer (trace.getTracer(...))');
  }
  const given = options.propagator as Partial<TextMapPropagator> | null | undefined;
  if (given !== undefined && (typeof given?.inject !== 'function' || typeof given.extract !== 'function')) {
    throw new AutomationError('CRM_ERR_CONFIG', 'createOtelTracer: propagator must have inject and extract (e.g. propagation from @opentelemetry/api)');
  }
  const tracer = options.tracer ?? trace.getTracer('@crm-automation/core');
  const propagator = options.propagator ?? new W3CTraceContextPropagator();

  const parentContext = (parent: StartSpanOptions['parent']): Context => {
    if (parent instanceof OtelSpanAdapter) return trace.setSpan(otelContext.active(), parent.span);
    if (parent === undefined) return otelContext.active();
    if (typeof (parent as Partial<Span>).carrier === 'function') {
      // A span of another tracer: continue from what it would send to another process.
      return propagator.extract(ROOT_CONTEXT, (parent as Span).carrier(), defaultTextMapGetter);
    }
    // Headers from another process: they name the parent, so the local active context does not.
    return propagator.extract(ROOT_CONTEXT, parent as TraceCarrier, defaultTextMapGetter);
  };

  return {
    startSpan(name: string, spanOptions: StartSpanOptions = {}): Span {
      const span = tracer.startSpan(
        name,
        { kind: KINDS[spanOptions.kind ?? 'internal'], attributes: toAttributes(spanOptions.attributes) },
        parentContext(spanOptions.parent),
      );
      return new OtelSpanAdapter(span, propagator);
    },
  };
}
