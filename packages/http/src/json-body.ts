import { formatPath } from '@crm-automation/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';

/*
 * JSON request bodies as every route of this package reads them: UTF-8 only (RFC 8259), each object
 * key once, no `__proto__` / `constructor.prototype` keys. What Fastify's own parser lets through
 * (a `charset=latin1` body decoded as UTF-8 anyway, invalid bytes turned into U+FFFD, a repeated key
 * whose last value silently wins, so that two readers of one body may see different commands) is a
 * typed 415 or 400 with the same `{ error: { code, message, issues? } }` body as every other error.
 */

/** Charsets a JSON body may declare: UTF-8 and its ASCII subset. */
const ACCEPTED_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The `charset` parameter of a Content-Type header, lower-cased and unquoted; undefined when absent. */
export function charsetOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  for (const parameter of contentType.split(';').slice(1)) {
    const separator = parameter.indexOf('=');
    if (separator < 0) continue;
    if (parameter.slice(0, separator).trim().toLowerCase() !== 'charset') continue;
    return parameter.slice(separator + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

type Frame = { kind: 'object'; keys: Set<string>; key: string | undefined; expectingKey: boolean } | { kind: 'array'; index: number };

/**
 * The path of the first object key that appears twice in one object of `text`, which must be valid
 * JSON (it is scanned, not parsed: linear and without recursion, whatever the nesting).
 */
export function findDuplicateKey(text: string): Array<string | number> | undefined {
  const stack: Frame[] = [];
  const length = text.length;
  let i = 0;
  while (i < length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      let end = i + 1;
      let escaped = false;
      while (end < length) {
        const c = text.charCodeAt(end);
        if (c === 0x5c) {
          escaped = true;
          end += 2;
          continue;
        }
        if (c === 0x22) break;
        end += 1;
      }
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectingKey) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (top.keys.has(key)) return [...pathOf(stack.slice(0, -1)), key];
        top.keys.add(key);
        top.key = key;
        top.expectingKey = false;
      }
      i = end + 1;
      continue;
    }
    if (ch === 0x7b) stack.push({ kind: 'object', keys: new Set(), key: undefined, expectingKey: true });
    else if (ch === 0x5b) stack.push({ kind: 'array', index: 0 });
    else if (ch === 0x7d || ch === 0x5d) stack.pop();
    else if (ch === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectingKey = true;
      else if (top?.kind === 'array') top.index += 1;
    }
    i += 1;
  }
  return undefined;
}

function pathOf(frames: readonly Frame[]): Array<string | number> {
  return frames.map((frame) => (frame.kind === 'array' ? frame.index : (frame.key ?? '')));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Replaces the JSON body parser of `app` (its plugin context) with the strict one described above.
 * Other media types are refused with 415 (no parser), as before.
 */
export function useStrictJsonBodies(app: FastifyInstance, bodyLimit?: number | undefined): void {
  // Fastify's own parser with prototype-poisoning protection (`__proto__`, `constructor.prototype` → 400).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', ...(bodyLimit === undefined ? {} : { bodyLimit }) }, (request: FastifyRequest, body: Buffer, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && !ACCEPTED_CHARSETS.has(charset)) {
      done(new HttpError(415, 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(charset.slice(0, 40))} is not accepted: send application/json in UTF-8`), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', 'request body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, text, (error, parsed) => {
      if (error) {
        done(error, undefined);
        return;
      }
      const duplicate = findDuplicateKey(text);
      if (duplicate) {
        const path = formatPath(duplicate);
        const message = `the key ${JSON.stringify(String(duplicate[duplicate.length - 1]).slice(0, 100))} appears twice in one object`;
        done(new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `request body is ambiguous: ${path}: ${message}`, [{ path, code: 'duplicate_key', message }]), undefined);
        return;
      }
      done(null, parsed);
    });
  });
}
