import type { ValidationIssue } from '../errors.js';
import { formatPath } from '../errors.js';

export interface ZodLikeIssue {
  readonly code?: string | undefined;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
  readonly params?: Record<string, unknown> | undefined;
  /** zod's `invalid_key` (a record key failed its schema) nests the key's own issues here. */
  readonly issues?: ReadonlyArray<ZodLikeIssue> | undefined;
}

/**
 * Replaces zod's wrapper issues with the issues they wrap: a record key that failed its schema
 * (`invalid_key`, "Invalid key in record") becomes the key's own problem (`reserved_header`, ...)
 * at the key's path.
 */
export function expandIssues<I extends ZodLikeIssue>(issues: ReadonlyArray<I>): ZodLikeIssue[] {
  const out: ZodLikeIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_key' && issue.issues && issue.issues.length > 0) {
      for (const inner of expandIssues(issue.issues)) out.push({ ...inner, path: [...issue.path, ...inner.path] });
    } else {
      out.push(issue);
    }
  }
  return out;
}

/** Maps zod issues to ours. A custom check names its code in `params.code`. */
export function toValidationIssues(issues: ReadonlyArray<ZodLikeIssue>, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return expandIssues(issues).map((issue) => {
    const custom = issue.params?.['code'];
    return {
      path: formatPath([...prefix, ...issue.path]),
      code: typeof custom === 'string' ? custom : (issue.code ?? 'invalid'),
      message: issue.message,
    };
  });
}
