import type { ValidationIssue } from '../errors.js';
import { formatPath } from '../errors.js';

interface ZodLikeIssue {
  readonly code?: string | undefined;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
  readonly params?: Record<string, unknown> | undefined;
}

/** Maps zod issues to ours. A custom check names its code in `params.code`. */
export function toValidationIssues(issues: ReadonlyArray<ZodLikeIssue>, prefix: readonly PropertyKey[] = []): ValidationIssue[] {
  return issues.map((issue) => {
    const custom = issue.params?.['code'];
    return {
      path: formatPath([...prefix, ...issue.path]),
      code: typeof custom === 'string' ? custom : (issue.code ?? 'invalid'),
      message: issue.message,
    };
  });
}
