import { AutomationError } from '../errors.js';
import { checkTemplateSource, compileTemplate, parseTemplate, type RenderTemplate } from './templates.js';

export interface UrlProblem {
  code: string;
  message: string;
}

/** A webhook URL template, split the way Handlebars reads it: literal text and inserted values. */
type UrlPart = { kind: 'text'; text: string } | { kind: 'value'; source: string };

// Stands in for every inserted value when the URL is parsed at save time: lower-case letters and
// digits survive the WHATWG parser's host normalisation, so finding it in the host proves a template
// could reach the host.
const SENTINEL = 'crm0tpl0value';

interface Loc {
  start: { line: number; column: number };
  end: { line: number; column: number };
}

function offsets(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') starts.push(i + 1);
  return starts;
}

/**
 * Splits a URL template into text and values from Handlebars' own parse, so comments (`{{!}}`),
 * whitespace control and escapes are read exactly as rendering will read them. URLs may insert values
 * (`{{job.id}}`, `{{lookup job "id"}}`), not blocks.
 */
function splitUrlTemplate(raw: string): UrlPart[] | UrlProblem {
  if (!raw.includes('{{')) return [{ kind: 'text', text: raw }];
  const problem = checkTemplateSource(raw);
  if (problem) return problem;
  const ast = parseTemplate(raw);
  const lines = offsets(raw);
  const at = (p: { line: number; column: number }) => (lines[p.line - 1] ?? 0) + p.column;
  const parts: UrlPart[] = [];
  for (const node of (ast['body'] as Array<Record<string, unknown>>) ?? []) {
    switch (node['type']) {
      case 'ContentStatement':
        parts.push({ kind: 'text', text: String(node['value'] ?? '') });
        break;
      case 'CommentStatement':
        break;
      case 'MustacheStatement': {
        const loc = node['loc'] as Loc | undefined;
        if (!loc) return { code: 'invalid_url', message: 'could not read the URL template' };
        parts.push({ kind: 'value', source: raw.slice(at(loc.start), at(loc.end)) });
        break;
      }
      default:
        return { code: 'template_syntax', message: 'webhook URLs may insert values ({{job.id}}), not blocks such as {{#if}}' };
    }
  }
  return parts;
}

/**
 * Save-time check of a webhook URL. The URL is parsed the way the WHATWG URL parser (what fetch uses)
 * will parse it at send time, with every inserted value replaced by a marker: templates may appear in
 * the path, query and fragment, never in the scheme, credentials, host or port, so the destination is
 * fixed when the rule is saved. `extra` is the SSRF check of the literal destination.
 */
export function checkWebhookUrl(raw: string, extra?: ((url: URL) => string | null) | undefined): UrlProblem | null {
  const markdown = /^\[([^\]]*)\]\(([^)]*)\)$/.exec(raw.trim());
  if (markdown) {
    return {
      code: 'invalid_url',
      message: `looks like a Markdown link; write the plain URL (${JSON.stringify(markdown[2] ?? markdown[1])})`,
    };
  }
  const parts = splitUrlTemplate(raw);
  if (!Array.isArray(parts)) return parts;
  const probe = parts.map((p) => (p.kind === 'text' ? p.text : SENTINEL)).join('');
  let url: URL;
  try {
    url = new URL(probe);
  } catch {
    return { code: 'invalid_url', message: 'must be an absolute http(s) URL with a literal host (templates only in the path and query)' };
  }
  if (url.protocol.includes(SENTINEL) || url.hostname.includes(SENTINEL) || url.port.includes(SENTINEL) || url.username.includes(SENTINEL) || url.password.includes(SENTINEL)) {
    return { code: 'invalid_url', message: 'templates are allowed in the path and query only, not in the scheme or host' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { code: 'invalid_url', message: `scheme "${url.protocol.replace(':', '')}" is not allowed; use http or https` };
  }
  // A DNS name (IDNs arrive in punycode) or an IP literal; anything else (braces of an escaped
  // `\{{...}}`, say) is no host a request can reach.
  if (!HOST_PATTERN.test(url.hostname)) {
    return { code: 'invalid_url', message: `${JSON.stringify(url.hostname.slice(0, 100))} is not a host name` };
  }
  if (url.username || url.password) {
    return { code: 'invalid_url', message: 'credentials in the URL are not allowed; use headers' };
  }
  // The URL parser accepts port 0, which no connection can reach: every send would fail.
  if (url.port === '0') return { code: 'invalid_url', message: 'port 0 cannot be connected to; name the port the receiver listens on' };
  const refused = extra?.(url);
  return refused ? { code: 'blocked_address', message: refused } : null;
}

// Dot-separated labels (unambiguous, so linear on any input), or a bracketed IPv6 literal.
const HOST_PATTERN = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$|^\[[0-9a-f:.]+\]$/;

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** A value percent-encoded for any part of a URL; text that is not well-formed Unicode is a render failure. */
function encodeUrlValue(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new AutomationError('CRM_ERR_RENDER', 'a value inserted into the webhook URL is not well-formed Unicode (a lone surrogate); it cannot be percent-encoded');
  }
}

/** Start of the path in a rendered absolute URL (after `scheme://authority`), or -1. */
function pathStart(url: string): number {
  const scheme = /^[a-z][a-z0-9+.-]*:[\\/]*/i.exec(url);
  if (!scheme) return -1;
  for (let i = scheme[0].length; i < url.length; i++) {
    const ch = url[i];
    if (ch === '/' || ch === '\\' || ch === '?' || ch === '#') return i;
  }
  return url.length;
}

/**
 * The path segment that inserted values made a problem of, or null. A segment the URL parser would
 * resolve (`.`, `..`, `%2e`, ...) climbs out of the saved path; an empty one (`/jobs//cancel`, a
 * trailing `/jobs/`) names another endpoint, as many servers merge `//`. Either is refused when an
 * inserted value touches the segment, empty values included; text of the template alone never is.
 */
function touchedBadSegment(url: string, inserted: ReadonlyArray<readonly [number, number]>): string | null {
  const start = pathStart(url);
  if (start < 0 || start >= url.length) return null;
  const queryAt = url.slice(start).search(/[?#]/);
  const pathEnd = queryAt < 0 ? url.length : start + queryAt;
  if (pathEnd === start) return null;
  let segmentStart = start + 1;
  for (let i = segmentStart; i <= pathEnd; i++) {
    const ch = url[i];
    if (i < pathEnd && ch !== '/' && ch !== '\\') continue;
    const segment = url.slice(segmentStart, i);
    // Inclusive bounds: an empty value at either edge of the segment still made it what it is.
    if ((segment === '' || DOT_SEGMENT.test(segment)) && inserted.some(([a, b]) => a <= i && b >= segmentStart)) return segment;
    segmentStart = i + 1;
  }
  return null;
}

/**
 * Compiles a webhook URL template. Every inserted value is percent-encoded, so event data cannot add a
 * query, a fragment or path separators; and a value that would make a whole path segment `.`, `..`
 * (which the URL parser resolves, climbing out of the saved path) or empty fails the render instead.
 */
export function compileUrlTemplate(raw: string): RenderTemplate {
  const parts = splitUrlTemplate(raw);
  if (!Array.isArray(parts)) throw new AutomationError('CRM_ERR_RENDER', `webhook URL template is not valid: ${parts.message}`);
  const compiled: Array<string | RenderTemplate> = parts.map((p) => (p.kind === 'text' ? p.text : compileTemplate(p.source)));
  if (compiled.every((p) => typeof p === 'string')) {
    const fixed = compiled.join('');
    return () => fixed;
  }
  return (payload) => {
    let out = '';
    const inserted: Array<[number, number]> = [];
    for (const part of compiled) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = encodeUrlValue(part(payload));
      inserted.push([out.length, out.length + value.length]);
      out += value;
    }
    const segment = touchedBadSegment(out, inserted);
    if (segment !== null) {
      throw new AutomationError(
        'CRM_ERR_RENDER',
        segment === ''
          ? 'a value inserted into the webhook URL is empty and leaves an empty path segment, which would name another endpoint'
          : `a value inserted into the webhook URL makes the path segment ${JSON.stringify(segment)}, which would leave the saved path`,
      );
    }
    return out;
  };
}
