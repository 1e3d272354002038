import { AutomationError } from '@crm-automation/core';

/**
 * The instants the store writes: years 1 to 9999, the range PostgreSQL's `timestamptz` and the
 * four-digit ISO-8601 form of `Date#toISOString` share (a later year would be `+010000-...`, which
 * PostgreSQL does not parse).
 */
const MIN_MS = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** A date as the ISO text the statements cast to `timestamptz`; refuses anything else with CRM_ERR_CONFIG. */
export function timestampParam(value: unknown, field: string): string {
  if (!(value instanceof Date)) throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a valid Date, got ${value === null ? 'null' : typeof value}`);
  const ms = value.getTime();
  if (!Number.isFinite(ms)) throw new AutomationError('CRM_ERR_CONFIG', `${field} must be a valid Date, got an invalid Date`);
  if (ms < MIN_MS || ms > MAX_MS) throw new AutomationError('CRM_ERR_CONFIG', `${field} must be between the years 1 and 9999, got ${value.toISOString()}`);
  return value.toISOString();
}
