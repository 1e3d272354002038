import { paramsIssues, type ParamsSchema, type ValidationIssue } from '@crm-automation/core';

type ParseResult = ReturnType<ParamsSchema['safeParse']>;
type Issue = NonNullable<ParseResult['error']>['issues'][number];

/**
 * zod reports a bad record key (a reserved or malformed header name) as one `invalid_key` issue that
 * wraps the real one ("Invalid key in record"); unwrapping it keeps the code (`reserved_header`) and
 * message that say what is wrong.
 */
function unwrapKeyIssues(issues: readonly Issue[]): Issue[] {
  return issues.flatMap((issue) => {
    const inner = (issue as { issues?: unknown }).issues;
    if (issue.code !== 'invalid_key' || !Array.isArray(inner) || inner.length === 0) return [issue];
    return (inner as Issue[]).map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
  });
}

/** Every problem of `value` against `schema`, with our codes and paths under `prefix`; empty when valid. */
export function schemaIssues(schema: ParamsSchema, value: unknown, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return paramsIssues({ success: false, error: { issues: unwrapKeyIssues(result.error?.issues ?? []) } }, prefix);
}
