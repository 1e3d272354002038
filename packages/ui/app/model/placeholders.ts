import { isJsonObject, type JsonValue } from './json.js';

/** A value in a sample payload that a template or condition can refer to. */
export interface Placeholder {
  /** Handlebars path over the payload: `job.client.name`, `job.items.[0].sku`. */
  template: string;
  /** The payload's top-level key: a condition's `fact`. */
  fact: string;
  /** JSONPath inside the fact: `$.client.name`. */
  jsonPath: string;
  /** The sample's value there, for showing next to the placeholder. */
  example: JsonValue;
}

// Handlebars' own ID rule: anything but whitespace and these characters.
const HANDLEBARS_ID = /^[^\s!"#%&'()*+,./;<=>@[\\\]^`{|}~]+$/;
const JSONPATH_NAME = /^[A-Za-z_$][\w$-]*$/;

function templateSegment(key: string | number): string | null {
  if (typeof key === 'number') return `[${key}]`;
  if (HANDLEBARS_ID.test(key) && !/^(true|false|null|undefined|this)$/.test(key) && !/^\d+$/.test(key)) return key;
  // Segment-literal notation; a key containing `]` cannot be written at all.
  return key.includes(']') ? null : `[${key}]`;
}

function jsonPathSegment(key: string | number): string | null {
  if (typeof key === 'number') return `[${key}]`;
  if (JSONPATH_NAME.test(key)) return `.${key}`;
  return /['\\]/.test(key) ? null : `['${key}']`;
}

export interface PlaceholderOptions {
  /** Deepest nesting followed. Default 8. */
  maxDepth?: number | undefined;
  /** Most placeholders returned. Default 300. */
  max?: number | undefined;
  /** Array items followed per array. Default 3. */
  maxItems?: number | undefined;
}

/**
 * Every scalar value in a sample payload, with the Handlebars placeholder and the fact/JSONPath
 * that reach it, in document order. Objects and arrays are walked, not offered themselves.
 */
export function placeholdersFrom(payload: JsonValue, options: PlaceholderOptions = {}): Placeholder[] {
  const maxDepth = options.maxDepth ?? 8;
  const max = options.max ?? 300;
  const maxItems = options.maxItems ?? 3;
  const out: Placeholder[] = [];
  if (!isJsonObject(payload)) return out;

  const walk = (value: JsonValue, fact: string, template: string, jsonPath: string, depth: number): void => {
    if (out.length >= max) return;
    if (Array.isArray(value)) {
      if (depth >= maxDepth) return;
      value.slice(0, maxItems).forEach((item, i) => walk(item, fact, `${template}.[${i}]`, `${jsonPath}[${i}]`, depth + 1));
      return;
    }
    if (isJsonObject(value)) {
      if (depth >= maxDepth) return;
      for (const [key, child] of Object.entries(value)) {
        const t = templateSegment(key);
        const j = jsonPathSegment(key);
        if (t === null || j === null) continue;
        walk(child, fact, `${template}.${t}`, `${jsonPath}${j}`, depth + 1);
      }
      return;
    }
    out.push({ template, fact, jsonPath, example: value });
  };

  for (const [fact, value] of Object.entries(payload)) {
    const t = templateSegment(fact);
    if (t === null) continue;
    walk(value, fact, t, '$', 1);
  }
  return out;
}

/** The facts (top-level keys) of a sample payload. */
export function factsFrom(payload: JsonValue): string[] {
  return isJsonObject(payload) ? Object.keys(payload) : [];
}

/** The placeholders a template already uses: `{{job.number}}` gives `job.number`. */
export function placeholdersIn(template: string): string[] {
  const found: string[] = [];
  for (const match of template.matchAll(/\{\{\{?\s*([^{}\s#/^!>][^{}]*?)\s*\}?\}\}/g)) {
    const path = match[1];
    if (path !== undefined && !found.includes(path)) found.push(path);
  }
  return found;
}

/** Reads a simple JSONPath (`$.a.b`, `$.a[0]`, `$['a b']`) inside a fact of a sample; undefined otherwise. */
export function sampleValueAt(payload: JsonValue | undefined, fact: string, path: string): JsonValue | undefined {
  if (!isJsonObject(payload) || !(fact in payload)) return undefined;
  let current: JsonValue | undefined = payload[fact];
  if (path === '' || path === '$') return current;
  if (!path.startsWith('$')) return undefined;
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    const name = /^\.([A-Za-z_$][\w$-]*)/.exec(rest);
    const index = /^\[(\d+)\]/.exec(rest);
    const quoted = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/.exec(rest);
    let step: string | number;
    let length: number;
    if (name?.[1] !== undefined) [step, length] = [name[1], name[0].length];
    else if (index?.[1] !== undefined) [step, length] = [Number(index[1]), index[0].length];
    else if (quoted) [step, length] = [quoted[1] ?? quoted[2] ?? '', quoted[0].length];
    else return undefined;
    if (typeof step === 'number' ? !Array.isArray(current) : !isJsonObject(current)) return undefined;
    const container = current as Record<string | number, JsonValue>;
    if (!Object.prototype.hasOwnProperty.call(container, step)) return undefined;
    current = container[step];
    i += length;
  }
  return current;
}
