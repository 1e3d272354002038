import { AutomationError } from '@crm-automation/core';

/**
 * Schema names the adapter accepts: lowercase, so operators can type them in psql without quotes,
 * and short enough that the derived NOTIFY channel (`<schema>_due`) stays within PostgreSQL's
 * 63-byte identifier limit.
 */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,47}$/;

export const DEFAULT_SCHEMA = 'crm_automation';

export function checkSchemaName(factory: string, schema: unknown): string {
  if (schema === undefined) return DEFAULT_SCHEMA;
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory}: schema must match ${SCHEMA_PATTERN.source} (lowercase letters, digits and _, at most 48 characters), got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** The channel intake notifies with the earliest new due time, and `watchDue` listens on. */
export const dueChannelOf = (schema: string) => `${schema}_due`;
