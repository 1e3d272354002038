import { z } from 'zod';
import { checkWebhookUrl } from '../rules/webhook-url.js';
import { hasLineBreak } from './contact-points.js';
import { boundedJson, issue, singleLine, singleLineTemplate, templateString } from './fields.js';
import { HEADER_NAME_PATTERN, isHeaderValue, isReservedWebhookHeader } from './webhook-headers.js';

export const WEBHOOK_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'] as const;
export const MAX_WEBHOOK_URL_LENGTH = 2_048;
export const MAX_HEADER_VALUE_LENGTH = 4_096;
/** Most headers a webhook action may set. */
export const MAX_WEBHOOK_HEADERS = 50;
/**
 * Most characters of a webhook action's headers together (names and values). Receivers refuse
 * larger header blocks (Node's HTTP server at 16 KiB, proxies often at 8 KiB per buffer) with a 431
 * on every send; this leaves room for the gateway's own headers.
 */
export const MAX_WEBHOOK_HEADER_BYTES = 8_192;

const headerName = z
  .string()
  .regex(HEADER_NAME_PATTERN, 'invalid header name')
  .refine((h) => !isReservedWebhookHeader(h), { message: 'this header is set by the gateway', params: { code: 'reserved_header' } });

const HEADER_VALUE_MESSAGE = 'header values may hold tab, printable ASCII and Latin-1 characters only (no control characters, DEL or characters past U+00FF)';

// A line break is reported once, as header_injection, by the single-line check.
const headerValueProblem = (text: string, ctx: z.RefinementCtx) => {
  if (!hasLineBreak(text) && !isHeaderValue(text)) ctx.addIssue(issue('invalid_header_value', HEADER_VALUE_MESSAGE));
};

/** The text of a template outside its `{{...}}` expressions, found in one pass. */
function literalText(source: string): string {
  let out = '';
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open < 0) return out + source.slice(at);
    out += source.slice(at, open);
    const close = source.indexOf('}}', open + 2);
    if (close < 0) return out;
    at = close + 2;
  }
  return out;
}

/** A rule's header value: its literal text (outside `{{...}}`) is what every send carries. */
const headerValueTemplate = singleLineTemplate(MAX_HEADER_VALUE_LENGTH).superRefine((value, ctx) => headerValueProblem(literalText(value), ctx));
/** A rendered header value, values from the event included. */
const renderedHeaderValue = singleLine(MAX_HEADER_VALUE_LENGTH).superRefine(headerValueProblem);

/**
 * Headers as a record. zod's record skips an own `__proto__` key (JSON.parse makes one) without a
 * word, so it is refused here first: the rule would otherwise be saved with a header no send carries,
 * and a Notification Service request would hand it to the HTTP client, which refuses it. The JSON
 * Schema stays the record's.
 */
const headerRecord = (value: z.ZodType<string>, literalSize: (value: string) => number) => {
  const record = z.record(headerName, value);
  const json = { ...(z.toJSONSchema(record, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>) };
  delete json['$schema'];
  return z
    .unknown()
    .superRefine((headers, ctx) => {
      if (typeof headers !== 'object' || headers === null) return;
      if (Object.prototype.hasOwnProperty.call(headers, '__proto__')) {
        ctx.addIssue(issue('invalid_format', '"__proto__" cannot be a header name', ['__proto__']));
      }
      const entries = Object.entries(headers);
      if (entries.length > MAX_WEBHOOK_HEADERS) {
        ctx.addIssue(issue('too_many_headers', `at most ${MAX_WEBHOOK_HEADERS} headers`));
        return;
      }
      let size = 0;
      for (const [name, value] of entries) size += name.length + (typeof value === 'string' ? literalSize(value) : 0);
      if (size > MAX_WEBHOOK_HEADER_BYTES) {
        ctx.addIssue(issue('too_many_headers', `headers together must be at most ${MAX_WEBHOOK_HEADER_BYTES} characters (names and values)`));
      }
    })
    .pipe(record)
    .meta(json);
};

// In a rule only the literal text is known; a rendered command is measured whole.
const ruleHeaders = headerRecord(headerValueTemplate, (value) => literalText(value).length);

/** Most items of one array in a webhook payload (each is a template to check and render). */
export const MAX_WEBHOOK_PAYLOAD_ITEMS = 1_000;

/** What a payload value is, for a message about one that JSON cannot hold. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object' && value !== null) return `an object of class ${Object.getPrototypeOf(value)?.constructor?.name ?? 'null'}`;
  return `a ${typeof value}`;
}

const isPayloadShape = (value: unknown): boolean =>
  typeof value === 'string' || typeof value === 'boolean' || value === null || (typeof value === 'number' && Number.isFinite(value)) || Array.isArray(value) || (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype);

/**
 * The union's last member: names a value no other member takes (`NaN`, `undefined` in process) at its
 * own path. zod reports a union whose members all fail their type check as `invalid_union`
 * ("Invalid input") at the outermost union, so without it one bad item hides where it is. For a value
 * another member takes, it fails silently (an aborted issue zod's union ignores). Matches nothing in
 * the JSON Schema.
 */
const notJsonValue = z
  .unknown()
  .superRefine((value, ctx) => {
    if (isPayloadShape(value)) ctx.addIssue({ code: 'custom', message: 'not this member', continue: false });
    else ctx.addIssue(issue('invalid_type', `payload values are JSON: a string, a finite number, true, false, null, an array or an object; got ${describeValue(value)}`));
  })
  .meta({ not: {} });

// zod's own `.max` on an array aborts the union, which then answers `invalid_union` without the limit.
const payloadArray = z.array(z.lazy(() => jsonTemplateValue)).superRefine((items, ctx) => {
  if (items.length > MAX_WEBHOOK_PAYLOAD_ITEMS) ctx.addIssue(issue('too_big', `a payload array may hold at most ${MAX_WEBHOOK_PAYLOAD_ITEMS} items; this one has ${items.length}`));
});

const jsonTemplateValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([templateString(), z.number(), z.boolean(), z.null(), payloadArray.meta({ maxItems: MAX_WEBHOOK_PAYLOAD_ITEMS }), z.record(z.string(), jsonTemplateValue), notJsonValue]),
);

export interface WebhookRuleParamsOptions {
  /**
   * Save-time check of the literal destination (SSRF): a refusal message or null. The webhook gateway
   * passes its own address policy's check, so the policy is configured once, on the gateway.
   */
  checkUrl?: ((url: URL) => string | null) | undefined;
}

/** `params` of a `webhook` action in a rule: templates in the path, query, headers and payload strings. */
export function webhookRuleParamsSchema(options: WebhookRuleParamsOptions = {}) {
  return z.strictObject({
    url: z.string().max(MAX_WEBHOOK_URL_LENGTH).superRefine((url, ctx) => {
      const problem = checkWebhookUrl(url, options.checkUrl);
      if (problem) ctx.addIssue(issue(problem.code, problem.message));
    }),
    method: z.enum(WEBHOOK_METHODS).optional(),
    headers: ruleHeaders.optional(),
    payload: jsonTemplateValue.optional(),
  });
}

/** `params` of a rendered `webhook` command. The gateway checks the destination's addresses itself. */
export const webhookCommandSchema = z.strictObject({
  url: singleLine(MAX_WEBHOOK_URL_LENGTH).superRefine((value, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) ctx.addIssue(issue('invalid_url', 'must be an absolute http(s) URL'));
    else if (url.port === '0') ctx.addIssue(issue('invalid_url', 'port 0 cannot be connected to'));
  }),
  method: z.enum(WEBHOOK_METHODS).optional(),
  headers: headerRecord(renderedHeaderValue, (value) => value.length).optional(),
  payload: boundedJson().optional(),
});
