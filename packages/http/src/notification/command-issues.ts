import type { ParamsSchema, ValidationIssue } from '@crm-automation/core';
import { paramsIssues } from '@crm-automation/core/spi';

/**
 * Every problem of `value` against `schema`, with our codes and paths under `prefix`; empty when valid.
 * `paramsIssues` is the one mapping of zod issues (it unwraps a bad record key's `invalid_key` into the
 * key's own code, e.g. `reserved_header`), shared with the channels' send-time check.
 */
export function schemaIssues(schema: ParamsSchema, value: unknown, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  const result = schema.safeParse(value);
  return result.success ? [] : paramsIssues(result, prefix);
}
