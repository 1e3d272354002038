import { SpanStatusCode, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { AutomationError, noopTracer } from '@crm-automation/core';
import { createOtelTracer } from '../src/index.js';
import { kindName, parentIdOf, spanIdOf, spanRecorder, traceIdOf, type SpanRecorder } from './span-recorder.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe('createOtelTracer', () => {
  let recorder: SpanRecorder;
  afterEach(() => recorder.shutdown());

  it('maps every core span kind to the OpenTelemetry kind, internal by default', () => {
    recorder = spanRecorder();
    for (const kind of ['internal', 'producer', 'consumer', 'client', 'server'] as const) recorder.tracer.startSpan(kind, { kind }).end();
    recorder.tracer.startSpan('default').end();
    expect(recorder.spans().map((s) => [s.name, kindName(s)])).toEqual([
      ['internal', 'INTERNAL'],
      ['producer', 'PRODUCER'],
      ['consumer', 'CONSUMER'],
      ['client', 'CLIENT'],
      ['server', 'SERVER'],
      ['default', 'INTERNAL'],
    ]);
  });

  it('keeps defined attributes and drops the undefined ones the port allows', () => {
    recorder = spanRecorder();
    const span = recorder.tracer.startSpan('s', { attributes: { 'crm.account_id': 'acc_1', 'crm.rule_id': undefined, 'crm.attempt': 2 } });
    span.setAttributes({ 'crm.status': 'completed', 'crm.reason': undefined, 'crm.matched': true });
    span.end();
    expect(recorder.one('s').attributes).toEqual({ 'crm.account_id': 'acc_1', 'crm.attempt': 2, 'crm.status': 'completed', 'crm.matched': true });
  });

  it('records an error as an exception event with status ERROR and the error code', () => {
    recorder = spanRecorder();
    const span = recorder.tracer.startSpan('fails');
    span.recordError(new AutomationError('CRM_ERR_NO_GATEWAY', 'no gateway for sms'));
    span.end();
    const other = recorder.tracer.startSpan('throws a string');
    other.recordError('plain text');
    other.end();
    const failed = recorder.one('fails');
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no gateway for sms' });
    expect(failed.attributes['crm.error_code']).toBe('CRM_ERR_NO_GATEWAY');
    expect(failed.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'no gateway for sms']]);
    expect(recorder.one('throws a string').status).toEqual({ code: SpanStatusCode.ERROR, message: 'plain text' });
  });

  it("gives a span's context as a W3C traceparent, and continues a trace from one", () => {
    recorder = spanRecorder();
    const parent = recorder.tracer.startSpan('parent');
    const carrier = parent.carrier();
    const [, traceId, spanId] = TRACEPARENT.exec(carrier['traceparent'] ?? '') ?? [];
    parent.end();
    recorder.tracer.startSpan('child of headers', { parent: { ...carrier } }).end();
    recorder.tracer.startSpan('child of span', { parent }).end();
    const exported = recorder.one('parent');
    expect([traceId, spanId]).toEqual([traceIdOf(exported), spanIdOf(exported)]);
    for (const name of ['child of headers', 'child of span']) {
      const child = recorder.one(name);
      expect(traceIdOf(child)).toBe(traceId);
      expect(parentIdOf(child)).toBe(spanId);
    }
  });

  it('starts a new trace for headers without a trace context, or a span of another tracer that has none', () => {
    recorder = spanRecorder();
    recorder.tracer.startSpan('no headers', { parent: {} }).end();
    recorder.tracer.startSpan('noop parent', { parent: noopTracer.startSpan('x') }).end();
    recorder.tracer.startSpan('garbage', { parent: { traceparent: 'not-a-trace' } }).end();
    for (const span of recorder.spans()) expect(span.parentSpanContext).toBeUndefined();
    expect(new Set(recorder.spans().map(traceIdOf)).size).toBe(3);
  });

  it('uses the propagator it is given, both ways', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const w3c = new W3CTraceContextPropagator();
    const calls: string[] = [];
    const propagator: Pick<TextMapPropagator, 'inject' | 'extract'> = {
      inject: (context, carrier, setter) => {
        calls.push('inject');
        w3c.inject(context, carrier, setter);
        setter?.set(carrier, 'x-custom', 'yes');
      },
      extract: (context, carrier, getter) => {
        calls.push('extract');
        return w3c.extract(context, carrier, getter);
      },
    };
    const tracer = createOtelTracer({ tracer: provider.getTracer('t'), propagator });
    const span = tracer.startSpan('a');
    expect(span.carrier()['x-custom']).toBe('yes');
    tracer.startSpan('b', { parent: span.carrier() }).end();
    span.end();
    expect(calls).toEqual(['inject', 'extract']);
    recorder = spanRecorder();
  });

  it('works on the global API with no SDK registered: non-recording spans, nothing exported', () => {
    recorder = spanRecorder();
    const span = createOtelTracer().startSpan('off');
    span.recordError(new Error('x'));
    span.end();
    expect(recorder.spans()).toEqual([]);
  });
});
