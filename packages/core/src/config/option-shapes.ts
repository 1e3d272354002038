import { AutomationError } from '../errors.js';
import { describeValueKind } from './check-options.js';

/**
 * What a known option key must hold, checked when a factory is called: a JavaScript caller who passes
 * `channels: 'x'` or `store: {}` gets a `CRM_ERR_CONFIG` naming the key at once, instead of a TypeError
 * from deep inside the engine (or a silent failure of every run) later.
 */
export type OptionShape =
  /** An object with these methods (a port: a store, a bus, a gateway); `false` too when `orFalse`. */
  | { readonly kind: 'port'; readonly what: string; readonly methods: readonly string[]; readonly orFalse?: boolean }
  /** An object whose every value has this shape (`channels`, `operators`, `facts`). */
  | { readonly kind: 'record'; readonly what: string; readonly of: OptionShape }
  | { readonly kind: 'function'; readonly what: string }
  /** A non-empty string; with `allowEmpty`, `''` too (a key where an empty string has always meant "none"). */
  | { readonly kind: 'string'; readonly what: string; readonly allowEmpty?: boolean }
  /** An array of non-empty strings. */
  | { readonly kind: 'strings'; readonly what: string }
  | { readonly kind: 'boolean'; readonly what: string };

function mismatch(shape: OptionShape, value: unknown): string | undefined {
  switch (shape.kind) {
    case 'port': {
      if (value === false && shape.orFalse) return undefined;
      if ((typeof value !== 'object' && typeof value !== 'function') || value === null || Array.isArray(value)) return `got ${describeValueKind(value)}`;
      const missing = shape.methods.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function');
      return missing.length === 0 ? undefined : `it has no ${missing.join(', ')} method${missing.length > 1 ? 's' : ''}`;
    }
    case 'record':
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : `got ${describeValueKind(value)}`;
    case 'function':
      return typeof value === 'function' ? undefined : `got ${describeValueKind(value)}`;
    case 'string':
      if (typeof value !== 'string') return `got ${describeValueKind(value)}`;
      return value.trim() !== '' || (shape.allowEmpty === true && value === '') ? undefined : 'got an empty string';
    case 'strings':
      if (!Array.isArray(value)) return `got ${describeValueKind(value)}`;
      return value.every((item) => typeof item === 'string' && item.trim() !== '') ? undefined : 'it holds a value that is not a non-empty string';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `got ${describeValueKind(value)}`;
  }
}

/** The shape of a `logger` option: pino, or anything with its level methods and `child`. */
export const LOGGER_OPTION_SHAPE: OptionShape = { kind: 'port', what: 'a logger (pino, or anything with debug/info/warn/error/child)', methods: ['debug', 'info', 'warn', 'error', 'child'] };

/**
 * Checks the keys of `options` that `shapes` describes (absent keys and `undefined` are skipped; the
 * unknown keys are {@link checkOptions}' concern). Throws `CRM_ERR_CONFIG` naming the factory, the key
 * (`channels.sms` for a record's entry) and what it must be.
 */
export function checkOptionShapes(factory: string, options: object, shapes: Readonly<Record<string, OptionShape>>): void {
  for (const [key, shape] of Object.entries(shapes)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    checkValue(factory, key, shape, value);
  }
}

function checkValue(factory: string, path: string, shape: OptionShape, value: unknown): void {
  const problem = mismatch(shape, value);
  if (problem !== undefined) {
    const alternative = shape.kind === 'port' && shape.orFalse ? ', or false for none' : '';
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: ${path} must be ${shape.what}${alternative}; ${problem}`);
  }
  if (shape.kind !== 'record') return;
  for (const [entry, item] of Object.entries(value as Record<string, unknown>)) checkValue(factory, `${path}.${entry}`, shape.of, item);
}
