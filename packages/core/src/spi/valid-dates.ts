import { AutomationError } from '../errors.js';
import type { NewTrigger } from '../ports/store.js';

/**
 * A date a store can write and order. An invalid `Date` would be stored as NaN (or refused by a
 * driver half-way through a batch) and compares false both ways, so every store refuses it with
 * `CRM_ERR_CONFIG` before anything is written.
 */
export function requireValidDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) {
    throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a valid Date, got ${value instanceof Date ? 'an invalid Date' : typeof value}`);
  }
  return value;
}

/**
 * Every date and duration of an intake batch a store orders or compares by, checked before anything
 * is written: a bad one found halfway would leave the batch half stored (a pending run superseded, its
 * successor never due). Event timestamps decide supersede, stale and cancel: a NaN would let an older
 * event win.
 */
export function requireValidNewTriggers(batch: readonly NewTrigger[], now: unknown, nowField = 'now'): void {
  requireValidDate(now, nowField);
  for (const input of batch) {
    requireValidDate(input.evaluateAt, 'evaluateAt');
    requireValidDate(input.triggeringEvent?.timestamp, 'triggeringEvent.timestamp');
    const maxWaitMs: unknown = input.concurrency?.mode === 'supersede' ? input.concurrency.maxWaitMs : undefined;
    if (maxWaitMs !== undefined && (typeof maxWaitMs !== 'number' || Number.isNaN(maxWaitMs) || maxWaitMs < 0)) {
      throw new AutomationError('CRM_ERR_CONFIG', `concurrency.maxWaitMs must be a non-negative number, got ${String(maxWaitMs)}`);
    }
  }
}
