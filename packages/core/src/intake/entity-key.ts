import { resolvePath } from '../rules/json-path.js';

/** Longest entity key a trigger stores; a longer value is not a usable key. */
export const MAX_ENTITY_KEY_LENGTH = 256;

/**
 * The entity key at `path` in an event payload: a non-empty string (at most
 * {@link MAX_ENTITY_KEY_LENGTH} characters) or a finite number, kept as a string; undefined for
 * anything else (absent, null, an object, a path too costly to resolve).
 */
export function entityKeyOf(payload: Record<string, unknown>, path: string): string | undefined {
  let value: unknown;
  try {
    value = resolvePath(payload, path);
  } catch {
    return undefined;
  }
  if (typeof value === 'string') return value.length > 0 && value.length <= MAX_ENTITY_KEY_LENGTH ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
