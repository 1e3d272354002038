import { randomBytes } from 'node:crypto';
import type { Page } from '../rules/rule.js';

const ID_PATTERN = /^[0-9a-f]{24}$/;
const PROCESS_PART = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

/**
 * Ids of the memory stores: 24 hex characters (time, process, counter), increasing within a process,
 * so listing in id order is listing in creation order. Opaque to the engine.
 */
export function newMemoryId(now: number): string {
  counter = (counter + 1) % 0xffffff;
  return Math.floor(now / 1000).toString(16).padStart(8, '0') + PROCESS_PART + counter.toString(16).padStart(6, '0');
}

/** True for ids the memory stores could have issued; anything else is simply not found. */
export const isMemoryId = (id: unknown): id is string => typeof id === 'string' && ID_PATTERN.test(id);

export function clampLimit(limit: number | undefined, fallback = 50, max = 500): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

export function paginate<T extends { id: string }>(sorted: T[], limit: number): Page<T> {
  const items = sorted.slice(0, limit);
  const last = items[items.length - 1];
  return sorted.length > limit && last ? { items, nextCursor: last.id } : { items };
}
