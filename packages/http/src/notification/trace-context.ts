import type { IncomingHttpHeaders } from 'node:http';

/** Upper bounds well above what W3C trace context allows, so junk is not carried further. */
const MAX_TRACEPARENT = 128;
const MAX_TRACESTATE = 1024;

function single(value: string | string[] | undefined, max: number): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === 'string' && text.length > 0 && text.length <= max ? text : undefined;
}

/**
 * The W3C trace context a request arrived with (`traceparent`, `tracestate`), as the `trace` of the
 * command handed to the gateway, so a gateway wrapped with `withTracing` continues the caller's
 * trace. Undefined when the request carries none. The tracer's propagator validates the values.
 */
export function traceFromHeaders(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const traceparent = single(headers['traceparent'], MAX_TRACEPARENT);
  if (traceparent === undefined) return undefined;
  const tracestate = single(headers['tracestate'], MAX_TRACESTATE);
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}
