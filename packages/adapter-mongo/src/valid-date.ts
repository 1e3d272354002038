import { AutomationError } from '@crm-automation/core';

/**
 * A date the server can store and order. An invalid `Date` would be written as a NaN timestamp (or
 * refused by the driver half-way through a batch), so it is refused before anything is written.
 */
export function requireValidDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) {
    throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a valid Date, got ${value instanceof Date ? 'an invalid Date' : typeof value}`);
  }
  return value;
}
