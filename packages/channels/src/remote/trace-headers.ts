/** Header names a trace carrier may set: lowercase tokens, never one the gateway sets itself. */
const TRACE_HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const RESERVED = new Set(['authorization', 'content-type', 'accept', 'idempotency-key', 'host', 'content-length', 'connection', 'transfer-encoding']);
/** Header values: visible ASCII and spaces only (no CR/LF injection), bounded. */
const TRACE_HEADER_VALUE = /^[\x20-\x7e]{1,1024}$/;

/**
 * The command's trace context (`traceparent`, `tracestate`, ...) as request headers, so the
 * receiving service continues the sender's trace. Entries that are not plain header material, or
 * that would override the request's own headers, are dropped rather than sent.
 */
export function traceHeadersOf(trace: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!trace) return headers;
  for (const [name, value] of Object.entries(trace)) {
    const key = name.toLowerCase();
    if (TRACE_HEADER_NAME.test(key) && !RESERVED.has(key) && typeof value === 'string' && TRACE_HEADER_VALUE.test(value)) headers[key] = value;
  }
  return headers;
}
